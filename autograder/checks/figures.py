"""Probe and judge for "train with the common loop and plot" parts.

The probe reads the histories the student's answer produced (``train`` returns what it
ran: the rule's name, the hyperparameters, the epochs) and the lines of ``fig``. The
judge checks that each history came from the student's own rule with the specified
settings, and that the figure shows each history's loss, labelled, in one plot.
Nothing is re-trained at grading time.
"""

from autograder.checks.kit import number, numbers, short_repr


def probe(history_names):
    return PROBE.replace("HISTORY_NAMES", repr(list(history_names)))


PROBE = '''\
def _probe_figure(history_names):
    import numpy as np

    def plain(values):
        try:
            return [float(v) if np.isfinite(v) else None
                    for v in np.asarray(values, dtype=np.float64).ravel()]
        except Exception:
            return "not numbers"

    out = {"histories": {}, "axes": None}
    for name in history_names:
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
            out["histories"][name] = {"error": f"{type(error).__name__}: {error}"[:300]}
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


_probe_figure(HISTORY_NAMES)'''


def judge_histories_plot(got, ref):
    """``ref``: {"histories": {name: {"rule", "epochs", "hyperparams"}}, "one_axes": bool}."""
    if not isinstance(got, dict) or not isinstance(got.get("histories"), dict):
        return [f"The check could not read your histories (it got {short_repr(got)})."]
    messages = []
    histories = {}
    for name, want in ref["histories"].items():
        have = got["histories"].get(name)
        if not isinstance(have, dict) or "error" in have:
            messages.append(f"{name}: {short_repr(have)}; run your training cell first.")
            continue
        if have.get("rule") != want["rule"]:
            messages.append(
                f"{name} should be trained with your {want['rule']}, "
                f"it was trained with {short_repr(have.get('rule'))}."
            )
        if have.get("epochs") != want["epochs"]:
            messages.append(f"{name} should run {want['epochs']} epochs, not {have.get('epochs')}.")
        hyper = have.get("hyperparams")
        if not isinstance(hyper, dict) or any(
            number(hyper.get(k)) is None or abs(hyper.get(k) - v) > 1e-12
            for k, v in want["hyperparams"].items()
        ):
            messages.append(f"{name} should use the hyperparameters {want['hyperparams']}.")
        loss = numbers(have.get("loss"))
        if loss is None or len(loss) != want["epochs"]:
            messages.append(f"{name}['loss'] should have one value per epoch.")
        else:
            histories[name] = loss
    axes = got.get("axes")
    if not isinstance(axes, list) or not axes:
        messages.append(f"fig should be a matplotlib figure with a plot; the check found {short_repr(axes)}.")
        return messages
    if ref.get("one_axes") and len(axes) != 1:
        messages.append("Put every curve in one plot (one Axes), so they can be compared.")
    for name, loss in histories.items():
        found = None
        for ax in axes:
            for line in ax.get("lines", []) if isinstance(ax, dict) else []:
                y = numbers(line.get("y")) if isinstance(line, dict) else None
                if y is not None and len(y) == len(loss) and all(
                    a is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b)) for a, b in zip(y, loss)
                ):
                    found = (ax, line)
        if found is None:
            messages.append(f"No line of fig shows {name}['loss'].")
            continue
        ax, line = found
        if str(line.get("label", "")).startswith("_") or not line.get("label"):
            messages.append(f"The line of {name} needs a label (plot(..., label=...)).")
        if not ax.get("legend"):
            messages.append("Add a legend (ax.legend()) so a reader can tell the curves apart.")
        if not ax.get("title") or not ax.get("xlabel") or not ax.get("ylabel"):
            messages.append("Give the plot a title and label both axes.")
    return sorted(set(messages), key=messages.index)
