"""Optimizers on 2-D test functions, in NumPy (taught in book/optimizers/comparison.md).

The pages draw many short trajectories; NumPy runs a step on a 2-vector in
microseconds, TensorFlow in about a millisecond. So this module holds NumPy twins of
the rules in course.optimizers, with the same signature and the same symbols:

    states = init_states(params, hyperparams)
    update(params, grads, states, hyperparams)  # changes the NumPy arrays in place

tests/test_optimizer_pages.py checks that every twin takes the same steps as its
TensorFlow original (and hence as Keras). Also here: three test functions (an
ill-conditioned bowl, a saddle, Rosenbrock's valley), a trajectory runner, a
learning-rate sweep, and the figure and animation helpers the pages use.
"""

from dataclasses import dataclass
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np

# --- NumPy twins of course.optimizers ------------------------------------------


def _zeros(params, value=0.0):
    return [np.full_like(p, value, dtype=float) for p in params]


def sgd_init(params, hp):
    return {}


def sgd_update(params, grads, states, hp):
    for p, g in zip(params, grads):
        p -= hp["lr"] * g


def momentum_ema_init(params, hp):
    return {"m": _zeros(params)}


def momentum_ema_update(params, grads, states, hp):
    lr, beta = hp["lr"], hp["beta"]
    for p, g, m in zip(params, grads, states["m"]):
        m[...] = beta * m + (1 - beta) * g
        p -= lr * m


def momentum_init(params, hp):
    return {"v": _zeros(params)}


def momentum_update(params, grads, states, hp):
    lr, mu = hp["lr"], hp["momentum"]
    for p, g, v in zip(params, grads, states["v"]):
        v[...] = v * mu - g * lr
        p += v


def nesterov_update(params, grads, states, hp):
    lr, mu = hp["lr"], hp["momentum"]
    for p, g, v in zip(params, grads, states["v"]):
        v[...] = v * mu - g * lr
        p += v * mu - g * lr


def adagrad_init(params, hp):
    return {"s": _zeros(params, hp["initial_accumulator"])}


def adagrad_update(params, grads, states, hp):
    lr, eps = hp["lr"], hp["eps"]
    for p, g, s in zip(params, grads, states["s"]):
        s += g**2
        p -= lr * g / np.sqrt(s + eps)


def rmsprop_init(params, hp):
    return {"s": _zeros(params)}


def rmsprop_update(params, grads, states, hp):
    lr, rho, eps = hp["lr"], hp["rho"], hp["eps"]
    for p, g, s in zip(params, grads, states["s"]):
        s[...] = rho * s + (1 - rho) * g**2
        p -= lr * g / np.sqrt(s + eps)


def adadelta_init(params, hp):
    return {"s": _zeros(params), "u": _zeros(params)}


def adadelta_update(params, grads, states, hp):
    lr, rho, eps = hp["lr"], hp["rho"], hp["eps"]
    for p, g, s, u in zip(params, grads, states["s"], states["u"]):
        s[...] = rho * s + (1 - rho) * g**2
        d = -np.sqrt(u + eps) * g / np.sqrt(s + eps)
        u[...] = rho * u + (1 - rho) * d**2
        p += lr * d


def adam_init(params, hp):
    return {"m": _zeros(params), "v": _zeros(params), "t": 0}


def adam_update(params, grads, states, hp):
    lr, beta1, beta2, eps = hp["lr"], hp["beta1"], hp["beta2"], hp["eps"]
    states["t"] += 1
    t = states["t"]
    alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    for p, g, m, v in zip(params, grads, states["m"], states["v"]):
        m += (g - m) * (1 - beta1)
        v += (g**2 - v) * (1 - beta2)
        p -= m * alpha / (np.sqrt(v) + eps)


def adam_paper_update(params, grads, states, hp):
    lr, beta1, beta2, eps = hp["lr"], hp["beta1"], hp["beta2"], hp["eps"]
    states["t"] += 1
    t = states["t"]
    for p, g, m, v in zip(params, grads, states["m"], states["v"]):
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p -= lr * m_hat / (np.sqrt(v_hat) + eps)


NUMPY_RULES = {
    "sgd": (sgd_init, sgd_update),
    "momentum_ema": (momentum_ema_init, momentum_ema_update),
    "momentum": (momentum_init, momentum_update),
    "nesterov": (momentum_init, nesterov_update),
    "adagrad": (adagrad_init, adagrad_update),
    "rmsprop": (rmsprop_init, rmsprop_update),
    "adadelta": (adadelta_init, adadelta_update),
    "adam": (adam_init, adam_update),
    "adam_paper": (adam_init, adam_paper_update),
}

# Hyperparameters are those of course.optimizers.OPTIMIZERS[name]; the defaults are
# copied here so that this module does not need TensorFlow (tests compare the two).
DEFAULTS = {
    "sgd": {"lr": 0.01},
    "momentum_ema": {"lr": 0.01, "beta": 0.9},
    "momentum": {"lr": 0.01, "momentum": 0.9},
    "nesterov": {"lr": 0.01, "momentum": 0.9},
    "adagrad": {"lr": 0.001, "initial_accumulator": 0.1, "eps": 1e-7},
    "rmsprop": {"lr": 0.001, "rho": 0.9, "eps": 1e-7},
    "adadelta": {"lr": 0.001, "rho": 0.95, "eps": 1e-7},
    "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
    "adam_paper": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}


def hyperparams(name, **overrides):
    """The rule's Keras defaults with ``overrides`` (unknown keys are an error)."""
    unknown = set(overrides) - set(DEFAULTS[name])
    if unknown:
        raise TypeError(f"{name} has no hyperparameter {sorted(unknown)}")
    return {**DEFAULTS[name], **overrides}


# --- Test functions -------------------------------------------------------------


@dataclass(frozen=True)
class Function2D:
    """f(x, y), its gradient, a start point and a window for contour plots."""

    name: str
    f: Callable
    grad: Callable
    start: tuple
    xlim: tuple
    ylim: tuple
    minimum: tuple | None  # None: no minimum (the saddle falls forever along y)


QUADRATIC = Function2D(
    "0.1 x² + 2 y²",
    lambda x, y: 0.1 * x**2 + 2 * y**2,
    lambda x, y: np.array([0.2 * x, 4 * y]),
    start=(-4.0, 1.0), xlim=(-4.5, 1.0), ylim=(-1.5, 1.5), minimum=(0.0, 0.0),
)
SADDLE = Function2D(
    "x² - y²",
    lambda x, y: x**2 - y**2,
    lambda x, y: np.array([2 * x, -2 * y]),
    start=(1.0, 1e-3), xlim=(-0.3, 1.1), ylim=(-0.2, 1.5), minimum=None,
)
ROSENBROCK = Function2D(
    "Rosenbrock (1 - x)² + 100 (y - x²)²",
    lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    lambda x, y: np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)]),
    start=(-1.5, 2.0), xlim=(-2.0, 2.0), ylim=(-1.0, 3.0), minimum=(1.0, 1.0),
)
FUNCTIONS = {"quadratic": QUADRATIC, "saddle": SADDLE, "rosenbrock": ROSENBROCK}


def run(name, hp, grad, start, num_steps):
    """Points visited by rule ``name``: an array of shape (num_steps + 1, len(start)).

    ``grad(point)`` gives the gradient at ``point``. A run that blows up (a coordinate
    beyond 1e6, or NaN) stops there; the remaining rows are NaN.
    """
    init_states, update = NUMPY_RULES[name]
    point = np.array(start, dtype=float)
    states = init_states([point], hp)
    path = np.full((num_steps + 1, point.size), np.nan)
    path[0] = point
    with np.errstate(all="ignore"):  # a NaN or overflow ends the run below, quietly
        for step in range(1, num_steps + 1):
            update([point], [grad(point)], states, hp)
            if not np.all(np.abs(point) < 1e6):
                break
            path[step] = point
    return path


def trajectory(name, hp, function, num_steps, start=None):
    """:func:`run` on a 2-D test function, from its usual start point by default."""
    start = function.start if start is None else start
    return run(name, hp, lambda point: function.grad(*point), start, num_steps)


def final_value(name, hp, function, num_steps, start=None):
    """f at the end of the run (inf if the run blew up)."""
    path = trajectory(name, hp, function, num_steps, start)
    last = path[-1]
    return float(function.f(*last)) if np.all(np.isfinite(last)) else np.inf


def lr_sweep(name, learning_rates, function, num_steps, **overrides):
    """f after ``num_steps`` for each learning rate (the sensitivity curve)."""
    return np.array([
        final_value(name, hyperparams(name, lr=lr, **overrides), function, num_steps)
        for lr in learning_rates
    ])


# --- Figures --------------------------------------------------------------------


def contour(ax, function, num_levels=25, antialiased=True):
    """Contour lines of ``function`` on its window: log-spaced above the minimum (so
    that a narrow valley shows), evenly spaced for the saddle. Without antialiasing
    the PNG frames of an animation are about five times smaller."""
    xs = np.linspace(*function.xlim, 200)
    ys = np.linspace(*function.ylim, 200)
    X, Y = np.meshgrid(xs, ys)
    Z = function.f(X, Y)
    if function.minimum is None:
        levels = np.linspace(Z.min(), Z.max(), num_levels)
    else:
        levels = np.geomspace(1e-2, Z.max(), num_levels)
    ax.contour(X, Y, Z, levels=levels, colors="0.75", linewidths=0.7,
               linestyles="solid", antialiased=antialiased)
    if function.minimum is not None:
        ax.plot(*function.minimum, marker="*", color="k", markersize=10,
                linestyle="none")
    ax.set(xlim=function.xlim, ylim=function.ylim, xlabel="x", ylabel="y")
    return ax


def plot_paths(ax, function, paths, title=None):
    """Draw ``paths`` (a dict label -> array from :func:`trajectory`) over the contours.

    Short runs get a dot per step; the start is the black dot, the minimum the star.
    """
    contour(ax, function)
    for label, path in paths.items():
        marker = "." if len(path) <= 101 else None
        ax.plot(path[:, 0], path[:, 1], marker=marker, markersize=3, linewidth=1.2,
                label=label)
    ax.plot(*path[0], marker="o", color="k", markersize=5, linestyle="none")
    ax.set_title(title or function.name)
    return ax


def animate_paths(function, paths, title, frames=40, interval=120, dpi=80):
    """A matplotlib animation of ``paths`` growing step by step (frames subsample them).

    ``.to_jshtml()`` on the result gives a self-contained JavaScript player that works
    offline; it embeds every frame as a PNG, so the figure is small and its contours
    plain (about 1 MB for 40 frames). The figure is closed so that the page does not
    also show its last frame.
    """
    from matplotlib.animation import FuncAnimation

    fig, ax = plt.subplots(figsize=(6, 4), dpi=dpi)
    contour(ax, function, num_levels=15, antialiased=False)
    num_points = len(next(iter(paths.values())))
    shown = np.unique(np.linspace(1, num_points, frames).astype(int))
    lines, heads = {}, {}
    for label in paths:
        lines[label], = ax.plot([], [], linewidth=1.2, label=label)
        heads[label], = ax.plot([], [], marker="o", markersize=7,
                                color=lines[label].get_color())
    ax.plot(*next(iter(paths.values()))[0], marker="o", color="k", markersize=5)
    ax.legend(loc="upper right", fontsize=8)
    counter = ax.text(0.02, 0.03, "", transform=ax.transAxes)
    ax.set_title(title)

    def draw(frame):
        end = shown[frame]
        for label, path in paths.items():
            lines[label].set_data(path[:end, 0], path[:end, 1])
            heads[label].set_data(path[end - 1:end, 0], path[end - 1:end, 1])
        counter.set_text(f"step {end - 1}")
        return [*lines.values(), *heads.values(), counter]

    animation = FuncAnimation(fig, draw, frames=len(shown), interval=interval,
                              blit=True)
    plt.close(fig)
    return animation
