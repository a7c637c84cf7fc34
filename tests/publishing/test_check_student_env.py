"""The student's check on the course's own notebooks, in the student's environment, and
the grader on the same files.

The environment is built as a student builds it (scripts/student_env.py: a venv with
requirements-student.txt, no nbgrader, no grader) plus the public ``course`` package
(scripts/make_public.py). There the check must say:

- a solution notebook and each solved exercise: clean (exit 0);
- each untouched exercise: every part unanswered (exit 1);
- a Chinese notebook: the same, in Chinese, and graded in Chinese;
- a deleted test cell, a notebook that works only out of order, a 10-minute training
  cell and 50 MB of output: each with its reason, in grading's words.

The grader (autograder, in this process) grades the same files: what the check calls
clean gets full marks, and where the check finds a part losing, a limit or a deleted
cell, grading finds the same, in the same words.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.checks import ASSIGNMENTS
from autograder.commands.demo import AssignmentKit
from course.check import cells as nbcells
from course.grading_terms import LIMITS, say
from correct_variants import VARIANTS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import make_public  # noqa: E402 - after the sys.path line that finds it
import student_env  # noqa: E402 - after the sys.path line that finds it

pytestmark = pytest.mark.slow
BASE_PYTHON = "/usr/bin/python3"  # Debian's, as in test_student_env.py


@pytest.fixture(scope="module")
def student_python(tmp_path_factory) -> str:
    """Python of a fresh student environment with the public course package."""
    if not Path(BASE_PYTHON).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no {BASE_PYTHON}")
        pytest.skip(f"no {BASE_PYTHON}")
    tmp = tmp_path_factory.mktemp("student")
    python = str(student_env.create_env(BASE_PYTHON, tmp / "venv", student_env.LOCK))
    public = tmp / "public"
    make_public.write_public(public)
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--no-build-isolation", str(public)], check=True, timeout=600)
    absent = subprocess.run([python, "-c", "import importlib.util as u; print([m for m in "
                             "('nbgrader', 'autograder') if u.find_spec(m)])"],
                            capture_output=True, text=True, check=True, cwd=tmp)
    assert absent.stdout.strip() == "[]", "the student environment holds instructor code"
    return python


def check(python: str, path: Path) -> tuple[int, dict]:
    """(exit code, report) of ``python -m course.check path`` in the student env."""
    report = path.with_suffix(".report.json")
    run = subprocess.run([python, "-m", "course.check", str(path), "--json", str(report)],
                         capture_output=True, text=True, timeout=1200, cwd=path.parent)
    assert report.exists(), run.stdout + run.stderr
    print(run.stdout)
    return run.returncode, json.loads(report.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def grader():
    """The course's grader, for all assignments (warm kernels where it can):
    ``grader(path, assignment)`` is the result as the grader saves it (JSON)."""
    from autograder.grading.grader import Grader
    from autograder.grading.run import Run, Submission

    grader = Grader(Run.of(ASSIGNMENTS))
    yield lambda path, name: grader.grade(Submission("student", name, Path(path))).to_json()
    grader.close()


def results(report: dict) -> dict[str, str]:
    return {p["grade_id"]: p["result"] for p in report["parts"]}


def write(nb, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / name))
    return folder / name


def agrees(report: dict, graded: dict) -> None:
    """The grader's verdicts and words are the check's."""
    for part in report["parts"]:
        if not part["auto"]:
            continue
        got = graded["parts"][part["grade_id"]]
        if part["result"] != "passes":  # what the check sees losing, grading takes
            assert got["points"] == 0, (part, got)
    assert graded["reason"] == report["failure"], (graded["reason"], report["failure"])
    for note in graded["notes"]:
        if "missing" in note or "edited" in note:
            assert note in report["warnings"], (note, report["warnings"])


# --- clean notebooks ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_solution_notebook_is_clean(student_python, name, tmp_path):
    path = write(nbformat.read(str(ROOT / "solutions" / name / f"{name}.ipynb"), 4),
                 tmp_path, f"{name}.ipynb")
    code, report = check(student_python, path)
    assert code == 0 and report["warnings"] == [] and report["failure"] is None, report
    assert set(results(report).values()) <= {"passes", "by_hand"}


def solved(name: str, variant=None):
    """The released notebook with the solution's answers (one written differently)."""
    nb = AssignmentKit(name).notebook()
    if variant:
        cell = next(c for c in nb.cells if nbcells.grade_id(c) == variant[1])
        assert cell.source.count(variant[3]) == 1, variant[2]
        cell.source = cell.source.replace(variant[3], variant[4])
    return nb


CLEAN = [(n, None) for n in ASSIGNMENTS] + [(v[0], v) for v in VARIANTS]


@pytest.mark.parametrize("name, variant", CLEAN,
                         ids=[f"{n}-{v[2] if v else 'solved'}" for n, v in CLEAN])
def test_what_the_check_calls_clean_gets_full_marks(student_python, grader, name, variant,
                                                    tmp_path):
    path = write(solved(name, variant), tmp_path, f"{name}.ipynb")
    code, report = check(student_python, path)
    assert code == 0 and report["warnings"] == [], report
    graded = grader(str(path), name)
    assert graded["status"] == "graded", graded
    for gid, part in graded["parts"].items():
        assert not part["auto"] or part["points"] == part["max_points"], (gid, part)
    agrees(report, graded)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_an_untouched_exercise_has_every_part_unanswered(student_python, name, tmp_path):
    path = write(nbformat.read(str(ROOT / "exercises" / name / f"{name}.ipynb"), 4),
                 tmp_path, f"{name}.ipynb")
    code, report = check(student_python, path)
    assert code == 1 and set(results(report).values()) == {"not_answered"}, report


def test_a_chinese_notebook_is_checked_in_chinese_as_it_is_graded(student_python, grader,
                                                                 tmp_path):
    """The Chinese release with the solution's answers: clean, in Chinese, full marks;
    the untouched Chinese release: every part unanswered, in Chinese."""
    english = solved("adam")
    answers = {nbcells.grade_id(c): c.source for c in english.cells
               if nbcells.kind(c) in ("answer", "written")}
    chinese = nbformat.read(str(ROOT / "exercises" / "zh_CN" / "adam" / "adam.ipynb"), 4)
    code, report = check(student_python, write(copy.deepcopy(chinese), tmp_path / "new",
                                               "adam.ipynb"))
    assert code == 1 and set(results(report).values()) == {"not_answered"}, report
    assert report["language"] == "zh_CN"
    for cell in chinese.cells:
        cell.source = answers.get(nbcells.grade_id(cell), cell.source)
    path = write(chinese, tmp_path / "solved", "adam.ipynb")
    code, report = check(student_python, path)
    assert code == 0 and report["warnings"] == [] and report["language"] == "zh_CN", report
    assert {p["title"] for p in report["parts"]} >= {"部分 A：两个矩（3 分）"}
    graded = grader(str(path), "adam")
    assert graded["language"] == "zh_CN"
    for gid, part in graded["parts"].items():
        assert not part["auto"] or part["points"] == part["max_points"], (gid, part)
    agrees(report, graded)


# --- notebooks that lose points without a wrong answer -----------------------------------

def _answer(nb, grade_id: str):
    return next(c for c in nb.cells if nbcells.grade_id(c) == grade_id)


def deleted_test_cell():
    nb = solved("sgd_momentum")
    nb.cells = [c for c in nb.cells if nbcells.grade_id(c) != "momentum_ema_update"]
    return nb


def works_only_out_of_order():
    """Part D's answer uses a name that a cell below the test defines; the student ran
    that cell first, and the saved notebook shows Part D passing."""
    nb = solved("sgd_momentum")
    answer = _answer(nb, "iris_training_answer")
    answer.source = answer.source.replace('{"lr": 0.1}', "sgd_hyperparams", 1)
    assert "sgd_hyperparams" in answer.source
    later = nbformat.v4.new_code_cell('sgd_hyperparams = {"lr": 0.1}')
    later.execution_count = 7
    test_index = nb.cells.index(_answer(nb, "iris_loss_plot"))
    nb.cells.insert(test_index + 1, later)
    test = nb.cells[test_index]
    test.execution_count = 9
    test.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text="Part D passes the visible checks.\n")]
    return nb


def ten_minute_training():
    nb = solved("sgd_momentum")
    answer = _answer(nb, "iris_training_answer")
    answer.source = ("# a long run first, to see where the loss goes (about 10 minutes)\n"
                     "history_long = train(sgd_init, sgd_update, {\"lr\": 0.1}, "
                     "epochs=200_000)\n" + answer.source)
    return nb


def fifty_megabytes_of_output():
    nb = solved("sgd_momentum")
    answer = _answer(nb, "sgd_answer")
    answer.source += ("\n\nfor step in range(500_000):  # debugging output left in\n"
                      "    print(f'step {step:6d}', '.' * 88)\n")
    return nb


def test_a_deleted_test_cell_is_named(student_python, grader, tmp_path):
    path = write(deleted_test_cell(), tmp_path, "sgd_momentum.ipynb")
    code, report = check(student_python, path)
    missing = say("test_missing", grade_id="momentum_ema_update")
    assert missing in report["warnings"], report
    # grading runs the instructor's copy: the answers pass it, nothing is lost
    assert code == 0 and results(report)["momentum_ema_update"] == "passes"
    graded = grader(str(path), "sgd_momentum")
    assert missing in graded["notes"] and graded["score"] == 13  # 15 minus the essay
    agrees(report, graded)


def test_a_notebook_that_works_only_out_of_order_is_named(student_python, grader, tmp_path):
    path = write(works_only_out_of_order(), tmp_path, "sgd_momentum.ipynb")
    code, report = check(student_python, path)
    assert code == 1 and results(report)["iris_loss_plot"] == "not_passed", report
    title = "Part D: train iris with your rules (3 points)"
    assert say("hidden_state", part=title) in report["warnings"]
    assert say("out_of_order", later="In [9]", earlier="In [7]") in report["warnings"]
    found = " ".join(next(p for p in report["parts"]
                          if p["grade_id"] == "iris_loss_plot")["messages"])
    assert "'sgd_hyperparams' is defined only further down, in code cell" in found
    agrees(report, grader(str(path), "sgd_momentum"))


def test_a_ten_minute_training_cell_is_stopped_at_the_cell_limit(student_python, grader,
                                                                  tmp_path):
    path = write(ten_minute_training(), tmp_path, "sgd_momentum.ipynb")
    code, report = check(student_python, path)
    expected = say("cell_time", seconds=LIMITS.cell_seconds,
                   label=say("cell_label", grade_id="iris_training_answer"))
    assert code == 1 and report["failure"] == expected, report
    assert results(report)["iris_loss_plot"] == "not_passed"
    agrees(report, grader(str(path), "sgd_momentum"))


def test_fifty_megabytes_of_output_reach_the_output_limit(student_python, grader, tmp_path):
    path = write(fifty_megabytes_of_output(), tmp_path, "sgd_momentum.ipynb")
    code, report = check(student_python, path)
    expected = say("output_limit", bytes=LIMITS.output_bytes,
                   label=say("cell_label", grade_id="sgd_answer"))
    assert code == 1 and report["failure"] == expected, report
    agrees(report, grader(str(path), "sgd_momentum"))


def test_the_check_finds_a_renamed_file(student_python, tmp_path):
    """A browser's second download; a copy made in Colab."""
    nb = solved("adam")
    for name in ("adam (1).ipynb", "Copy of adam.ipynb"):
        code, report = check(student_python, write(copy.deepcopy(nb), tmp_path, name))
        assert code == 1 and report["warnings"] == [
            say("wrong_name", name=name, expected="adam.ipynb")]
