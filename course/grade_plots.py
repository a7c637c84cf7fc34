"""The grade report's two plots (pure matplotlib, no grading logic).

The instructor's ``autograder.report`` embeds them in ``report.html``; the grading page
of the book draws them from the demo class's grades, so the public course can build
that page without the grader.
"""

OUTCOMES = (("passed", "passed", "#2e8b57"),
            ("not_passed", "not passed", "#d9822b"),
            ("failed", "submission failed", "#a61b1b"),
            ("by_hand", "graded by hand", "#9a9a9a"))


def score_histogram(assignment: str, totals: list[float], max_score: float):
    """A matplotlib figure: how many students got each total score."""
    import matplotlib.pyplot as plt  # here: `python -m autograder` loads pyplot only to plot

    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    top = max(max_score, 1)
    bins = [x - 0.5 for x in range(int(top) + 2)] if top <= 40 else 20
    ax.hist(totals, bins=bins, color="#3b75af", edgecolor="white")
    ax.set_title(f"{assignment}: total scores ({len(totals)} submissions)")
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return fig


def parts_outcomes(assignment: str, outcomes: dict[str, dict[str, int]]):
    """A matplotlib figure: per part, how many students passed, did not pass, had a
    submission that failed as a whole, or await manual grading.
    ``outcomes``: {part: {"passed": n, "not_passed": n, "failed": n, "by_hand": n}}."""
    import matplotlib.pyplot as plt

    names = list(outcomes)
    fig, ax = plt.subplots(figsize=(5.2, 0.9 + 0.45 * max(len(names), 1)))
    left = [0] * len(names)
    for key, label, color in OUTCOMES:
        values = [outcomes[n].get(key, 0) for n in names]
        if not any(values):
            continue
        ax.barh(names, values, left=left, label=label, color=color)
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()
    ax.set_title(f"{assignment}: outcome per part")
    ax.set_xlabel("students")
    ax.set_ylabel("part (grade_id)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize="small",
              frameon=False)
    return fig


#: the grading steps of ``benchmarks/grading_cost.py``'s profile, in the groups the
#: grading page's bars show (the first group's steps are the grader's bookkeeping)
COST_GROUPS = (
    ("read, write, record", ("between submissions", "read and assemble",
                             "write graded notebook", "record result"), "#9a9a9a"),
    ("kernel start and stop", ("kernel start", "kernel stop"), "#6b4c9a"),
    ("set-up cell", ("set-up cell",), "#3b75af"),
    ("the student's cells", ("student's cells",), "#2e8b57"),
    ("visible checks", ("visible checks",), "#9acd32"),
    ("probes (hidden checks)", ("probe",), "#d9822b"),
    ("judges", ("judge",), "#a61b1b"),
)


def cost_by_group(cost: dict) -> dict[str, dict[str, float]]:
    """What the grading page's bars show, from ``benchmarks/results/grading_cost.json``:
    per assignment, the measured CPU seconds of one submission (``"measured"``) and the
    profile's CPU seconds in each of ``COST_GROUPS``, rounded to 0.01 s."""
    out = {}
    for name, row in cost["assignments"].items():
        groups = {"measured": round(row["cpu_s_per_submission"], 2)}
        for label, steps, _ in COST_GROUPS:
            groups[label] = round(sum(row["profile"].get(step, {}).get("cpu_s", 0.0)
                                      for step in steps), 2)
        out[name] = groups
    return out


def grading_cost_bars(costs: dict[str, dict[str, float]], budget: float | None = None):
    """A matplotlib figure: one stacked bar per assignment, the CPU seconds of one
    submission by step (``costs``: ``cost_by_group``'s dict); the measured whole is
    written beside each bar, and what the profile does not attribute is the bar's
    hatched end; ``budget``: a dashed line at that many seconds."""
    import matplotlib.pyplot as plt

    names = list(costs)
    fig, ax = plt.subplots(figsize=(7.0, 1.6 + 0.5 * len(names)))
    left = [0.0] * len(names)
    for label, _, color in COST_GROUPS:
        values = [costs[n].get(label, 0.0) for n in names]
        ax.barh(names, values, left=left, label=label, color=color)
        left = [a + b for a, b in zip(left, values)]
    rest = [max(0.0, costs[n]["measured"] - done) for n, done in zip(names, left)]
    if any(rest):
        ax.barh(names, rest, left=left, label="not attributed", color="white",
                edgecolor="#555555", hatch="///")
    for y, name in enumerate(names):
        total = costs[name]["measured"]
        ax.text(max(total, left[y]) + 0.1, y, f"{total:.2f} s", va="center",
                fontsize="small")
    if budget is not None:
        ax.axvline(budget, color="black", linestyle="--", linewidth=1)
        ax.text(budget, len(names) - 0.45, f" {budget:g} s", va="top", fontsize="small")
    ax.invert_yaxis()
    ax.set_xlim(0, 1.18 * max([*left, budget or 0.0, *(c["measured"] for c in costs.values())]))
    ax.set_title("Where one submission's CPU seconds go, by step")
    ax.set_xlabel("CPU seconds per submission (one worker, warm kernels, sandboxed)")
    ax.set_ylabel("assignment")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, fontsize="small",
              frameon=False)
    return fig
