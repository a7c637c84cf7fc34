"""The graded update rules' reference implementations (instructor only, never published).

The assignments sgd_momentum, adaptive and adam ask students to write these functions;
so they live here, outside the public ``course`` package, and the book teaches the
rules without them (formulas, the notes' inline code, Keras's optimizers).
tests/assignments/test_optimizers.py checks each against its Keras twin.

Every optimizer is a pair of functions:

    states = init_states(params, hyperparams)
    update(params, grads, states, hyperparams)   # changes params and states in place

``params`` is a list of ``tf.Variable`` (w1, b1 in the common loop), ``grads`` the
matching list of gradients, ``hyperparams`` a dict of Python numbers (``lr`` always).
``states`` is a dict of lists of ``tf.Variable`` (one per parameter), plus a step
counter ``t`` where the rule needs one. Because states are variables created once,
the same ``update`` runs eagerly and inside ``tf.function``.

The arithmetic follows Keras 3 (keras/src/optimizers/*.py) operation by operation,
so that tests/assignments/test_optimizers.py can demand agreement to float64 round-off.
A rule's Keras twin is ``course.keras_rules.keras_optimizer`` under the same name.
"""

from dataclasses import dataclass, field
from typing import Callable

import tensorflow as tf

from course.keras_rules import DEFAULTS, keras_optimizer
from course.keras_rules import keras_steps as course_keras_steps


def _zeros_like(params, value=0.0):
    return [tf.Variable(tf.fill(tf.shape(p), tf.cast(value, p.dtype))) for p in params]


def _step_counter():
    return tf.Variable(0.0, dtype=tf.float64, trainable=False)


# --- SGD ---------------------------------------------------------------------------

def sgd_init(params, hyperparams):
    return {}


def sgd_update(params, grads, states, hyperparams):
    lr = hyperparams["lr"]
    for p, g in zip(params, grads):
        p.assign_sub(lr * g)


# --- Momentum, the notes' moving-average form ---------------------------------------
# m = beta*m + (1-beta)*g ;  w -= lr*m

def momentum_ema_init(params, hyperparams):
    return {"m": _zeros_like(params)}


def momentum_ema_update(params, grads, states, hyperparams):
    lr, beta = hyperparams["lr"], hyperparams["beta"]
    for p, g, m in zip(params, grads, states["m"]):
        m.assign(beta * m + (1 - beta) * g)
        p.assign_sub(lr * m)


# --- Momentum, Keras's velocity form (also Nesterov) --------------------------------
# v = mu*v - lr*g ;  w += v          (nesterov: w += mu*v - lr*g, with the new v)

def momentum_init(params, hyperparams):
    return {"v": _zeros_like(params)}


def momentum_update(params, grads, states, hyperparams):
    lr, mu = hyperparams["lr"], hyperparams["momentum"]
    for p, g, v in zip(params, grads, states["v"]):
        v.assign(v * mu - g * lr)
        p.assign_add(v)


def nesterov_update(params, grads, states, hyperparams):
    lr, mu = hyperparams["lr"], hyperparams["momentum"]
    for p, g, v in zip(params, grads, states["v"]):
        v.assign(v * mu - g * lr)
        p.assign_add(v * mu - g * lr)


# --- Adagrad ------------------------------------------------------------------------
# s += g^2 ;  w -= lr*g / sqrt(s + eps)      (Keras starts s at 0.1, not 0)

def adagrad_init(params, hyperparams):
    return {"s": _zeros_like(params, hyperparams["initial_accumulator"])}


def adagrad_update(params, grads, states, hyperparams):
    lr, eps = hyperparams["lr"], hyperparams["eps"]
    for p, g, s in zip(params, grads, states["s"]):
        s.assign_add(tf.square(g))
        p.assign_sub(lr * g / tf.sqrt(s + eps))


# --- RMSprop ------------------------------------------------------------------------
# s = rho*s + (1-rho)*g^2 ;  w -= lr*g / sqrt(s + eps)

def rmsprop_init(params, hyperparams):
    return {"s": _zeros_like(params)}


def rmsprop_update(params, grads, states, hyperparams):
    lr, rho, eps = hyperparams["lr"], hyperparams["rho"], hyperparams["eps"]
    for p, g, s in zip(params, grads, states["s"]):
        s.assign(rho * s + (1 - rho) * tf.square(g))
        p.assign_sub(lr * g / tf.sqrt(s + eps))


# --- Adadelta -----------------------------------------------------------------------
# s = rho*s + (1-rho)*g^2 ;  d = -sqrt(u + eps)*g / sqrt(s + eps)
# u = rho*u + (1-rho)*d^2 ;  w += lr*d

def adadelta_init(params, hyperparams):
    return {"s": _zeros_like(params), "u": _zeros_like(params)}


def adadelta_update(params, grads, states, hyperparams):
    lr, rho, eps = hyperparams["lr"], hyperparams["rho"], hyperparams["eps"]
    for p, g, s, u in zip(params, grads, states["s"], states["u"]):
        s.assign(rho * s + (1 - rho) * tf.square(g))
        d = -(tf.sqrt(u + eps) * g) / tf.sqrt(s + eps)
        u.assign(rho * u + (1 - rho) * tf.square(d))
        p.assign_add(lr * d)


# --- Adam ---------------------------------------------------------------------------
# t += 1 ;  m = beta1*m + (1-beta1)*g ;  v = beta2*v + (1-beta2)*g^2
# Keras ("epsilon-hat" form):  w -= lr*sqrt(1-beta2^t)/(1-beta1^t) * m / (sqrt(v) + eps)
# Paper (Kingma & Ba, Alg. 1): w -= lr * m_hat / (sqrt(v_hat) + eps),
#                              m_hat = m/(1-beta1^t), v_hat = v/(1-beta2^t)

def adam_init(params, hyperparams):
    return {"m": _zeros_like(params), "v": _zeros_like(params), "t": _step_counter()}


def adam_update(params, grads, states, hyperparams):
    lr, beta1, beta2 = hyperparams["lr"], hyperparams["beta1"], hyperparams["beta2"]
    eps = hyperparams["eps"]
    states["t"].assign_add(1.0)
    for p, g, m, v in zip(params, grads, states["m"], states["v"]):
        t = tf.cast(states["t"], p.dtype)
        alpha = lr * tf.sqrt(1 - beta2**t) / (1 - beta1**t)
        m.assign_add((g - m) * (1 - beta1))
        v.assign_add((tf.square(g) - v) * (1 - beta2))
        p.assign_sub((m * alpha) / (tf.sqrt(v) + eps))


def adam_paper_update(params, grads, states, hyperparams):
    lr, beta1, beta2 = hyperparams["lr"], hyperparams["beta1"], hyperparams["beta2"]
    eps = hyperparams["eps"]
    states["t"].assign_add(1.0)
    for p, g, m, v in zip(params, grads, states["m"], states["v"]):
        t = tf.cast(states["t"], p.dtype)
        m.assign(beta1 * m + (1 - beta1) * g)
        v.assign(beta2 * v + (1 - beta2) * tf.square(g))
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + eps))


# --- The catalogue ------------------------------------------------------------------

@dataclass(frozen=True)
class Optimizer:
    """One hand-written rule, its Keras defaults, and the Keras optimizer it equals."""

    name: str
    init_states: Callable
    update: Callable
    defaults: dict
    # hyperparams -> the tf.keras optimizer that takes the same steps (None: no Keras twin)
    keras: Callable | None = field(default=None, repr=False)

    def hyperparams(self, **overrides):
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise TypeError(
                f"{self.name} has no hyperparameter {sorted(unknown)}; "
                f"it takes {sorted(self.defaults)}"
            )
        return {**self.defaults, **overrides}


def _twin(name):
    return lambda h: keras_optimizer(name, **h)


_RULES = {
    "sgd": (sgd_init, sgd_update),
    "momentum_ema": (momentum_ema_init, momentum_ema_update),
    "momentum": (momentum_init, momentum_update),
    "nesterov": (momentum_init, nesterov_update),
    "adagrad": (adagrad_init, adagrad_update),
    "rmsprop": (rmsprop_init, rmsprop_update),
    "adadelta": (adadelta_init, adadelta_update),
    "adam": (adam_init, adam_update),
}

OPTIMIZERS = {
    name: Optimizer(name, init, update, dict(DEFAULTS[name]), _twin(name))
    for name, (init, update) in _RULES.items()
}
# The paper's Adam has no Keras twin (book/optimizers/adam.md compares the two forms).
OPTIMIZERS["adam_paper"] = Optimizer(
    "adam_paper", adam_init, adam_paper_update,
    {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8})


def keras_steps(optimizer, hyperparams, start, grad_fn, num_steps, dtype=tf.float64):
    """Run the Keras twin of ``optimizer`` and return the parameters after each step.

    ``start`` is a list of arrays, ``grad_fn(step, params)`` gives the gradients for a
    step. tests/assignments/test_optimizers.py puts it next to :func:`own_steps`.
    """
    return course_keras_steps(optimizer.keras(hyperparams), start, grad_fn, num_steps,
                              dtype=dtype)


def own_steps(optimizer, hyperparams, start, grad_fn, num_steps, dtype=tf.float64):
    """Same as :func:`keras_steps`, with the hand-written rule."""
    params = [tf.Variable(tf.cast(x, dtype)) for x in start]
    states = optimizer.init_states(params, hyperparams)
    trajectory = []
    for step in range(num_steps):
        grads = [tf.cast(g, dtype) for g in grad_fn(step, params)]
        optimizer.update(params, grads, states, hyperparams)
        trajectory.append([p.numpy().copy() for p in params])
    return trajectory
