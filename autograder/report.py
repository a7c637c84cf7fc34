"""``report``: one self-contained HTML page for the instructor, with plots.

For each assignment: the distribution of total scores, the outcome of every part, the
judge's most frequent messages; across assignments: the hardest parts and every failed
submission with its reason. Plots are matplotlib PNGs embedded in the page (base64),
so the page works offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter
from pathlib import Path

from autograder import gradebook as gbook
from autograder.cli import atomic_write_text, load_results
from autograder.export import assignments_in

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: .8rem 0 1.4rem; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .6rem; text-align: left;
         vertical-align: top; }
th { background: #f4f4f4; }
img { max-width: 100%; }
td ul { margin: 0; padding-left: 1.1rem; }
.figs { display: flex; flex-wrap: wrap; gap: 1rem; }
.figs img { width: 28rem; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/png;base64,{data}"


def collect_data(workspace: Path, assignment: str, db: str | None) -> dict:
    results = load_results(workspace, assignment)
    with gbook.open_gradebook(gbook.db_url(workspace, db)) as gb:
        try:
            scores = gbook.notebook_scores(gb, assignment, assignment)
        except Exception:  # noqa: BLE001 - not in the gradebook: results alone
            scores = {}
    parts: dict[str, dict] = {}
    for student, result in results.items():
        for gid, part in result.get("parts", {}).items():
            info = parts.setdefault(gid, {"title": part.get("title") or gid,
                                          "max": part.get("max_points", 0),
                                          "auto": part.get("auto", True),
                                          "passed": 0, "not_passed": 0, "failed": 0,
                                          "by_hand": 0,
                                          "scores": [], "messages": Counter()})
            book = scores.get(student, {}).get("parts", {})
            info["scores"].append(book.get(gid, part.get("points")) or 0.0)
            if not part.get("auto", True):
                info["by_hand"] += 1
            elif result.get("status") != "graded" and not part.get("passed"):
                info["failed"] += 1
            elif part.get("passed"):
                info["passed"] += 1
            else:
                info["not_passed"] += 1
            info["messages"].update(m for m in part.get("messages", [])
                                    if m != "graded by hand")
    totals = {s: scores.get(s, {}).get("score", r.get("score", 0.0))
              for s, r in results.items()}
    max_score = max((r.get("max_score", 0) for r in results.values()), default=0)
    return {"results": results, "totals": totals, "parts": parts, "max": max_score}


def score_histogram(assignment: str, totals: list[float], max_score: float):
    """A matplotlib figure: how many students got each total score."""
    import matplotlib.pyplot as plt

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
    for key, label, color in (("passed", "passed", "#2e8b57"),
                              ("not_passed", "not passed", "#d9822b"),
                              ("failed", "submission failed", "#a61b1b"),
                              ("by_hand", "graded by hand", "#9a9a9a")):
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


def _hardest_chart(rows: list[tuple]) -> str:
    import matplotlib.pyplot as plt

    rows = rows[:12]
    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.4 * max(len(rows), 1)))
    labels = [f"{a} / {g}" for a, g, *_ in rows]
    ax.barh(labels, [100 * r[2] for r in rows], color="#3b75af")
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_title("Hardest parts: share of students who passed")
    ax.set_xlabel("passed (% of submissions)")
    ax.set_ylabel("assignment / part")
    return _png(fig)


def write_report(workspace: Path, assignments: list[str] | None = None,
                 db: str | None = None) -> Path:
    assignments = assignments or assignments_in(workspace)
    if not assignments:
        raise FileNotFoundError(f"no results in {workspace}/results (run grade first)")
    sections, hardest, failed, summary = [], [], [], []
    for assignment in assignments:
        data = collect_data(workspace, assignment, db)
        results, totals = data["results"], data["totals"]
        n_failed = sum(r.get("status") != "graded" for r in results.values())
        values = list(totals.values()) or [0.0]
        seconds = [r["seconds"] for r in results.values() if "seconds" in r]
        boxed = sum(bool(r.get("sandboxed")) for r in results.values())
        summary.append((assignment, len(results), len(results) - n_failed, n_failed,
                        statistics.mean(values), statistics.median(values), data["max"],
                        statistics.median(seconds) if seconds else None,
                        f"{boxed} of {len(results)}"))
        part_rows = []
        for gid, info in data["parts"].items():
            n = info["passed"] + info["not_passed"] + info["failed"]
            rate = info["passed"] / n if n else 0.0
            common = "".join(f"<li>{_e(m)} ({k}&times;)</li>"
                             for m, k in info["messages"].most_common(2))
            common = f"<ul>{common}</ul>" if common else ""
            if info["auto"]:
                hardest.append((assignment, gid, rate, common))
            part_rows.append(
                f"<tr><td>{_e(info['title'])}<br><code>{_e(gid)}</code></td>"
                f"<td>{info['max']:g}</td><td>{statistics.mean(info['scores']):.2f}</td>"
                f"<td>{rate:.0%}</td><td>{common}</td></tr>")
        for student, result in sorted(results.items()):
            if result.get("status") != "graded":
                failed.append((assignment, student, result.get("reason", "")))
        sections.append(f"""
<h2>{_e(assignment)}</h2>
<div class="figs"><img alt="Histogram of total scores for {_e(assignment)}"
 src="{_png(score_histogram(assignment, list(totals.values()), data['max']))}">
<img alt="Outcome per part for {_e(assignment)}"
 src="{_png(parts_outcomes(assignment, data['parts']))}">
</div>
<table><thead><tr><th>Part</th><th>Points</th><th>Mean score</th><th>Passed</th>
<th>Most frequent messages (count)</th></tr></thead>
<tbody>{''.join(part_rows)}</tbody></table>""")
    hardest.sort(key=lambda r: r[2])
    summary_rows = "".join(
        f"<tr><td>{_e(a)}</td><td>{n}</td><td>{g}</td><td>{f}</td><td>{m:.2f}</td>"
        f"<td>{md:g}</td><td>{mx:g}</td><td>{'-' if s is None else f'{s:.1f} s'}</td>"
        f"<td>{box}</td></tr>"
        for a, n, g, f, m, md, mx, s, box in summary)
    hardest_rows = "".join(
        f"<tr><td>{_e(a)}</td><td><code>{_e(g)}</code></td><td>{r:.0%}</td>"
        f"<td>{c}</td></tr>" for a, g, r, c in hardest[:12])
    failed_rows = "".join(f"<tr><td>{_e(a)}</td><td>{_e(s)}</td><td>{_e(r)}</td></tr>"
                          for a, s, r in failed) or \
        '<tr><td colspan="3">none</td></tr>'
    hardest_fig = (f'<img alt="Bar chart of the hardest parts" '
                   f'src="{_hardest_chart(hardest)}">' if hardest else "")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Grading report</title>
<style>{STYLE}</style></head><body>
<h1>Grading report</h1>
<table><thead><tr><th>Assignment</th><th>Submissions</th><th>Graded</th><th>Failed</th>
<th>Mean</th><th>Median</th><th>Max</th><th>Median time per notebook</th>
<th>Sandboxed</th></tr></thead>
<tbody>{summary_rows}</tbody></table>
<h2>Hardest parts</h2>
{hardest_fig}
<table><thead><tr><th>Assignment</th><th>Part</th><th>Passed</th>
<th>Most frequent messages (count)</th></tr></thead><tbody>{hardest_rows}</tbody></table>
<h2>Failed submissions</h2>
<table><thead><tr><th>Assignment</th><th>Student</th><th>Why</th></tr></thead>
<tbody>{failed_rows}</tbody></table>
{''.join(sections)}
</body></html>
"""
    path = workspace / "report.html"
    atomic_write_text(path, page)
    return path
