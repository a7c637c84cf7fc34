"""Learning-rate schedules written by hand (taught in book/optimizers/schedules.md).

Each schedule is a plain function of ``k``, the number of updates made so far (0 for
the first update, as Keras counts ``optimizer.iterations``), that returns a Python
float. Each follows the
formula of its Keras twin in ``keras.optimizers.schedules`` so closely that the two
agree to float64 round-off (tests/book/test_schedules.py):

| here | Keras |
| --- | --- |
| ``step_decay`` | ``PiecewiseConstantDecay`` |
| ``exponential_decay`` | ``ExponentialDecay`` |
| ``inverse_time_decay`` | ``InverseTimeDecay`` |
| ``warmup_cosine_decay`` | ``CosineDecay`` (with ``warmup_target``, ``warmup_steps``) |

``train_iris_sgd`` trains the common loop's iris layer with SGD, taking the learning
rate of each step from a schedule: a hand-written one, or Keras's own SGD driven by a
Keras schedule, for the comparison. ``train_iris_many`` trains it in float64 NumPy
from many starts and with several schedules at once, to see what a schedule does
beyond the luck of one run.
"""

import bisect
import math

import numpy as np
import tensorflow as tf

from course.data import load_iris_split
from course.loop import (
    numpy_batches,
    count_correct,
    init_params,
    make_batches,
    mse_loss,
    numpy_accuracy,
    numpy_sgd_step,
)


def step_decay(boundaries, values):
    """Piecewise constant: ``values[i]`` while ``k <= boundaries[i]``, then the last.

    One value more than boundaries, as in Keras: ``step_decay([100], [0.1, 0.01])``
    uses 0.1 for steps 0 to 100 and 0.01 after.
    """
    if len(values) != len(boundaries) + 1:
        raise ValueError(f"step_decay needs one value more than boundaries, got "
                         f"{len(boundaries)} boundaries and {len(values)} values")
    if list(boundaries) != sorted(boundaries):
        raise ValueError(f"step_decay boundaries must increase, got {boundaries}")

    def schedule(k):
        return float(values[bisect.bisect_left(boundaries, k)])
    return schedule


def exponential_decay(initial, decay_steps, decay_rate, staircase=False):
    """``initial * decay_rate ** (k / decay_steps)``; with ``staircase``, the exponent
    is rounded down, so the rate drops by ``decay_rate`` every ``decay_steps`` steps."""
    def schedule(k):
        p = k / decay_steps
        return initial * decay_rate ** (math.floor(p) if staircase else p)
    return schedule


def inverse_time_decay(initial, decay_steps, decay_rate, staircase=False):
    """``initial / (1 + decay_rate * k / decay_steps)``: the 1/k decay of the theory."""
    def schedule(k):
        p = k / decay_steps
        return initial / (1 + decay_rate * (math.floor(p) if staircase else p))
    return schedule


def warmup_cosine_decay(initial, decay_steps, alpha=0.0, warmup_target=None,
                        warmup_steps=0):
    """Linear warm-up from ``initial`` to ``warmup_target`` over ``warmup_steps``,
    then half a cosine from the peak down to ``alpha * peak`` over ``decay_steps``,
    then constant. Without ``warmup_target`` the cosine starts at ``initial``."""
    peak = initial if warmup_target is None else warmup_target
    warmup = 0 if warmup_target is None else warmup_steps

    def schedule(k):
        k = min(k, warmup + decay_steps)
        if k < warmup:
            return initial + (peak - initial) * (k / warmup)
        cosine = 0.5 * (1 + math.cos(math.pi * (k - warmup) / decay_steps))
        return peak * ((1 - alpha) * cosine + alpha)
    return schedule


def rates(schedule, num_steps):
    """The learning rates of the first num_steps updates (k = 0, 1, ..., num_steps - 1)
    as a float64 array."""
    return np.array([schedule(k) for k in range(num_steps)], dtype=np.float64)


def train_iris_sgd(schedule, epochs=200, seed=1, keras_optimizer=None):
    """SGD on the common loop's iris layer, the rate of each update from ``schedule``.

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
                lr = schedule(len(used))      # k = number of updates so far
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


def train_iris_many(schedules, starts, epochs=150):
    """Plain SGD on the iris layer in float64 NumPy: one run per schedule and start.

    ``schedules`` maps names to schedules, ``starts`` is a list of ``(w1, b1)`` pairs
    (e.g. ``init_params(seed)`` for several seeds). All runs take the notes' batches in
    the notes' order and advance together, one stacked NumPy step per batch, so a few
    hundred runs cost about as much as a few. Returns, per schedule name, the
    per-epoch ``loss`` (mean of the 4 batch losses), an array (starts, epochs), and
    the final test ``accuracy``, an array (starts,).
    """
    x_train, y_train, x_test, y_test = load_iris_split()
    batches = numpy_batches(x_train, y_train)
    names, num_starts = list(schedules), len(starts)
    w1 = np.array([np.asarray(w, np.float64) for w, _ in starts] * len(names))
    b1 = np.array([np.asarray(b, np.float64) for _, b in starts] * len(names))
    losses = np.zeros((len(w1), epochs))
    k = 0
    for epoch in range(epochs):
        for x, y_ in batches:
            lr = np.repeat([schedules[name](k) for name in names], num_starts)
            losses[:, epoch] += numpy_sgd_step(x, y_, w1, b1, lr) / len(batches)
            k += 1
    accuracy = numpy_accuracy(x_test, y_test, w1, b1)
    return {name: {"loss": losses[i * num_starts:(i + 1) * num_starts],
                   "accuracy": accuracy[i * num_starts:(i + 1) * num_starts]}
            for i, name in enumerate(names)}
