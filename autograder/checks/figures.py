"""Probe and judge for "train with the common loop and plot" parts.

The probe reads the histories the student's answer produced (``train`` returns what it
ran: the rule's name, the hyperparameters, the epochs) and the lines of ``fig``, and
reruns the first epochs of the student's own rule with the stated hyperparameters
through the set-up cell's ``train``. The judge checks that each history came from the
student's own rule with the specified settings (its first losses are what the rerun
gives: typed-in numbers fail), and that the figure shows each history's loss, labelled,
in one plot. A wrong rule costs its own part, not this one: the rerun reproduces it.
"""

from autograder.checks.kit import number, numbers, same_curve, short_repr

RERUN_EPOCHS = 3
RERUN_RTOL = 1e-6  # the same float64 loop twice: equal to ~1e-15


def probe(histories):
    """``histories``: {name: {"rule", "epochs", "hyperparams"}} (the part's STATIC)."""
    runs = {name: {"init": spec["rule"].replace("_update", "_init"), "update": spec["rule"],
                   "stated_hyperparams": spec["hyperparams"]}
            for name, spec in histories.items()}
    return PROBE.replace("RUNS", repr(runs)).replace("RERUN_EPOCHS", repr(RERUN_EPOCHS))


PROBE = '''\
def _probe_figure(runs, rerun_epochs):
    import numpy as np

    def plain(values):
        try:
            return [float(v) if np.isfinite(v) else None
                    for v in np.asarray(values, dtype=np.float64).ravel()]
        except Exception:
            return "not numbers"

    out = {"histories": {}, "axes": None}
    for name, run in runs.items():
        history = globals().get(name)
        if not isinstance(history, dict):
            out["histories"][name] = {"error": f"no dict named {name}"}
            continue
        try:
            out["histories"][name] = {
                "rule": str(history.get("rule")),
                "epochs": int(history.get("epochs", -1)),
                "hyperparams": {str(k): float(v) for k, v in dict(history.get("hyperparams", {})).items()},
                "loss": plain(history.get("loss", [])),
            }
        except Exception as error:
            out["histories"][name] = {"error": f"{type(error).__name__}"}
            continue
        try:  # the first epochs again, with the stated settings
            rerun = train(globals()[run["init"]], globals()[run["update"]],
                          dict(run["stated_hyperparams"]), epochs=rerun_epochs)
            out["histories"][name]["rerun"] = plain(rerun["loss"])
        except Exception as error:
            out["histories"][name]["rerun"] = f"{type(error).__name__}"
    fig = globals().get("fig")
    try:
        axes = []
        for ax in fig.get_axes():
            legend = ax.get_legend()
            axes.append({
                "title": ax.get_title(),
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "legend": legend is not None,
                "lines": [{"label": str(line.get_label()), "y": plain(line.get_ydata())}
                          for line in ax.get_lines()],
            })
        out["axes"] = axes
    except Exception as error:
        out["axes"] = f"fig is not a matplotlib figure ({type(error).__name__})"
    return out


_probe_figure(RUNS, RERUN_EPOCHS)'''


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
    rerun = numbers(have.get("rerun"))
    if rerun is None or not rerun:
        messages.append(f"The check could not rerun your {want['rule']} "
                        f"({short_repr(have.get('rerun'))}).")
    elif not same_curve(loss[:len(rerun)], rerun, RERUN_RTOL):
        messages.append(
            f"{name}['loss'] is not what your {want['rule']} gives: the check reran the "
            f"first {len(rerun)} epochs of train with {want['hyperparams']} and got other "
            "losses. Keep the history that train returns.")
    return messages, loss


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
