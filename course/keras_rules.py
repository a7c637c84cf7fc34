"""Keras's own optimizers under the course's names (taught in book/optimizers/*.md).

The pages write each rule as a formula and as the notes' inline code, and check that
code against Keras's optimizer. This module gives those optimizers one name and one
set of hyperparameter names per rule, the course's:

    keras_optimizer("momentum_ema", lr=0.1, beta=0.9)   # a tf.keras optimizer

``keras_steps`` runs one on given gradients and records the weights after each
step; ``side_by_side`` prints two such records next to each other.
"""

import tensorflow as tf

# Keras's own defaults (tests/assignments/test_optimizers.py compares them with Keras).
DEFAULTS = {
    "sgd": {"lr": 0.01},
    "momentum_ema": {"lr": 0.01, "beta": 0.9},
    "momentum": {"lr": 0.01, "momentum": 0.9},
    "nesterov": {"lr": 0.01, "momentum": 0.9},
    "adagrad": {"lr": 0.001, "initial_accumulator": 0.1, "eps": 1e-7},
    "rmsprop": {"lr": 0.001, "rho": 0.9, "eps": 1e-7},
    "adadelta": {"lr": 0.001, "rho": 0.95, "eps": 1e-7},
    "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
}

_KERAS = {
    "sgd": lambda h: tf.keras.optimizers.SGD(learning_rate=h["lr"]),
    # the notes' moving average is Keras's velocity with lr scaled by (1 - beta)
    # (book/optimizers/momentum.md derives it)
    "momentum_ema": lambda h: tf.keras.optimizers.SGD(
        learning_rate=h["lr"] * (1 - h["beta"]), momentum=h["beta"]),
    "momentum": lambda h: tf.keras.optimizers.SGD(
        learning_rate=h["lr"], momentum=h["momentum"]),
    "nesterov": lambda h: tf.keras.optimizers.SGD(
        learning_rate=h["lr"], momentum=h["momentum"], nesterov=True),
    "adagrad": lambda h: tf.keras.optimizers.Adagrad(
        learning_rate=h["lr"], initial_accumulator_value=h["initial_accumulator"],
        epsilon=h["eps"]),
    "rmsprop": lambda h: tf.keras.optimizers.RMSprop(
        learning_rate=h["lr"], rho=h["rho"], epsilon=h["eps"]),
    "adadelta": lambda h: tf.keras.optimizers.Adadelta(
        learning_rate=h["lr"], rho=h["rho"], epsilon=h["eps"]),
    "adam": lambda h: tf.keras.optimizers.Adam(
        learning_rate=h["lr"], beta_1=h["beta1"], beta_2=h["beta2"], epsilon=h["eps"]),
}


def hyperparams(name, **overrides):
    """The rule's Keras defaults with ``overrides`` (unknown names are an error)."""
    if name not in DEFAULTS:
        raise KeyError(f"no optimizer {name!r}; the course has {sorted(DEFAULTS)}")
    unknown = set(overrides) - set(DEFAULTS[name])
    if unknown:
        raise TypeError(f"{name} has no hyperparameter {sorted(unknown)}; "
                        f"it takes {sorted(DEFAULTS[name])}")
    return {**DEFAULTS[name], **overrides}


def keras_optimizer(name, **overrides):
    """A new tf.keras optimizer: rule ``name`` with the course's hyperparameter names."""
    return _KERAS[name](hyperparams(name, **overrides))


def keras_steps(optimizer, start, grad_fn, num_steps, dtype=tf.float64):
    """Run a Keras ``optimizer`` and return the parameters after each step.

    ``start`` is a list of arrays, ``grad_fn(step, params)`` gives the gradients for
    a step (``course.loop.batch_gradients``: the iris batches, as in training).
    """
    params = [tf.Variable(tf.cast(x, dtype)) for x in start]
    trajectory = []
    for step in range(num_steps):
        grads = [tf.cast(g, dtype) for g in grad_fn(step, params)]
        optimizer.apply_gradients(zip(grads, params))
        trajectory.append([p.numpy().copy() for p in params])
    return trajectory


def side_by_side(ours, theirs, steps=(1, 2, 3, 100), name="w1[0, 0]"):
    """A text table of one weight after the given steps, for two trajectories.

    Each trajectory is a list, per step, of the parameters as arrays (what
    :func:`keras_steps` returns); the last line gives the largest difference over
    all steps and all weights.
    """
    lines = [f"{'step':>5}  {name + ' (ours)':>18}  {name + ' (Keras)':>18}"]
    for t in steps:
        lines.append(f"{t:>5}  {ours[t - 1][0].flat[0]:>18.9f}  "
                     f"{theirs[t - 1][0].flat[0]:>18.9f}")
    largest = max(
        float(abs(a - b).max())
        for step_a, step_b in zip(ours, theirs)
        for a, b in zip(step_a, step_b)
    )
    lines.append(
        f"largest difference over {len(ours)} steps, all weights: {largest:.3g}")
    return "\n".join(lines)
