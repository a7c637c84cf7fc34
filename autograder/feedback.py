"""``feedback``: one HTML page per student, built from the grading results only.

A page shows the score per part, which checks failed and the judge's teaching message.
It is built from the result JSON (messages, notes) and the gradebook (scores, so that
an instructor's manual grades show); it never reads the instructor's notebook or the
checks, so no hidden test's source can reach it. Pages land in nbgrader's feedback
layout: ``<workspace>/feedback/<student>/<assignment>/<assignment>.html``.
"""

from __future__ import annotations

import html
from pathlib import Path

from autograder import gradebook as gbook
from autograder.cli import atomic_write_text, load_results

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .45rem .5rem; text-align: left;
         vertical-align: top; }
th { background: #f4f4f4; }
.pass { color: #17692f; font-weight: 600; }
.fail { color: #a61b1b; font-weight: 600; }
.hand { color: #6b5200; font-weight: 600; }
.total { font-size: 1.4rem; }
.status-failed { background: #fdecea; border-left: 4px solid #a61b1b; padding: .6rem; }
ul { margin: .2rem 0 .2rem 1.1rem; padding: 0; }
footer { color: #666; font-size: .85rem; margin-top: 2rem; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _points(value) -> str:
    return "-" if value is None else f"{value:g}"


def render(student: str, assignment: str, result: dict, scores: dict | None) -> str:
    """The feedback page of one student (scores from the gradebook when given)."""
    parts = result.get("parts", {})
    book = (scores or {}).get("parts", {})
    total = (scores or {}).get("score", result.get("score", 0.0))
    max_total = (scores or {}).get("max_score", result.get("max_score", 0.0))
    rows = []
    for gid, part in parts.items():
        score = book.get(gid, part.get("points"))
        if not part.get("auto"):
            verdict = '<span class="hand">graded by hand</span>'
        elif part.get("passed"):
            verdict = '<span class="pass">passed</span>'
        else:
            verdict = '<span class="fail">not passed</span>'
        messages = "".join(f"<li>{_e(m)}</li>" for m in part.get("messages", [])
                           if m != "graded by hand")
        title = part.get("title") or gid
        rows.append(
            f"<tr><td>{_e(title)}<br><code>{_e(gid)}</code></td>"
            f"<td>{_points(score)} / {_points(part.get('max_points'))}</td>"
            f"<td>{verdict}</td><td>{'<ul>' + messages + '</ul>' if messages else ''}"
            "</td></tr>")
    pending = sum(p.get("max_points", 0) for gid, p in parts.items()
                  if not p.get("auto") and book.get(gid) is None)
    status = (f"<p>{pending:g} {'point is' if pending == 1 else 'points are'} graded by "
              "hand and not included yet.</p>" if pending else "")
    if result.get("status") != "graded":
        status += (f'<p class="status-failed"><strong>Your notebook could not be graded '
                  f"completely:</strong> {_e(result.get('reason') or 'unknown reason')}</p>")
    notes = "".join(f"<li>{_e(n)}</li>" for n in result.get("notes", []))
    notes_html = f"<h2>Notes from the grader</h2><ul>{notes}</ul>" if notes else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(assignment)}: feedback for {_e(student)}</title>
<style>{STYLE}</style></head>
<body>
<h1>{_e(assignment)}: feedback</h1>
<p>Student: <strong>{_e(student)}</strong></p>
<p class="total">Score: <strong>{_points(total)} / {_points(max_total)}</strong></p>
{status}
<table>
<thead><tr><th>Part</th><th>Points</th><th>Result</th><th>What the checks found</th></tr>
</thead>
<tbody>
{''.join(rows)}
</tbody></table>
{notes_html}
<footer>Each part was checked by the visible tests you saw in the notebook and by
hidden tests on inputs you had not seen; the hidden tests themselves are not shown.
Graded {_e(result.get('graded_at', ''))}.</footer>
</body></html>
"""


def write_feedback(workspace: Path, assignment: str, db: str | None = None
                   ) -> list[Path]:
    """Write every graded student's page; returns the paths."""
    results = load_results(workspace, assignment)
    if not results:
        raise FileNotFoundError(f"no results for {assignment} in {workspace}/results "
                                "(run grade first)")
    notebook = assignment
    with gbook.open_gradebook(gbook.db_url(workspace, db)) as gb:
        try:
            scores = gbook.notebook_scores(gb, assignment, notebook)
        except Exception:  # noqa: BLE001 - no gradebook entry: the results alone
            scores = {}
    paths = []
    for student, result in sorted(results.items()):
        path = workspace / "feedback" / student / assignment / f"{assignment}.html"
        atomic_write_text(path, render(student, assignment, result, scores.get(student)))
        paths.append(path)
    return paths
