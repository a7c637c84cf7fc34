"""``feedback``: one HTML page per student, built from the grading results only.

A page shows the score per part, which checks failed and the judge's teaching message.
It is built from the result JSON (messages, notes) and the gradebook (scores, so that
an instructor's manual grades show); it never reads the instructor's notebook or the
checks, so no hidden test's source can reach it. Pages land in nbgrader's feedback
layout: ``<workspace>/feedback/<student>/<assignment>/<assignment>.html``; the page
itself is ``templates/feedback.html.j2``.
"""

from __future__ import annotations

from pathlib import Path

from autograder import gradebook as gbook
from autograder.pages import render as render_page
from autograder.workspace import atomic_write_text, graded_results


def render(student: str, assignment: str, result: dict, scores: dict | None,
           manual_unavailable: str | None = None) -> str:
    """The feedback page of one student (scores from the gradebook when given);
    ``manual_unavailable`` says why the gradebook's scores could not be read."""
    book = (scores or {}).get("parts", {})
    parts = []
    for gid, part in result.get("parts", {}).items():
        parts.append({
            "grade_id": gid, "title": part.get("title") or gid,
            "score": book.get(gid, part.get("points")),
            "max_points": part.get("max_points"), "auto": part.get("auto"),
            "passed": part.get("passed"),
            "messages": [m for m in part.get("messages", []) if m != "graded by hand"]})
    pending = sum(p.get("max_points", 0) for gid, p in result.get("parts", {}).items()
                  if not p.get("auto") and book.get(gid) is None)
    return render_page(
        "feedback.html.j2", student=student, assignment=assignment, parts=parts,
        total=(scores or {}).get("score", result.get("score", 0.0)),
        max_total=(scores or {}).get("max_score", result.get("max_score", 0.0)),
        pending=pending, manual_unavailable=manual_unavailable,
        status=result.get("status"), reason=result.get("reason"),
        notes=result.get("notes", []), graded_at=result.get("graded_at", ""))


def write_feedback(workspace: Path, assignment: str, db: str | None = None
                   ) -> list[Path]:
    """Write every graded student's page; returns the paths."""
    results = graded_results(workspace, assignment)
    scores, why_not = gbook.scores_or_reason(gbook.db_url(workspace, db), assignment)
    paths = []
    for student, result in sorted(results.items()):
        path = workspace / "feedback" / student / assignment / f"{assignment}.html"
        atomic_write_text(path, render(student, assignment, result, scores.get(student),
                                       why_not))
        paths.append(path)
    return paths
