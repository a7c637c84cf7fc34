"""``feedback``: one HTML page per student, built from the grading results only.

A page shows the score per part, which checks failed and the judge's teaching message,
in the words the student's check uses (``course.grading_terms``), in the language of the
student's notebook (the result's ``language``): the hidden checks' messages, which the
judges write in English, are translated from their templates
(``autograder.pages.messages_i18n``); the result keeps them in English.
It is built from the result JSON (messages, notes) and the gradebook (scores, so that
an instructor's manual grades show); it never reads the instructor's notebook or the
checks, so no hidden test's source can reach it. Pages land in nbgrader's feedback
layout: ``<workspace>/feedback/<student>/<assignment>/<assignment>.html``; the page
itself is ``templates/feedback.html.j2``.
"""

from __future__ import annotations

from pathlib import Path

from autograder import gradebook as gbook
from autograder.pages.messages_i18n import translate
from autograder.pages.render import render as render_page
from autograder.grading.result import Result, graded_results
from autograder.workspace import atomic_write_text
from course.grading_terms import DEFAULT_LANGUAGE, WORDS
from course.i18n import LANGUAGES


def render(result: Result, scores: dict | None, manual_unavailable: str | None = None
           ) -> str:
    """The feedback page of the result's student (scores from the gradebook when
    given); ``manual_unavailable`` says why the gradebook's scores could not be read."""
    book = (scores or {}).get("parts", {})
    language = result.language if result.language in WORDS else DEFAULT_LANGUAGE
    parts = []
    for gid, part in result.parts.items():
        parts.append({
            "grade_id": gid, "title": part.title or gid,
            "score": book.get(gid, part.points),
            "max_points": part.max_points, "auto": part.auto, "passed": part.passed,
            "messages": [translate(m, language) for m in part.messages
                         if m != "graded by hand"]})
    pending = sum(p.max_points for gid, p in result.parts.items()
                  if not p.auto and book.get(gid) is None)
    return render_page(
        "feedback.html.j2", student=result.student, assignment=result.assignment,
        parts=parts, total=(scores or {}).get("score", result.score),
        max_total=(scores or {}).get("max_score", result.max_score),
        pending=pending, manual_unavailable=manual_unavailable,
        status=result.status, reason=result.reason, notes=result.notes,
        graded_at=result.graded_at or "", words=WORDS[language],
        html_lang=LANGUAGES[language].html_lang)


def write_feedback(workspace: Path, assignment: str, db: str | None = None
                   ) -> list[Path]:
    """Write every graded student's page; returns the paths."""
    results = graded_results(workspace, assignment)
    scores, why_not = gbook.scores_or_reason(gbook.db_url(workspace, db), assignment)
    paths = []
    for student, result in sorted(results.items()):
        path = workspace / "feedback" / student / assignment / f"{assignment}.html"
        atomic_write_text(path, render(result, scores.get(student), why_not))
        paths.append(path)
    return paths
