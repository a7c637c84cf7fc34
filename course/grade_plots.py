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
