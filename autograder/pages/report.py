"""``report``: one self-contained HTML page for the instructor, with plots.

For each assignment: the distribution of total scores, the outcome of every part, the
judge's most frequent messages; across assignments: the hardest parts and every failed
submission with its reason. Plots are matplotlib PNGs embedded in the page (base64),
so the page works offline and can be mailed as one file. The page itself is
``templates/report.html.j2``.
"""

from __future__ import annotations

import base64
import io
import statistics
from collections import Counter
from pathlib import Path

from autograder import gradebook as gbook
from autograder.pages.render import render
from autograder.grading.result import graded_results
from autograder.workspace import atomic_write_text, graded_assignments
# The two plots are public (the grading page draws them too); re-exported here.
from course.grade_plots import parts_outcomes, score_histogram


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/png;base64,{data}"


def collect_data(workspace: Path, assignment: str, db: str | None) -> dict:
    results = graded_results(workspace, assignment)
    scores, why_not = gbook.scores_or_reason(gbook.db_url(workspace, db), assignment)
    parts: dict[str, dict] = {}
    for student, result in results.items():
        for gid, part in result.parts.items():
            info = parts.setdefault(gid, {"title": part.title or gid,
                                          "max": part.max_points, "auto": part.auto,
                                          "passed": 0, "not_passed": 0, "failed": 0,
                                          "by_hand": 0,
                                          "scores": [], "messages": Counter()})
            book = scores.get(student, {}).get("parts", {})
            info["scores"].append(book.get(gid, part.points) or 0.0)
            if not part.auto:
                info["by_hand"] += 1
            elif result.status != "graded" and not part.passed:
                info["failed"] += 1
            elif part.passed:
                info["passed"] += 1
            else:
                info["not_passed"] += 1
            info["messages"].update(m for m in part.messages if m != "graded by hand")
    totals = {s: scores.get(s, {}).get("score", r.score) for s, r in results.items()}
    max_score = max((r.max_score for r in results.values()), default=0)
    return {"results": results, "totals": totals, "parts": parts, "max": max_score,
            "manual_unavailable": why_not}


def _hardest_chart(rows: list[dict]) -> str:
    import matplotlib.pyplot as plt

    rows = rows[:12]
    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.4 * max(len(rows), 1)))
    labels = [f"{r['assignment']} / {r['grade_id']}" for r in rows]
    ax.barh(labels, [100 * r["rate"] for r in rows], color="#3b75af")
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_title("Hardest parts: share of students who passed")
    ax.set_xlabel("passed (% of submissions)")
    ax.set_ylabel("assignment / part")
    return _png(fig)


def write_report(workspace: Path, assignments: list[str] | None = None,
                 db: str | None = None) -> Path:
    """Write ``<workspace>/report.html`` for the assignments (default: every graded one)."""
    summary, sections, hardest, failed = [], [], [], []
    for assignment in graded_assignments(workspace, assignments):
        data = collect_data(workspace, assignment, db)
        summary.append(summary_row(assignment, data))
        section = assignment_section(assignment, data)
        sections.append(section)
        hardest += [dict(part, assignment=assignment) for part in section["parts"]
                    if part["auto"]]
        failed += [{"assignment": assignment, "student": student,
                    "reason": result.reason or ""}
                   for student, result in sorted(data["results"].items())
                   if result.status != "graded"]
    hardest.sort(key=lambda part: part["rate"])
    page = render("report.html.j2", summary=summary, sections=sections,
                  hardest=hardest[:12], failed=failed,
                  hardest_chart=_hardest_chart(hardest) if hardest else None)
    path = workspace / "report.html"
    atomic_write_text(path, page)
    return path


def summary_row(assignment: str, data: dict) -> dict:
    """One assignment's line of the summary table."""
    results, values = data["results"], list(data["totals"].values()) or [0.0]
    n_failed = sum(r.status != "graded" for r in results.values())
    seconds = [r.seconds for r in results.values() if r.seconds is not None]
    boxed = sum(bool(r.sandboxed) for r in results.values())
    return {"assignment": assignment, "n": len(results), "graded": len(results) - n_failed,
            "failed": n_failed, "mean": statistics.mean(values),
            "median": statistics.median(values), "max": data["max"],
            "seconds": statistics.median(seconds) if seconds else None,
            "sandboxed": f"{boxed} of {len(results)}"}


def assignment_section(assignment: str, data: dict) -> dict:
    """One assignment's plots and table of parts."""
    parts = []
    for gid, info in data["parts"].items():
        n = info["passed"] + info["not_passed"] + info["failed"]
        parts.append({"grade_id": gid, "title": info["title"], "max": info["max"],
                      "auto": info["auto"], "mean": statistics.mean(info["scores"]),
                      "rate": info["passed"] / n if n else 0.0,
                      "messages": info["messages"].most_common(2)})
    return {"assignment": assignment, "parts": parts,
            "manual_unavailable": data["manual_unavailable"],
            "histogram": _png(score_histogram(assignment, list(data["totals"].values()),
                                              data["max"])),
            "outcomes": _png(parts_outcomes(assignment, data["parts"]))}
