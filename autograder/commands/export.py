"""``export``: grades as CSV, one file per assignment, one column per graded part.

A part nobody has scored yet (a written answer before manual grading) is left blank.

Scores come from nbgrader's gradebook, so manual grades entered in the formgrader are
included; ``status`` and ``reason`` come from the grading results. nbgrader's own
``nbgrader export`` keeps working on the same gradebook (one row per student and
assignment, totals only).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from autograder import gradebook as gbook
from autograder.errors import UsageError
from autograder.grading.result import graded_results
from autograder.workspace import atomic_write_text, graded_assignments


def rows(workspace: Path, assignment: str, db: str | None = None):
    """(header, rows) for one assignment."""
    results = graded_results(workspace, assignment)
    url = gbook.db_url(workspace, db)
    with gbook.open_gradebook(url) as gb:
        try:
            notebook = gb.find_notebook(assignment, assignment)
        except gbook.MissingEntry:
            raise UsageError(f"the gradebook {url} has no assignment {assignment}: "
                             "export needs the gradebook grade wrote (--db?)") from None
        parts = [c.name for c in notebook.grade_cells]
        scores = gbook.notebook_scores(gb, assignment, assignment)
    # the notebook's order, not the database's
    order = list(next(iter(results.values())).parts)
    parts = sorted(parts, key=lambda p: order.index(p) if p in order else len(order))
    header = ["student_id", *parts, "total", "max_score", "needs_manual_grade", "status",
              "reason"]
    out = []
    for student in sorted(set(scores) | set(results)):
        book = scores.get(student, {})
        result = results.get(student)
        row = [student]
        for part in parts:
            value = book.get("parts", {}).get(part)
            row.append("" if value is None else f"{value:g}")
        total = book.get("score", result.score if result else None)
        row += ["" if total is None else f"{total:g}",
                f"{book.get('max_score', result.max_score if result else 0):g}",
                "yes" if book.get("needs_manual_grade") else "no",
                result.status if result else "not graded by this tool",
                (result.reason if result else None) or ""]
        out.append(row)
    return header, out


def export(workspace: Path, assignments: list[str] | None = None, db: str | None = None,
           out_dir: Path | None = None) -> list[Path]:
    """Write ``<workspace>/export/<assignment>.csv`` for each assignment."""
    out_dir = out_dir or workspace / "export"
    paths = []
    for assignment in graded_assignments(workspace, assignments):
        header, body = rows(workspace, assignment, db)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(body)
        path = out_dir / f"{assignment}.csv"
        atomic_write_text(path, buffer.getvalue())
        paths.append(path)
    return paths
