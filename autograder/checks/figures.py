"""Probe and judge for "train with the common loop and plot" parts.

The probe (``in_kernel/figures.py``) reads the histories the student's answer produced
(``train`` returns what it ran: the rule's name, the hyperparameters, the epochs) and the
lines of ``fig``, and reruns the first epochs of the student's own rule with the stated
hyperparameters through the set-up cell's ``train``: eagerly, as ``train(...,
compiled=False)`` runs it, and compiled as well when the eager rerun does not give the
history (a rule written with NumPy runs only eagerly; one that computes otherwise in a
``tf.function`` is reproduced compiled). The judge checks that each history came from
the student's own rule with the specified settings (its first losses are what either
rerun gives: typed-in numbers fail), and that the figure shows each history's loss,
labelled, in one plot. A wrong rule costs its own part, not this one: the rerun
reproduces it.
"""

from autograder.checks.in_kernel.figures import probe_histories_plot
from autograder.checks.kit import number, numbers, same_curve, short_repr
from autograder.checks.probe import Probe

RERUN_EPOCHS = 3
RERUN_RTOL = 1e-6  # the same float64 loop twice: equal to ~1e-15


def probe(histories) -> Probe:
    """``histories``: {name: {"rule", "epochs", "hyperparams"}} (the part's STATIC)."""
    runs = {name: {"init": spec["rule"].replace("_update", "_init"), "update": spec["rule"],
                   "stated_hyperparams": spec["hyperparams"]}
            for name, spec in histories.items()}
    return Probe(probe_histories_plot,
                 {"runs": runs, "rerun": {"epochs": RERUN_EPOCHS, "rtol": RERUN_RTOL}})


def _history_messages(name, have, want):
    """(messages, the history's losses or None) for one history."""
    if not isinstance(have, dict) or "error" in have:
        return [f"{name}: {short_repr(have)}; run your training cell first."], None
    messages = []
    if have.get("rule") != want["rule"]:
        messages.append(f"{name} should be trained with your {want['rule']}, "
                        f"it was trained with {short_repr(have.get('rule'))}.")
    if have.get("epochs") != want["epochs"]:
        messages.append(f"{name} should run {want['epochs']} epochs, "
                        f"not {short_repr(have.get('epochs'))}.")
    hyper = have.get("hyperparams")
    if not isinstance(hyper, dict) or any(
        number(hyper.get(k)) is None or abs(number(hyper.get(k)) - v) > 1e-12
        for k, v in want["hyperparams"].items()
    ):
        messages.append(f"{name} should use the hyperparameters {want['hyperparams']}.")
    loss = numbers(have.get("loss"))
    if loss is None or len(loss) != want["epochs"]:
        return messages + [f"{name}['loss'] should have one value per epoch."], None
    messages += _rerun_messages(name, loss, have, want)
    return messages, loss


def _rerun_messages(name, loss, have, want):
    """[] when the history's first losses are what the eager or the compiled rerun of
    the student's rule gave; else why not, telling a rule that fails only compiled
    (fine: train(..., compiled=False) runs it) from one that gives other numbers."""
    losses, errors = {}, {}
    for how, key in (("eagerly", "rerun"), ("compiled", "rerun_compiled")):
        value = have.get(key)
        values = numbers(value, RERUN_EPOCHS)
        if values is not None:
            losses[how] = values
        elif value is not None:  # not run: the eager rerun gave the history
            error = value.get("error") if isinstance(value, dict) else None
            errors[how] = error if isinstance(error, str) else short_repr(value)
    if any(same_curve(loss[:RERUN_EPOCHS], values, RERUN_RTOL) for values in losses.values()):
        return []
    rule = want["rule"]
    if not losses:
        raised = " and ".join(f"{how} it raised {error}" for how, error in errors.items())
        return [f"The check could not rerun your {rule} with train "
                f"({raised or 'it gave no losses'})."]
    compiled = (f" (compiled, your {rule} raised {errors['compiled']}: that alone is "
                "fine, the eager rerun counts)" if "compiled" in errors else "")
    return [f"{name}['loss'] is not what your {rule} gives: the check reran the first "
            f"{RERUN_EPOCHS} epochs of train with {want['hyperparams']}{compiled} and got "
            "other losses. Keep the history that train returns."]


def _line_messages(name, loss, axes):
    found = None
    for ax in axes:
        lines = ax.get("lines") if isinstance(ax, dict) else None
        for line in lines if isinstance(lines, list) else []:
            y = numbers(line.get("y")) if isinstance(line, dict) else None
            if y is not None and same_curve(y, loss, 1e-9):
                found = (ax, line)
    if found is None:
        return [f"No line of fig shows {name}['loss']."]
    ax, line = found
    messages = []
    label = line.get("label")
    if not isinstance(label, str) or not label or label.startswith("_"):
        messages.append(f"The line of {name} needs a label (plot(..., label=...)).")
    if not ax.get("legend"):
        messages.append("Add a legend (ax.legend()) so a reader can tell the curves apart.")
    if not ax.get("title") or not ax.get("xlabel") or not ax.get("ylabel"):
        messages.append("Give the plot a title and label both axes.")
    return messages


def judge_histories_plot(got, ref):
    """``ref``: {"histories": {name: {"rule", "epochs", "hyperparams"}}, "one_axes": bool}."""
    if not isinstance(got, dict) or not isinstance(got.get("histories"), dict):
        return [f"The check could not read your histories (it got {short_repr(got)})."]
    messages, histories = [], {}
    for name, want in ref["histories"].items():
        problems, loss = _history_messages(name, got["histories"].get(name), want)
        messages += problems
        if loss is not None:
            histories[name] = loss
    axes = got.get("axes")
    if not isinstance(axes, list) or not axes:
        messages.append("fig should be a matplotlib figure with a plot; the check found "
                        f"{short_repr(axes)}.")
        return messages
    if ref.get("one_axes") and len(axes) != 1:
        messages.append("Put every curve in one plot (one Axes), so they can be compared.")
    for name, loss in histories.items():
        messages += _line_messages(name, loss, axes)
    return sorted(set(messages), key=messages.index)
