"""Probe of the "train with the common loop and plot" parts: the histories the student's
answer produced, each rerun for its first epochs, and the lines of ``fig``
(``autograder/checks/figures.py`` judges them)."""

import numpy as np

from autograder.checks.in_kernel.names import student


def loss_numbers(values):
    """A flat list of floats (nan/inf as None), or "not numbers"."""
    try:
        return [float(v) if np.isfinite(v) else None
                for v in np.asarray(values, dtype=np.float64).ravel()]
    except Exception:
        return "not numbers"


def rerun_losses(namespace, run, epochs, compiled):
    """The losses of the first ``epochs`` of the set-up cell's ``train`` on the rule
    and hyperparameters ``run`` names (compiled or eagerly), or {"error": its type}
    (the grader keeps the type's name only when it is Python's or TensorFlow's)."""
    try:
        rerun = student(namespace, "train")(
            namespace[run["init"]], namespace[run["update"]],
            dict(run["stated_hyperparams"]), epochs=epochs, compiled=compiled)
        return loss_numbers(rerun["loss"])
    except Exception as error:
        return {"error": type(error).__name__}


def same_losses(have, want, rtol):
    """Whether two lists from ``loss_numbers`` agree within ``rtol`` (relative)."""
    try:
        return len(have) == len(want) and all(
            abs(a - b) <= rtol * max(1.0, abs(b)) for a, b in zip(have, want))
    except TypeError:  # an error, "not numbers", or a nan/inf (None)
        return False


def history_of(namespace, name, run, rerun):
    """What the dict ``name`` says it ran, its losses, and the losses of its first
    ``rerun["epochs"]`` again (``run``: the rule's functions and hyperparameters).

    The rerun is eager first: a rule written with NumPy runs only eagerly, and the
    numbers are what is checked, not the speed. Only when the eager rerun does not
    give the history's first losses is the rule rerun compiled too, as ``train``
    runs it by default (a rule may compute otherwise in a ``tf.function``); the judge
    accepts either.
    """
    history = namespace.get(name)
    if not isinstance(history, dict):
        return {"error": f"no dict named {name}"}
    try:
        out = {
            "rule": str(history.get("rule")),
            "epochs": int(history.get("epochs", -1)),
            "hyperparams": {str(k): float(v)
                            for k, v in dict(history.get("hyperparams", {})).items()},
            "loss": loss_numbers(history.get("loss", [])),
        }
    except Exception as error:
        return {"error": f"{type(error).__name__}"}
    epochs = rerun["epochs"]
    out["rerun"] = rerun_losses(namespace, run, epochs, compiled=False)
    if not same_losses(out["rerun"], out["loss"][:epochs], rerun["rtol"]):
        out["rerun_compiled"] = rerun_losses(namespace, run, epochs, compiled=True)
    return out


def axes_of(fig):
    """Title, labels, legend and lines of each Axes of ``fig``, or why not."""
    try:
        axes = []
        for ax in fig.get_axes():
            legend = ax.get_legend()
            axes.append({
                "title": ax.get_title(),
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "legend": legend is not None,
                "lines": [{"label": str(line.get_label()),
                           "y": loss_numbers(line.get_ydata())}
                          for line in ax.get_lines()],
            })
        return axes
    except Exception as error:
        return f"fig is not a matplotlib figure ({type(error).__name__})"


def probe_histories_plot(namespace, runs, rerun):
    """Each history ``runs`` names, and the figure ``fig``; ``rerun``: how many epochs
    to rerun, and the tolerance within which a rerun gives the history's losses."""
    histories = {name: history_of(namespace, name, run, rerun)
                 for name, run in runs.items()}
    return {"histories": histories, "axes": axes_of(namespace.get("fig"))}
