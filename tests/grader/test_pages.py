"""Feedback pages from autograder/pages/templates/feedback.html.j2: every text a student or a
check wrote is escaped; what is pending or unknown is said."""

import html
import re

from autograder.grading.result import Result
from autograder.pages import feedback

RESULT = {"status": "failed", "reason": "invalid <JSON>", "score": 1.0, "max_score": 5.0,
          "notes": ["<script>alert(1)</script>"], "graded_at": "2025-03-01", "parts": {
              "rule": {"title": "Part A", "points": 1.0, "max_points": 1.0, "passed": True,
                       "auto": True, "messages": []},
              "plot": {"title": "Part B", "points": 0.0, "max_points": 2.0,
                       "passed": False, "auto": True, "messages": ["<b>off</b> by 2"]},
              "essay": {"title": "Part C", "points": None, "max_points": 2.0,
                        "passed": None, "auto": False, "messages": ["graded by hand"]}}}


def result_of(student: str = "s1") -> Result:
    """RESULT as feedback reads it from a results file."""
    return Result.from_json(dict(RESULT, student=student, assignment="hw"))


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_student_and_check_text_is_escaped():
    page = feedback.render(result_of("<i>s1</i>"), None)
    assert "<script>" not in page and "<b>off</b>" not in page and "<i>s1</i>" not in page
    text = text_of(page)
    assert "<b>off</b> by 2" in text and "invalid <JSON>" in text


def test_scores_verdicts_and_pending_points():
    text = text_of(feedback.render(result_of(), None))
    assert "Score: 1 / 5" in text
    assert "Part A rule 1 / 1 passed" in text
    assert "Part B plot 0 / 2 not passed" in text
    assert "Part C essay - / 2 graded by hand" in text
    assert "2 points are graded by hand and not included yet" in text


def test_manual_scores_from_the_gradebook_or_why_not():
    scores = {"parts": {"rule": 1.0, "plot": 0.0, "essay": 2.0}, "score": 3.0,
              "max_score": 5.0}
    text = text_of(feedback.render(result_of(), scores))
    assert "Score: 3 / 5" in text and "not included yet" not in text
    text = text_of(feedback.render(result_of(), None, "the gradebook has no hw"))
    assert "Points graded by hand could not be read (the gradebook has no hw)" in text
