"""course.loop: eager, compiled, swept and NumPy loops compute the same numbers.

book/optimizers/fast-loop.md times these loops against each other and
book/optimizers/comparison.md trains every optimizer with them, so both pages rest
on these checks.
"""

import numpy as np
import pytest
import tensorflow as tf

from course.loop import (
    batch_gradients,
    init_params,
    make_batches,
    mse_loss,
    sweep,
    train,
    train_notes,
    train_numpy,
)
from course.keras_rules import keras_optimizer


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_eager_step_and_epoch_compilation_agree_bit_for_bit(name):
    eager, step, epoch = (train(keras_optimizer(name, lr=0.1), epochs=15, compiled=mode)
                          for mode in (False, "step", True))
    assert eager["loss"] == step["loss"] == epoch["loss"]
    assert eager["accuracy"] == step["accuracy"] == epoch["accuracy"]
    for a, b in zip(eager["params"], epoch["params"]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_notes_loop_is_the_eager_loop():
    """fast-loop.md and the benchmark time train_notes as the notes' baseline."""
    notes = train_notes(lr=0.1, epochs=5)
    eager = train(keras_optimizer("sgd", lr=0.1), epochs=5, compiled=False)
    np.testing.assert_allclose(notes["loss"], eager["loss"], rtol=1e-6)
    assert notes["accuracy"] == eager["accuracy"]
    for a, b in zip(notes["params"], eager["params"]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_epoch_loss_is_the_mean_of_the_batch_losses():
    """The notes' loss_all / 4, with the SGD update done by hand."""
    history = train(keras_optimizer("sgd", lr=0.1), epochs=1, compiled=False)
    tf.random.set_seed(116)
    w1, b1 = init_params(1)
    batch_losses = []
    for x, y in make_batches()[0]:
        with tf.GradientTape() as tape:
            loss = mse_loss([w1, b1], x, y)
        grad_w, grad_b = tape.gradient(loss, [w1, b1])
        w1.assign_sub(0.1 * grad_w)
        b1.assign_sub(0.1 * grad_b)
        batch_losses.append(float(loss))
    assert len(batch_losses) == 4
    assert history["loss"][0] == pytest.approx(sum(batch_losses) / 4, rel=1e-12)

@pytest.mark.slow
def test_numpy_loop_follows_the_tensorflow_loop():
    """fast-loop.md times train_numpy as the same experiment as train (float64
    against float32, hence the tolerance)."""
    ours = train(keras_optimizer("sgd", lr=0.1), epochs=500)
    twin = train_numpy(lr=0.1, epochs=500)
    worst = np.max(np.abs(np.array(ours["loss"]) - twin["loss"]))
    assert worst < 1e-5, f"losses differ by {worst:.2g}"
    assert ours["accuracy"] == twin["accuracy"]


@pytest.mark.slow
@pytest.mark.parametrize("name, extra", [("momentum", dict(momentum=0.8)),
                                         ("adam", dict(beta2=0.99))])
def test_a_sweep_equals_separate_runs(name, extra):
    rates = [0.01, 0.1, 1.0]
    swept = sweep(name, rates, epochs=60, **extra)
    for k, lr in enumerate(rates):
        single = train(keras_optimizer(name, lr=lr, **extra), epochs=60)
        np.testing.assert_allclose(swept["loss"][k], single["loss"], rtol=1e-6)
        np.testing.assert_array_equal(swept["accuracy"][k], single["accuracy"])

@pytest.mark.slow
def test_learning_rate_choices_of_the_comparison_page():
    """The reasons comparison.md (and IRIS_LEARNING_RATES) give for leaving 0.1."""
    adadelta = sweep("adadelta", [0.1, 1.0])
    assert adadelta["accuracy"][0, -1] == pytest.approx(16 / 30)  # 53 %
    assert adadelta["accuracy"][1, -1] == 1.0
    rms_01, rms_001 = sweep("rmsprop", [0.1, 0.01])["loss"]
    # at 0.1 the loss jumps about early on, then creeps up; at 0.01 it falls smoothly
    assert np.sum(np.diff(rms_01[:100]) > 0) > 20
    assert rms_01[-1] > rms_01.min() * 1.05
    assert np.all(np.diff(rms_001[20:]) < 0)
    assert rms_001[-1] < rms_01[-1]
    # at 0.1 the others do well
    for name in ["sgd", "momentum", "adagrad", "adam"]:
        assert train(keras_optimizer(name, lr=0.1))["accuracy"][-1] == 1.0, name


def test_batch_gradients_are_the_loop_gradients():
    """What the pages feed to keras_steps and their own loops, float32 and float64."""
    x, y = make_batches()[0][1]
    params32 = init_params()
    with tf.GradientTape() as tape:
        loss = mse_loss(params32, x, y)
    expected = tape.gradient(loss, params32)
    for got, want in zip(batch_gradients(1, params32), expected):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    params64 = [tf.Variable(tf.cast(p, tf.float64)) for p in params32]
    for got, want in zip(batch_gradients(5, params64), expected):  # 5 % 4 == 1
        assert got.dtype == tf.float64
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-7)


def test_unknown_compilation_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="compiled must be"):
        train(keras_optimizer("sgd", lr=0.1), epochs=1, compiled="graph")
