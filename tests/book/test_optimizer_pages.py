"""Facts that the optimizer pages (book/optimizers/*.md) state in their prose.

The pages compute their numbers at build time; these tests pin the claims the text
makes about those numbers, so that a change in a helper that would make a page wrong
fails here. Every 2-D figure runs Keras's own optimizers (course.trajectories).
"""

import numpy as np
import pytest
import tensorflow as tf

from course.trajectories import (
    QUADRATIC,
    ROSENBROCK,
    SADDLE,
    animate_paths,
    final_value,
    hyperparams,
    run,
    trajectory,
)


def _steps(name, **overrides):
    return hyperparams(name, **overrides)


def _constant(value):
    return lambda step, point: tf.fill(tf.shape(point), tf.constant(value, tf.float64))


def test_a_run_that_blows_up_stops_with_nan_rows():
    path = trajectory("sgd", _steps("sgd", lr=5.0), QUADRATIC, 100)
    assert path.shape == (101, 2)
    assert np.isnan(path[-1]).all() and np.isfinite(path[1]).all()
    assert final_value("sgd", _steps("sgd", lr=5.0), QUADRATIC, 100) == np.inf


def test_animation_has_the_requested_number_of_frames():
    paths = {name: trajectory(name, _steps(name, lr=0.01), ROSENBROCK, 50)
             for name in ["sgd", "adam"]}
    animation = animate_paths(ROSENBROCK, paths, "test", frames=10)
    assert len(list(animation.new_frame_seq())) == 10


# --- sgd.md -------------------------------------------------------------------------


def test_sgd_on_the_bowl_is_stable_below_half_and_diverges_above():
    def values(lr):
        path = trajectory("sgd", _steps("sgd", lr=lr), QUADRATIC, 30)
        return QUADRATIC.f(path[:, 0], path[:, 1])

    assert values(0.45)[-1] < values(0.1)[-1] < values(0.1)[0]
    diverging = values(0.52)
    assert diverging[-1] > 10 * diverging[0]


# --- momentum.md ----------------------------------------------------------------------


def _step_lengths(name, **hp):
    path = run(name, _steps(name, **hp), _constant(1.0), [0.0], 200)
    return np.abs(np.diff(path[:, 0]))


def test_momentum_forms_under_a_constant_gradient():
    """The notes' form settles at eta, Keras's at eta / (1 - mu)."""
    assert _step_lengths("momentum_ema", lr=0.1, beta=0.9)[-1] == pytest.approx(0.1)
    assert _step_lengths("momentum", lr=0.1, momentum=0.9)[-1] == pytest.approx(1.0)


def test_the_notes_momentum_is_keras_momentum_with_a_scaled_learning_rate():
    """The notes' moving average, written out, against Keras's SGD with lr * (1 - beta)."""
    lr, beta = 0.3, 0.8
    w, m = np.array(QUADRATIC.start), np.zeros(2)
    notes = [w]
    for _ in range(50):
        m = beta * m + (1 - beta) * QUADRATIC.grad(*w)
        w = w - lr * m
        notes.append(w)
    keras = trajectory("momentum_ema", _steps("momentum_ema", lr=lr, beta=beta),
                       QUADRATIC, 50)
    # Keras holds lr * (1 - beta) and beta in float32: ~1e-8 relative
    np.testing.assert_allclose(keras, notes, rtol=1e-6, atol=1e-7)


def test_momentum_on_the_bowl():
    def final(name, **hp):
        path = trajectory(name, _steps(name, **hp), QUADRATIC, 60)
        return QUADRATIC.f(*path[-1])

    sgd = final("sgd", lr=0.45)
    assert final("momentum", lr=0.5, momentum=0.5) < 1e-15 < 1e-6 * sgd
    assert final("momentum", lr=0.1, momentum=0.9) > sgd


# --- nesterov.md ----------------------------------------------------------------------


def test_keras_nesterov_stores_the_look_ahead_point():
    lr, mu = 0.1, 0.9
    w, v = np.array(QUADRATIC.start), np.zeros(2)
    lookahead = [w + mu * v]
    for _ in range(60):
        v = mu * v - lr * QUADRATIC.grad(*(w + mu * v))
        w = w + v
        lookahead.append(w + mu * v)
    keras_form = trajectory("nesterov", _steps("nesterov", lr=lr, momentum=mu),
                            QUADRATIC, 60)
    # Keras holds lr and mu in float32: ~1e-8 relative per step, ~3e-7 after 60 steps
    np.testing.assert_allclose(keras_form, lookahead, rtol=1e-6, atol=1e-6)


def test_nesterov_ends_far_lower_than_momentum_on_the_bowl():
    ends = {name: QUADRATIC.f(*trajectory(name, _steps(name, lr=0.1, momentum=0.9),
                                          QUADRATIC, 60)[-1])
            for name in ["momentum", "nesterov"]}
    assert ends["nesterov"] * 10 < ends["momentum"]


# --- adagrad.md, rmsprop.md, adam.md: the notes' missing epsilon ----------------------


def test_the_notes_adaptive_rules_give_nan_for_a_zero_gradient_and_keras_does_not():
    g = tf.constant([0.5, 0.0])
    notes_steps = {
        "adagrad": 0.1 * g / tf.sqrt(tf.square(g)),
        "rmsprop": 0.1 * g / tf.sqrt(0.1 * tf.square(g)),
        "adam": 0.1 * (0.1 * g / 0.1) / tf.sqrt(0.001 * tf.square(g) / 0.001),
    }
    for name, step in notes_steps.items():
        assert np.isnan(step.numpy()[1]) and np.isfinite(step.numpy()[0]), name
    for keras_opt in [tf.keras.optimizers.Adagrad(), tf.keras.optimizers.RMSprop(),
                      tf.keras.optimizers.Adam()]:
        w = tf.Variable([1.0, 1.0])
        keras_opt.apply_gradients([(g, w)])
        assert np.isfinite(w.numpy()).all() and w.numpy()[1] == 1.0


# --- adagrad.md -----------------------------------------------------------------------


def test_adagrad_first_step_with_and_without_the_initial_accumulator():
    def gradient(step, w):
        return tf.constant([0.5, 0.01], tf.float64)

    notes = run("adagrad", _steps("adagrad", lr=0.1, initial_accumulator=0.0), gradient,
                [0.0, 0.0], 1)[1]
    keras = run("adagrad", _steps("adagrad", lr=0.1), gradient, [0.0, 0.0], 1)[1]
    np.testing.assert_allclose(notes, [-0.1, -0.1], rtol=1e-3)
    assert notes[1] / keras[1] == pytest.approx(np.sqrt(0.1) / 0.01, rel=1e-3)  # ~30x


def _steps_to_escape(path):
    return int(np.argmax(np.abs(path[:, 1]) >= 1))


def test_the_saddle_claim_as_the_adagrad_page_measures_it():
    sgd = trajectory("sgd", _steps("sgd", lr=0.1), SADDLE, 60)
    keras = trajectory("adagrad", _steps("adagrad", lr=0.1), SADDLE, 60)
    notes = trajectory("adagrad", _steps("adagrad", lr=0.1, initial_accumulator=0.0),
                       SADDLE, 60)
    # true at first: Adagrad leaves the ridge sooner, with s0 = 0 sooner still
    assert 0 < _steps_to_escape(notes) < _steps_to_escape(keras) < _steps_to_escape(sgd)
    # false later: after 60 steps SGD is far ahead
    assert sgd[-1, 1] > 10 * max(keras[-1, 1], notes[-1, 1])
    # false on the ridge: nobody leaves y = 0; without epsilon, NaN
    for name, hp in [("sgd", {}), ("adagrad", {}),
                     ("adagrad", dict(initial_accumulator=0.0))]:
        on_ridge = trajectory(name, _steps(name, lr=0.1, **hp), SADDLE, 60,
                              start=(1.0, 0.0))
        assert np.all(on_ridge[:, 1] == 0), name
    no_eps = trajectory("adagrad", _steps("adagrad", lr=0.1, initial_accumulator=0.0,
                                          eps=0.0), SADDLE, 5, start=(1.0, 0.0))
    assert np.isnan(no_eps[1]).all()


# --- rmsprop.md -----------------------------------------------------------------------


def test_rmsprop_forgets_and_adagrad_does_not():
    def lengths(name):
        def size(step, w):
            return tf.cast(tf.where(step < 100, 1.0, 0.01), w.dtype) * tf.ones_like(w)

        path = run(name, _steps(name, lr=0.1), size, [0.0], 200)
        return np.abs(np.diff(path[:, 0]))

    adagrad, rmsprop = lengths("adagrad"), lengths("rmsprop")
    assert adagrad[100] < adagrad[99] / 99 and np.all(np.diff(adagrad) < 0)
    assert rmsprop[-1] > 0.5 * 0.1
    assert rmsprop[0] == pytest.approx(0.1 / np.sqrt(1 - 0.9), rel=1e-5)


# --- adadelta.md ----------------------------------------------------------------------


def test_adadelta_learning_rate_and_epsilon():
    def final(lr, eps):
        hp = _steps("adadelta", lr=lr, eps=eps)
        return final_value("adadelta", hp, QUADRATIC, 500)

    f0 = QUADRATIC.f(*QUADRATIC.start)
    assert final(0.001, 1e-7) > 0.99 * f0  # Keras's defaults hardly move
    assert final(1.0, 1e-4) < final(1.0, 1e-6) < final(1.0, 1e-7) < 0.5 * f0
    first = run("adadelta", _steps("adadelta", lr=1.0), _constant(1.0), [0.0], 1)
    assert abs(first[1, 0]) == pytest.approx(np.sqrt(1e-7 / 0.05), rel=1e-3)


# --- adam.md --------------------------------------------------------------------------


def test_keras_adam_is_the_paper_with_a_step_dependent_epsilon():
    lr, beta1, beta2, eps, g = 0.1, 0.9, 0.999, 1e-3, 1e-3
    keras = run("adam", _steps("adam", lr=lr, eps=eps), _constant(g), [0.0], 3)
    paper = paper_t = m = v = 0.0
    for t in range(1, 4):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        paper -= lr * m_hat / (np.sqrt(v_hat) + eps)
        paper_t -= lr * m_hat / (np.sqrt(v_hat) + eps / np.sqrt(1 - beta2**t))
        # Keras stores beta2 in float32, so 1 - beta2**t is off by ~1e-5 relative
        assert keras[t, 0] == pytest.approx(paper_t, rel=1e-4)
        if t == 1:
            assert paper / keras[1, 0] > 15  # the page: "16 times apart"


def test_adam_bias_correction_figure():
    t = np.arange(1, 3001)
    uncorrected = (1 - 0.9**t) / np.sqrt(1 - 0.999**t)
    assert uncorrected.max() == pytest.approx(6.6, abs=0.05)
    assert uncorrected.argmax() == 11  # t = 12
    path = run("adam", _steps("adam"), _constant(1.0), [0.0], 50)
    np.testing.assert_allclose(np.abs(np.diff(path[:, 0])), 0.001, rtol=1e-3)


# --- comparison.md --------------------------------------------------------------------


def test_two_dimensional_claims_of_the_comparison_page():
    bowl = {n: final_value(n, _steps(n, lr=lr), QUADRATIC, 100)
            for n, lr in dict(sgd=0.4, adadelta=1.0).items()}
    assert bowl["adadelta"] > 2 > 1e-6 > bowl["sgd"]

    saddle = {n: trajectory(n, _steps(n, lr=0.1), SADDLE, 40)
              for n in ["sgd", "adagrad", "rmsprop", "adam", "adadelta", "momentum"]}
    fast = max(_steps_to_escape(saddle[n]) for n in ["rmsprop", "adam"])
    assert 0 < fast < min(_steps_to_escape(saddle[n]) for n in ["sgd", "adagrad"])
    assert abs(saddle["adadelta"][-1, 1]) < 0.1
    assert abs(saddle["momentum"][-1, 1]) > 1e3

    valley = {n: final_value(n, _steps(n, lr=lr), ROSENBROCK, 1000)
              for n, lr in dict(sgd=0.001, momentum=0.0005, adam=0.05).items()}
    assert valley["sgd"] > 1 and valley["momentum"] < 0.01 and valley["adam"] < 0.01

@pytest.mark.slow
def test_iris_ranking_of_the_comparison_page():
    from course.keras_rules import keras_optimizer
    from course.loop import IRIS_LEARNING_RATES, train

    final = {n: train(keras_optimizer(n, lr=lr)) for n, lr in IRIS_LEARNING_RATES.items()}
    loss = {n: h["loss"][-1] for n, h in final.items()}
    assert all(h["accuracy"][-1] == 1.0 for h in final.values())
    assert min(loss, key=loss.get) == "adam" and max(loss, key=loss.get) == "adadelta"
    ranking = ["adam", "momentum", "nesterov", "rmsprop", "sgd"]
    assert [loss[n] for n in ranking] == sorted(loss[n] for n in ranking)
    assert abs(loss["adagrad"] - loss["sgd"]) < 0.1 * loss["sgd"]
