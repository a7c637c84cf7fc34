"""Keras's optimizers on 2-D test functions (taught in book/optimizers/comparison.md).

The pages draw many short trajectories: three test functions (an ill-conditioned
bowl, a saddle, Rosenbrock's valley), a trajectory runner that drives Keras's own
optimizer (``course.keras_rules``) over a function, a learning-rate sweep, and the
figure and animation helpers the pages use. A run is one compiled TensorFlow loop,
so a thousand steps cost about as much as ten eager ones.
"""

from dataclasses import dataclass
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from course.keras_rules import hyperparams, keras_optimizer

__all__ = ["hyperparams"]  # re-exported: the pages take both from here


def _vector(*components):
    """The components as one vector: a tensor inside a run, else a NumPy array."""
    if any(tf.is_tensor(c) for c in components):
        return tf.stack(components)
    return np.array(components)


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
    lambda x, y: _vector(0.2 * x, 4 * y),
    start=(-4.0, 1.0), xlim=(-4.5, 1.0), ylim=(-1.5, 1.5), minimum=(0.0, 0.0),
)
SADDLE = Function2D(
    "x² - y²",
    lambda x, y: x**2 - y**2,
    lambda x, y: _vector(2 * x, -2 * y),
    start=(1.0, 1e-3), xlim=(-0.3, 1.1), ylim=(-0.2, 1.5), minimum=None,
)
ROSENBROCK = Function2D(
    "Rosenbrock (1 - x)² + 100 (y - x²)²",
    lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    lambda x, y: _vector(-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)),
    start=(-1.5, 2.0), xlim=(-2.0, 2.0), ylim=(-1.0, 3.0), minimum=(1.0, 1.0),
)


def run(name, hp, grad, start, num_steps):
    """Points visited by Keras's rule ``name``: an array (num_steps + 1, len(start)).

    ``grad(step, point)`` gives the gradient at ``point`` (TensorFlow operations: the
    loop is compiled; ``step`` counts from 0). A run that blows up (a coordinate
    beyond 1e6, or NaN) stops there; the remaining rows are NaN.
    """
    point = tf.Variable(np.array(start, dtype=np.float64))
    optimizer = keras_optimizer(name, **hp)
    optimizer.build([point])

    @tf.function
    def steps():
        points = tf.TensorArray(tf.float64, size=num_steps)
        for step in tf.range(num_steps):
            gradient = tf.cast(grad(step, point), tf.float64)
            optimizer.apply_gradients([(tf.reshape(gradient, point.shape), point)])
            points = points.write(step, point.read_value())
        return points.stack()

    path = np.full((num_steps + 1, point.shape[0]), np.nan)
    path[0] = start
    if num_steps:
        # Every run traces its own loop once (a new optimizer and variable each time).
        # Called through its concrete function, the trace is not counted as a
        # retracing of the last run's loop, which TensorFlow would warn about.
        visited = steps.get_concrete_function()().numpy()
        with np.errstate(invalid="ignore"):
            blown = ~np.all(np.abs(visited) < 1e6, axis=1)
        end = int(np.argmax(blown)) if blown.any() else num_steps
        path[1:end + 1] = visited[:end]
    return path


def trajectory(name, hp, function, num_steps, start=None):
    """:func:`run` on a 2-D test function, from its usual start point by default."""
    start = function.start if start is None else start
    return run(name, hp, lambda step, point: function.grad(point[0], point[1]),
               start, num_steps)


def final_value(name, hp, function, num_steps, start=None):
    """f at the end of the run (inf if the run blew up)."""
    path = trajectory(name, hp, function, num_steps, start)
    last = path[-1]
    return float(function.f(*last)) if np.all(np.isfinite(last)) else np.inf


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
