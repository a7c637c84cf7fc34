"""course/schedules.py against keras.optimizers.schedules (book/optimizers/schedules.md).

Given float64 hyperparameters, each Keras schedule computes in float64; the hand-written
schedules then agree with it at every step to float64 round-off. Measured: at most
2.8e-16 of the peak rate (one unit in the last place), so the bound is 4 units.
"""

import math

import numpy as np
import pytest

from course import schedules

EPS = np.finfo(np.float64).eps
TOLERANCE = 4 * EPS          # of the largest rate of the schedule
NUM_STEPS = 700              # past the end of every schedule below
f64 = np.float64


@pytest.fixture(scope="module")
def keras_schedules():
    keras = pytest.importorskip("keras")
    return keras.optimizers.schedules


def settings(ks):
    """(name, hand-written schedule, Keras schedule) pairs, float64 throughout."""
    return [
        ("piecewise, 2 boundaries",
         schedules.step_decay([200, 400], [0.3, 0.1, 0.03]),
         ks.PiecewiseConstantDecay([200, 400], [f64(0.3), f64(0.1), f64(0.03)])),
        ("piecewise, 1 boundary",
         schedules.step_decay([100], [0.1, 0.01]),
         ks.PiecewiseConstantDecay([100], [f64(0.1), f64(0.01)])),
        ("exponential",
         schedules.exponential_decay(0.3, 600, 0.1),
         ks.ExponentialDecay(f64(0.3), 600, f64(0.1))),
        ("exponential, staircase",
         schedules.exponential_decay(0.1, 50, 0.7, staircase=True),
         ks.ExponentialDecay(f64(0.1), 50, f64(0.7), staircase=True)),
        ("inverse time",
         schedules.inverse_time_decay(0.2, 100, 0.5),
         ks.InverseTimeDecay(f64(0.2), 100, f64(0.5))),
        ("inverse time, staircase",
         schedules.inverse_time_decay(0.2, 100, 0.5, staircase=True),
         ks.InverseTimeDecay(f64(0.2), 100, f64(0.5), staircase=True)),
        ("cosine",
         schedules.warmup_cosine_decay(0.1, 600),
         ks.CosineDecay(f64(0.1), 600)),
        ("cosine, alpha",
         schedules.warmup_cosine_decay(0.1, 500, alpha=0.05),
         ks.CosineDecay(f64(0.1), 500, alpha=f64(0.05))),
        ("warm-up from 0 + cosine",
         schedules.warmup_cosine_decay(0.0, 540, warmup_target=0.3, warmup_steps=60),
         ks.CosineDecay(f64(0.0), 540, warmup_target=f64(0.3), warmup_steps=60)),
        ("warm-up from 0.01 + cosine, alpha",
         schedules.warmup_cosine_decay(0.01, 400, alpha=0.1, warmup_target=1.0,
                                       warmup_steps=100),
         ks.CosineDecay(f64(0.01), 400, alpha=f64(0.1), warmup_target=f64(1.0),
                        warmup_steps=100)),
    ]


def keras_rates(keras_schedule, steps):
    values = [keras_schedule(t) for t in steps]
    assert all(np.asarray(v).dtype == np.float64 for v in values[:3]), "not float64"
    return np.array([float(v) for v in values])


def worst_gap(hand, keras_schedule, steps=range(NUM_STEPS)):
    ours = np.array([hand(t) for t in steps])
    theirs = keras_rates(keras_schedule, steps)
    return np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))


@pytest.mark.slow  # about 10 s: Keras evaluates a schedule eagerly, ~1 ms per step
def test_every_schedule_equals_keras_at_every_step(keras_schedules):
    gaps = {name: worst_gap(hand, theirs)
            for name, hand, theirs in settings(keras_schedules)}
    too_far = {name: gap for name, gap in gaps.items() if gap > TOLERANCE}
    assert not too_far, f"differ from Keras by more than 4 ulp of the peak: {too_far}"


@pytest.mark.slow  # a few seconds: Keras schedules evaluated eagerly
def test_the_comparison_detects_an_off_by_one_step(keras_schedules):
    """The check can fail: counting steps from 1 instead of 0 is caught."""
    # every 5th step, and the last step before each boundary of the step-like ones
    steps = sorted(set(range(0, NUM_STEPS, 5)) | {k * 50 - 1 for k in range(1, 14)})
    for name, hand, theirs in settings(keras_schedules):
        def shifted(t, hand=hand):
            return hand(t + 1)

        assert worst_gap(shifted, theirs, steps) > 1e3 * TOLERANCE, name


def test_piecewise_changes_just_after_each_boundary(keras_schedules):
    hand = schedules.step_decay([100], [0.1, 0.01])
    assert (hand(100), hand(101)) == (0.1, 0.01)
    theirs = keras_schedules.PiecewiseConstantDecay([100], [f64(0.1), f64(0.01)])
    assert (float(theirs(100)), float(theirs(101))) == (0.1, 0.01)


def test_warmup_then_cosine_shape():
    schedule = schedules.warmup_cosine_decay(0.0, 540, warmup_target=0.3, warmup_steps=60)
    assert schedule(0) == 0.0 and schedule(30) == pytest.approx(0.15, abs=1e-15)
    assert schedule(60) == pytest.approx(0.3, abs=1e-15)
    assert schedule(60 + 270) == pytest.approx(0.15, abs=1e-15)
    assert schedule(600) == pytest.approx(0.0, abs=1e-15) == schedule(10_000)


def test_exponential_staircase_steps_by_the_rate():
    schedule = schedules.exponential_decay(0.1, 50, 0.7, staircase=True)
    assert schedule(49) == 0.1 and schedule(50) == pytest.approx(0.07, rel=1e-15)
    assert math.isclose(schedule(120), 0.1 * 0.7 ** 2, rel_tol=1e-15)


def test_step_decay_rejects_mismatched_lists():
    with pytest.raises(ValueError, match="one value more than boundaries"):
        schedules.step_decay([100, 200], [0.1, 0.01])
    with pytest.raises(ValueError, match="must increase"):
        schedules.step_decay([200, 100], [0.1, 0.01, 0.001])


def test_rates_counts_steps_from_zero():
    rates = schedules.rates(schedules.exponential_decay(1.0, 1, 0.5), 4)
    assert rates.dtype == np.float64 and list(rates) == [1.0, 0.5, 0.25, 0.125]


@pytest.mark.slow  # two 30-epoch trainings, about 5 s
def test_the_loop_uses_the_rate_of_each_step_like_keras(keras_schedules):
    """The hand loop asks the schedule for step t = updates so far, as Keras does;
    the two trainings agree to float32 precision (Keras's schedule runs in float32
    when given Python floats: rates 1e-7 apart, weights measured 1e-6 apart)."""
    keras = pytest.importorskip("keras")
    hand = schedules.warmup_cosine_decay(0.0, 100, warmup_target=0.3, warmup_steps=20)
    theirs = keras_schedules.CosineDecay(0.0, 100, warmup_target=0.3, warmup_steps=20)
    ours = schedules.train_iris_sgd(hand, epochs=30)
    by_keras = schedules.train_iris_sgd(
        None, epochs=30, keras_optimizer=keras.optimizers.SGD(learning_rate=theirs))
    assert np.array_equal(ours["rates"], schedules.rates(hand, 120))
    # float32 cosine: measured 1.2e-8 apart at most, i.e. 4e-8 of the peak 0.3
    np.testing.assert_allclose(by_keras["rates"], ours["rates"], rtol=0, atol=1e-7)
    for a, b in zip(ours["params"], by_keras["params"]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    assert ours["loss"][-1] < ours["loss"][0]


def test_many_runs_at_once_equal_one_run_at_a_time():
    """train_iris_many stacks the runs of several schedules and starts; each equals the
    single float64 run of course.loop.train_numpy from its start, at its rate."""
    import tensorflow as tf

    from course.loop import init_params, train_numpy

    def start(seed):
        tf.random.set_seed(116)
        return [p.numpy() for p in init_params(seed)]

    rates = {"0.1": lambda k: 0.1, "0.5": lambda k: 0.5}
    many = schedules.train_iris_many(rates, [start(1), start(2)], epochs=20)
    for name, lr in [("0.1", 0.1), ("0.5", 0.5)]:
        for row, seed in enumerate([1, 2]):
            alone = train_numpy(lr=lr, epochs=20, seed=seed)
            # the same float64 operations, stacked: measured equal to 1e-16
            np.testing.assert_allclose(many[name]["loss"][row], alone["loss"], rtol=1e-12)
            assert many[name]["accuracy"][row] == alone["accuracy"][-1]


def test_many_runs_take_each_schedule_at_each_update():
    """A schedule that stops training after 4 updates freezes the loss from epoch 2."""
    import tensorflow as tf

    from course.loop import init_params

    tf.random.set_seed(116)
    start = [p.numpy() for p in init_params(1)]
    many = schedules.train_iris_many({"stop": schedules.step_decay([3], [0.5, 0.0])},
                                     [start], epochs=4)
    loss = many["stop"]["loss"][0]
    assert loss[1] < loss[0] and loss[1] == loss[2] == loss[3]
