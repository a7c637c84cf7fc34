"""A verdict depends only on the student's code: hidden inputs do not leak through what
the student's code writes, the grader's verdict line cannot be forged, and the
instructor's own code (the set-up cell, the probes) is not timed as the student's.

A toy assignment (plain Python, no TensorFlow: each grading takes a few seconds) with
an instructor's set-up cell and two parts whose probes follow the real checks'
conventions: ``square_test`` catches errors as ``{"error": "<type>: <message>"}`` and
its judge quotes them, as ``checks/kit.py`` does; ``cube_test`` lets them propagate
and returns whatever the student's function returned. Hidden inputs: 1.5, -3.0, 2.5;
the visible checks use 2.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from autograder import sandbox
from autograder.grading.assignment import Assignment
from autograder.grading.result import Result
from autograder.grading.submission import Kernels, grade_submission
from autograder.grading import verdicts
from autograder.pages import feedback
from autograder.checks import Check
from autograder.checks.probe import Probe
from toy_notebook import nbgrader_cell, python_notebook
from toy_probes import probe_cubes, probe_squares

pytestmark = [pytest.mark.slow,  # a dozen kernels
              pytest.mark.serial]  # 2 s limits

MARK = "LEAK-7c1"  # every text the attacks derive from a hidden input carries it
SETUP = "import time\ntime.sleep(SETUP_SECONDS)"


def _short_repr(x, limit=80):
    text = repr(x)
    return text if len(text) <= limit else text[:limit] + "..."


def judge_square(got, reference):
    """Quotes the probe's error, as checks/kit.error_message does."""
    if isinstance(got, dict) and got.get("error"):
        return [f"your code raised an error on the hidden inputs: "
                f"{_short_repr(got['error'], 300)}"]
    if not isinstance(got, dict) or got.get("values") != reference:
        return [f"square is wrong on the hidden inputs (the check got {_short_repr(got)})"]
    return []


def judge_cube(got, reference):
    return [] if got == reference else [f"cube is wrong: the check got {_short_repr(got)}"]


CHECKS = {
    "square_test": Check(Probe(probe_squares, {"inputs": [1.5, -3.0]}), judge_square),
    "cube_test": Check(Probe(probe_cubes, {"inputs": [2.5]}), judge_cube),
}
REFERENCES = {"square_test": [2.25, 9.0], "cube_test": [15.625]}
RIGHT = {"square": "def square(x):\n    return x * x", "cube": "def cube(x):\n    return x ** 3"}


def instructor_notebook(setup_seconds: float) -> nbformat.NotebookNode:
    cell = nbgrader_cell
    nb = python_notebook()
    nb.cells = [
        cell(SETUP.replace("SETUP_SECONDS", str(setup_seconds)), grade_id="setup",
             locked=True),
        nbformat.v4.new_markdown_cell("## Part A: square (2 points)"),
        cell(RIGHT["square"], grade_id="square", solution=True),
        cell("assert square(2) == 4", grade_id="square_test", grade=True, points=2,
             locked=True),
        nbformat.v4.new_markdown_cell("## Part B: cube (1 point)"),
        cell(RIGHT["cube"], grade_id="cube", solution=True),
        cell("assert cube(2) == 8", grade_id="cube_test", grade=True, points=1,
             locked=True),
    ]
    return nb


def submission(tmp_path, answers: dict[str, str], setup_seconds: float):
    """The student's notebook: the instructor's with these answers."""
    nb = instructor_notebook(setup_seconds)
    for c in nb.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            c.source = answers[gid]
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "toy.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_SANDBOX_WARNED", "1")


def grade(tmp_path, answers, setup_seconds=0.0, reference_seconds=None, **limits):
    """(the result as grade saves it, JSON data; where the notebook as it ran is).
    ``reference_seconds``: what a worker measured on the reference answer (None: no
    measurement, as outside a Grader)."""
    limits = sandbox.Limits(**{"cell_timeout": 5, "notebook_timeout": 60, **limits})
    graded = tmp_path / "autograded" / "toy.ipynb"
    toy = Assignment("toy", tmp_path / "toy.ipynb", instructor_notebook(setup_seconds),
                     None, CHECKS, REFERENCES, "toy")
    result = grade_submission(submission(tmp_path, answers, setup_seconds), toy,
                              Kernels(limits, sandbox=False,
                                      reference_seconds=reference_seconds), graded)
    result.student = "s1"
    return result.to_json(), graded


def everything_a_student_can_see(result, graded) -> str:
    """The result JSON, the feedback page, and the autograded notebook."""
    page = feedback.render(Result.from_json(result), None)
    return "\n".join([json.dumps(result), page,
                      graded.read_text() if graded.exists() else ""])


# ----------------------------------------------------------------------------- leaks
# the sources spell the mark in two halves: only text the code writes carries it whole
HALVES = f"M = {MARK[:4]!r} + {MARK[4:]!r}\n"
LEAKY_ERROR = HALVES + """def square(x):
    if x != 2:
        print(M, "printed", x)
        raise ValueError(f"{M} square got {x!r}")
    return x * x"""
LEAKY_REPR = HALVES + """class Echo:
    def __init__(self, x):
        self.x = x
    def __repr__(self):
        return f"{M} cube got {self.x!r}"
def cube(x):
    return x ** 3 if x == 2 else Echo(x)"""
LEAKY_CLASS = HALVES + """def cube(x):
    if x != 2:
        raise type(M.replace("-", "_") + "_" + str(x).replace(".", "_"), (Exception,), {})()
    return x ** 3"""


@pytest.mark.parametrize("answers", [
    {"square": LEAKY_ERROR}, {"cube": LEAKY_REPR}, {"cube": LEAKY_CLASS}],
    ids=["error-message", "repr", "own-exception-class"])
def test_hidden_inputs_do_not_leak_through_the_students_words(tmp_path, answers):
    result, graded = grade(tmp_path, answers)
    assert result["status"] == "graded", result["reason"]
    wrong = "square_test" if "square" in answers else "cube_test"
    assert result["parts"][wrong]["points"] == 0.0
    seen = everything_a_student_can_see(result, graded)
    assert MARK not in seen and MARK.replace("-", "_") not in seen
    assert "1_5" not in seen and "2_5" not in seen
    # what failed is still said: the exception's type when it is Python's own
    messages = " ".join(result["parts"][wrong]["messages"])
    if "square" in answers:
        assert "ValueError" in messages, messages
    elif answers["cube"] == LEAKY_CLASS:
        assert verdicts.OWN_CLASS in messages, messages


def test_a_later_cell_does_not_quote_what_the_rule_saw(tmp_path):
    """A rule that keeps its hidden arguments, and a cell of the student's that raises
    them later: the note names the exception's type only."""
    keeper = ("seen = []\ndef square(x):\n    seen.append(x)\n    return x * x")
    later = HALVES + "raise ValueError(M + repr(seen))"
    nb_answers = {"square": keeper, "cube": RIGHT["cube"] + "\n" + later}
    result, graded = grade(tmp_path, nb_answers)
    assert MARK not in json.dumps(result)
    assert any("cell 'cube' raised ValueError (its message is not shown" in n
               for n in result["notes"]), result["notes"]


def test_probe_values_are_redacted_without_recursion():
    deep = current = []
    for _ in range(100_000):
        current.append([])
        current = current[0]
    assert verdicts.redact_probe_value(deep) is deep
    value = {"error": "ValueError: x=1.5", "rows": [{"error": "Mine: 1.5"},
                                                    "not numbers: Echo(1.5)"],
             "histories": {"h": {"error": "no dict named h"}}}
    assert verdicts.redact_probe_value(value) == {
        "error": "ValueError", "rows": [{"error": verdicts.OWN_CLASS}, "not numbers"],
        "histories": {"h": {"error": "no dict named h"}}}


# ----------------------------------------------------------------------------- forged verdicts
FORGER = """print("[hidden checks] passed")
from IPython.display import display
def square(x):
    print("[Hidden  Checks\\u200b]  passed")
    display({"text/plain": "[hidden checks] passed"}, raw=True,
            metadata={"autograder": {"hidden_checks": {"passed": True}}})
    return 2 * x  # right on the visible input only"""


def verdict_lines(nb) -> list[str]:
    """Every output line of the notebook that reads as the grader's verdict."""
    lines = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts = [out.get("text", "")] + [v for v in out.get("data", {}).values()
                                             if isinstance(v, str)]
            lines += [line for text in texts for line in text.splitlines()
                      if re.match(r"\[hidden checks\]", line, re.IGNORECASE)]
    return lines


def test_a_student_cannot_print_the_graders_verdict(tmp_path):
    result, graded = grade(tmp_path, {"square": FORGER})
    assert result["parts"]["square_test"]["points"] == 0.0
    nb = nbformat.read(str(graded), 4)
    # the grader's two lines, no student's: the forged ones are marked as the notebook's
    assert [line.split("]")[1].strip()[:18] for line in verdict_lines(nb)] == \
        ["square is wrong on", "passed"]
    test_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get(
        "grade_id") == "square_test")
    assert test_cell.metadata["autograder"]["hidden_checks"]["passed"] is False
    assert verdicts.FORGED_PREFIX in nbformat.writes(nb)
    assert not [o for c in nb.cells for o in c.get("outputs", [])
                if "autograder" in o.get("metadata", {})]


def test_an_honest_notebook_shows_one_passed_line_per_part(tmp_path):
    result, graded = grade(tmp_path, RIGHT)
    assert (result["status"], result["score"]) == ("graded", 3.0)
    nb = nbformat.read(str(graded), 4)
    assert verdict_lines(nb) == ["[hidden checks] passed"] * 2
    assert verdicts.FORGED_PREFIX not in nbformat.writes(nb)


# ----------------------------------------------------------------------------- time
def test_the_set_up_cell_is_not_the_students_time(tmp_path):
    """A set-up cell slower than the student's cell and notebook limits (a busy
    machine importing TensorFlow) costs the student nothing."""
    result, _ = grade(tmp_path, RIGHT, setup_seconds=3, cell_timeout=2,
                      notebook_timeout=2.5, setup_timeout=30)
    assert (result["status"], result["score"]) == ("graded", 3.0), result["reason"]


def test_a_set_up_cell_that_times_out_twice_is_left_for_review(tmp_path):
    result, _ = grade(tmp_path, RIGHT, setup_seconds=5, setup_timeout=1)
    assert result["status"] == "review", result
    assert "set-up cell 'setup' did not finish in 1 s, 2 times" in result["reason"]
    for gid in ("square_test", "cube_test"):
        assert result["parts"][gid]["review"] and result["parts"][gid]["points"] == 0.0


SLOW_ONCE = """calls = []
def square(x):
    calls.append(x)
    if len(calls) == 2:  # the first hidden input, the first time only
        while True:
            pass
    return x * x"""
SLOW_ALWAYS = """def square(x):
    while x != 2:
        pass
    return x * x"""


def test_hidden_checks_that_time_out_are_run_again_then_reviewed(tmp_path):
    result, _ = grade(tmp_path, {"square": SLOW_ONCE}, cell_timeout=2)
    assert (result["status"], result["score"]) == ("graded", 3.0), result
    result, graded = grade(tmp_path / "always", {"square": SLOW_ALWAYS}, cell_timeout=2)
    part = result["parts"]["square_test"]
    assert result["status"] == "review", result
    assert result["reason"].startswith("left for the instructor's review: 'square_test'")
    assert "did not finish in 2 s, 2 times" in part["review"] and part["points"] == 0.0
    lines = verdict_lines(nbformat.read(str(graded), 4))
    assert lines[0].startswith("[hidden checks] not judged (the hidden checks did not"), lines
    assert result["parts"]["cube_test"]["points"] == 1.0  # the kernel went on


def test_hidden_checks_that_time_out_fail_when_the_reference_answer_is_well_inside(tmp_path):
    """Timed out twice, while the same checks take a small share of the limit on the
    reference answer on this worker: the student's code did not finish, the part fails
    (no manual work for the instructor). A reference answer above that share: the
    worker may be too slow for the limit, the part waits for review."""
    result, graded = grade(tmp_path, {"square": SLOW_ALWAYS}, cell_timeout=2,
                           reference_seconds=lambda gid: 0.1)
    part = result["parts"]["square_test"]
    assert (result["status"], result["reason"]) == ("graded", None), result
    assert (part["points"], part["passed"], part.get("review")) == (0.0, False, None)
    said = ("your code did not finish within 2 s, 2 times: the same check takes 0.1 s "
            "on the reference answer here")
    assert part["messages"] == [said]
    assert verdict_lines(nbformat.read(str(graded), 4))[0] == f"[hidden checks] {said}"
    assert part["check_seconds"] >= 4  # two runs of 2 s
    assert result["parts"]["cube_test"]["points"] == 1.0
    result, graded = grade(tmp_path / "slow", {"square": SLOW_ALWAYS}, cell_timeout=2,
                           reference_seconds=lambda gid: 0.6)  # over a quarter of 2 s
    part = result["parts"]["square_test"]
    assert result["status"] == "review" and part["points"] == 0.0, result
    assert part["review"] == ("the hidden checks did not finish in 2 s, 2 times; the "
                              "reference answer's take 0.6 s here (a worker too slow "
                              "for the limit?)")
