"""A Chinese submission is graded exactly like the English one (the grader in kernels).

- the five Chinese solutions (the solution notebooks translated as the release is) get
  full marks;
- the five untouched Chinese exercises get zero;
- for the same code, a Chinese and an English submission get the same verdict part by
  part: the solution's answers with a classic mistake in one part and another part
  left unanswered;
- the grader's words (notes, limits, the feedback page) are the notebook's language.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
import pytest

from autograder.checks import ASSIGNMENTS
from autograder.commands.demo import AssignmentKit
from autograder.grading.result import Result
from autograder.pages import feedback
from course import i18n, notebook_i18n
from course.check import cells as nbcells
from course.grading_terms import say

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
LANGUAGE = "zh_CN"


@pytest.fixture(scope="module")
def grader():
    """``grader(path, assignment)``: the result as the grader saves it (JSON)."""
    from autograder.grading.grader import Grader
    from autograder.grading.run import Run, Submission

    grader = Grader(Run.of(ASSIGNMENTS))
    yield lambda path, name: grader.grade(Submission("student", name, Path(path))).to_json()
    grader.close()


def chinese_release(name: str):
    path = ROOT / i18n.exercise_notebook(f"exercises/{name}/{name}.ipynb", LANGUAGE)
    return nbformat.read(str(path), 4)


def grade(grader, nb, folder: Path, name: str) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{name}.ipynb"))
    return grader(str(folder / f"{name}.ipynb"), name)


def verdicts(result: dict) -> dict:
    return {gid: (part["points"], part["passed"]) for gid, part in result["parts"].items()}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_chinese_solution_gets_full_marks(grader, name, tmp_path):
    solution = nbformat.read(str(ROOT / "solutions" / name / f"{name}.ipynb"), 4)
    result = grade(grader, notebook_i18n.in_language(solution, LANGUAGE, name), tmp_path,
                   name)
    assert result["status"] == "graded" and result["language"] == LANGUAGE, result
    for gid, part in result["parts"].items():
        assert not part["auto"] or part["points"] == part["max_points"], (gid, part)
    assert result["notes"] == [], result["notes"]
    assert all(i18n.CJK.search(p["title"]) for p in result["parts"].values())


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_untouched_chinese_exercise_gets_zero(grader, name, tmp_path):
    result = grade(grader, chinese_release(name), tmp_path, name)
    assert result["score"] == 0 and result["status"] == "graded", result
    # the stubs' errors, in the notebook's words; nothing taken for tampering
    assert result["notes"] and all(" 抛出 " in n for n in result["notes"]), result["notes"]
    assert all(not p["auto"] or p["messages"] for p in result["parts"].values())


def same_code_in_chinese(english):
    """The Chinese release with exactly the English submission's answer cells."""
    name = english.metadata["course"]["assignment"]
    answers = {nbcells.grade_id(c): c.source for c in english.cells
               if nbcells.kind(c) in ("answer", "written")}
    chinese = chinese_release(name)
    for cell in chinese.cells:
        if nbcells.grade_id(cell) in answers:
            cell.source = answers[nbcells.grade_id(cell)]
    return chinese


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_same_code_gets_the_same_verdicts_in_both_languages(grader, name, tmp_path):
    kit = AssignmentKit(name)
    with_mistake = next(p for p in kit.auto_parts if p in kit.mistakes)
    unanswered = next(p for p in reversed(kit.auto_parts)
                      if kit.answer_of[p] != kit.mistakes[with_mistake].cell)
    english = kit.notebook(wrong=(with_mistake, unanswered))
    graded_en = grade(grader, english, tmp_path / "en", name)
    graded_zh = grade(grader, same_code_in_chinese(english), tmp_path / "zh", name)
    assert verdicts(graded_zh) == verdicts(graded_en), (graded_en, graded_zh)
    lost = {gid for gid, (points, _) in verdicts(graded_en).items()
            if points == 0}
    assert {with_mistake, unanswered} <= lost
    assert graded_en["notes"] == graded_zh["notes"] == []
    assert graded_zh["language"] == LANGUAGE and "language" not in graded_en


def test_the_grader_speaks_the_notebook_s_language(grader, tmp_path):
    """A deleted test cell and a failed visible check in a Chinese notebook: the note,
    the quoted check message and the feedback page are in Chinese."""
    chinese = chinese_release("sgd_momentum")
    chinese.cells = [c for c in chinese.cells
                     if nbcells.grade_id(c) != "momentum_ema_update"]
    answer = next(c for c in chinese.cells if nbcells.grade_id(c) == "sgd_answer")
    answer.source = ("def sgd_init(params, hyperparams):\n    return {'x': 1}\n\n\n"
                     "def sgd_update(params, grads, states, hyperparams):\n    pass\n")
    result = grade(grader, chinese, tmp_path, "sgd_momentum")
    missing = say("test_missing", LANGUAGE, grade_id="momentum_ema_update")
    assert missing in result["notes"], result["notes"]
    quoted = say("visible_failed", LANGUAGE,
                 error="AssertionError: sgd_init 应返回一个空 dict，实际得到 {'x': 1}。")
    assert result["parts"]["sgd_update"]["messages"][0] == quoted, result["parts"]
    result["student"] = "学生甲"
    page = feedback.render(Result.from_json(result), None)
    assert '<html lang="zh-CN">' in page and "得分" in page and "Score" not in page
    shown = html.unescape(page)
    assert "检查发现" in shown and missing in shown and "实际得到" in shown, shown
