"""Learning-rate schedules written by hand (taught in book/optimizers/schedules.md).

Each schedule is a plain function of the optimizer step ``t`` (0 for the first update,
as Keras counts ``optimizer.iterations``) that returns a Python float. Each follows the
formula of its Keras twin in ``keras.optimizers.schedules`` so closely that the two
agree to float64 round-off (tests/test_schedules.py):

| here | Keras |
| --- | --- |
| ``step_decay`` | ``PiecewiseConstantDecay`` |
| ``exponential_decay`` | ``ExponentialDecay`` |
| ``inverse_time_decay`` | ``InverseTimeDecay`` |
| ``warmup_cosine_decay`` | ``CosineDecay`` (with ``warmup_target``, ``warmup_steps``) |

``train_iris_sgd`` trains the common loop's iris layer with SGD, taking the learning
rate of each step from a schedule: a hand-written one, or Keras's own SGD driven by a
Keras schedule, for the comparison.
"""

import bisect
import math

import numpy as np
import tensorflow as tf

from course.loop import count_correct, init_params, make_batches, mse_loss


def step_decay(boundaries, values):
    """Piecewise constant: ``values[i]`` while ``t <= boundaries[i]``, then the last.

    One value more than boundaries, as in Keras: ``step_decay([100], [0.1, 0.01])``
    uses 0.1 for steps 0 to 100 and 0.01 after.
    """
    if len(values) != len(boundaries) + 1:
        raise ValueError(f"step_decay needs one value more than boundaries, got "
                         f"{len(boundaries)} boundaries and {len(values)} values")
    if list(boundaries) != sorted(boundaries):
        raise ValueError(f"step_decay boundaries must increase, got {boundaries}")

    def schedule(t):
        return float(values[bisect.bisect_left(boundaries, t)])
    return schedule


def exponential_decay(initial, decay_steps, decay_rate, staircase=False):
    """``initial * decay_rate ** (t / decay_steps)``; with ``staircase``, the exponent
    is rounded down, so the rate drops by ``decay_rate`` every ``decay_steps`` steps."""
    def schedule(t):
        p = t / decay_steps
        return initial * decay_rate ** (math.floor(p) if staircase else p)
    return schedule


def inverse_time_decay(initial, decay_steps, decay_rate, staircase=False):
    """``initial / (1 + decay_rate * t / decay_steps)``: the 1/t decay of the theory."""
    def schedule(t):
        p = t / decay_steps
        return initial / (1 + decay_rate * (math.floor(p) if staircase else p))
    return schedule


def warmup_cosine_decay(initial, decay_steps, alpha=0.0, warmup_target=None,
                        warmup_steps=0):
    """Linear warm-up from ``initial`` to ``warmup_target`` over ``warmup_steps``,
    then half a cosine from the peak down to ``alpha * peak`` over ``decay_steps``,
    then constant. Without ``warmup_target`` the cosine starts at ``initial``."""
    peak = initial if warmup_target is None else warmup_target
    warmup = 0 if warmup_target is None else warmup_steps

    def schedule(t):
        t = min(t, warmup + decay_steps)
        if t < warmup:
            return initial + (peak - initial) * (t / warmup)
        cosine = 0.5 * (1 + math.cos(math.pi * (t - warmup) / decay_steps))
        return peak * ((1 - alpha) * cosine + alpha)
    return schedule


def rates(schedule, num_steps):
    """The learning rates of steps 0, 1, ..., num_steps - 1 as a float64 array."""
    return np.array([schedule(t) for t in range(num_steps)], dtype=np.float64)


def train_iris_sgd(schedule, epochs=200, seed=1, keras_optimizer=None):
    """SGD on the common loop's iris layer, the rate of step ``t`` from ``schedule``.

    With ``keras_optimizer`` (e.g. ``keras.optimizers.SGD(learning_rate=a_schedule)``)
    Keras applies the gradients instead, its schedule called with its own step count.
    Returns the per-epoch ``loss`` (mean of the 4 batch losses), test ``accuracy``,
    the ``rates`` used (one per step) and the final ``params``.
    """
    tf.random.set_seed(116)
    train_batches, test_batches = make_batches()
    num_test = sum(int(x.shape[0]) for x, _ in test_batches)
    params = init_params(seed)

    @tf.function
    def hand_step(x, y, lr):
        with tf.GradientTape() as tape:
            loss = mse_loss(params, x, y)
        grads = tape.gradient(loss, params)
        for param, grad in zip(params, grads):
            param.assign_sub(lr * grad)       # the notes' SGD, lr from the schedule
        return loss

    @tf.function
    def keras_step(x, y):
        with tf.GradientTape() as tape:
            loss = mse_loss(params, x, y)
        keras_optimizer.apply_gradients(zip(tape.gradient(loss, params), params))
        return loss

    if keras_optimizer is not None:
        keras_optimizer.build(params)         # its variables exist before tracing
    losses, accuracies, used = [], [], []
    for _ in range(epochs):
        loss_all = 0.0
        for x, y in train_batches:
            if keras_optimizer is None:
                lr = schedule(len(used))      # step t = number of updates so far
                loss = hand_step(x, y, tf.constant(lr, tf.float32))
            else:
                lr = float(keras_optimizer.learning_rate)  # Keras's rate for this step
                loss = keras_step(x, y)
            used.append(lr)
            loss_all += float(loss)
        losses.append(loss_all / len(train_batches))
        correct = sum(int(count_correct(params, x, y)) for x, y in test_batches)
        accuracies.append(correct / num_test)
    return {"loss": losses, "accuracy": accuracies, "rates": np.array(used),
            "params": params}
