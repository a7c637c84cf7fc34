"""With the real grader (a kernel per notebook, probes there, judges here): each part
is judged on its own, and correct answers written another way keep their points.

- subclass_cnn without Flatten loses Part B (build_cnn) alone, and with a loss for
  one-hot labels Part C (compile_cnn) alone, although the student's own training cell
  then fails: Part D calls the student's train_cnn on a CNN of its own;
- sgd_momentum and adam with every rule written in NumPy, trained with
  train(..., compiled=False), keep every point: Part D reruns the rules eagerly.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from autograder import sandbox
from autograder.checks.subclass_cnn import MISTAKES
from autograder.commands import demo
from autograder.grading.grader import Grader
from autograder.grading.run import Run, Submission
from autograder.notebook import nbgrader_cells as cells
from machine_load import slowness
from numpy_rules import NUMPY_ANSWERS

pytestmark = [pytest.mark.slow,  # four TensorFlow notebooks graded in kernels
              pytest.mark.serial]  # time limits scaled to the machine's load


def mistake(name: str):
    return next(m for m in MISTAKES if m.name == name)


# submission -> (assignment, answer cells that differ from the solution's, lost parts)
CASES = {
    "subclass_cnn without Flatten": ("subclass_cnn", mistake("no Flatten"), {"build_cnn"}),
    "subclass_cnn with a loss for one-hot labels": (
        "subclass_cnn", mistake("one-hot loss for integer labels"), {"compile_cnn"}),
    "sgd_momentum in NumPy": ("sgd_momentum", NUMPY_ANSWERS["sgd_momentum"], set()),
    "adam in NumPy": ("adam", NUMPY_ANSWERS["adam"], set()),
}
# what a lost part's messages say (the loss is named, not only "raised ValueError")
SAID = {"subclass_cnn with a loss for one-hot labels": (
    "compile_cnn", "the loss should be SparseCategoricalCrossentropy")}


def submission(folder: Path, assignment: str, changed) -> Path:
    """The student notebook with the solution's answers, some of them ``changed`` (a
    classic mistake, or {answer cell: source})."""
    kit = demo.AssignmentKit(assignment)
    answers = dict(kit.answers)
    if isinstance(changed, dict):
        answers.update(changed)
    else:
        assert changed.old in answers[changed.cell], changed.name
        answers[changed.cell] = answers[changed.cell].replace(changed.old, changed.new, 1)
    nb = copy.deepcopy(kit.release)
    for cell in nb.cells:
        if cells.nbgrader_meta(cell).get("solution") and cells.grade_id(cell) in answers:
            cell.source = answers[cells.grade_id(cell)]
    path = folder / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory, tensorflow_import_seconds):
    """{case: result} of every case, graded by one worker of the real grader."""
    slower = slowness(tensorflow_import_seconds)
    limits = sandbox.Limits(cell_timeout=60 * slower, notebook_timeout=300 * slower,
                            setup_timeout=max(300.0, 10 * tensorflow_import_seconds))
    root = tmp_path_factory.mktemp("parts-alone")
    grader = Grader(Run.of(sorted({a for a, _, _ in CASES.values()}), limits))
    try:
        return {case: grader.grade(Submission(f"s{i}", assignment, submission(
                    root / f"s{i}", assignment, changed))).to_json()
                for i, (case, (assignment, changed, _)) in enumerate(CASES.items())}
    finally:
        grader.close()


@pytest.mark.parametrize("case", CASES)
def test_a_submission_loses_exactly_the_parts_it_got_wrong(graded, case):
    _, _, lost = CASES[case]
    result = graded[case]
    assert result["status"] == "graded", result["reason"]
    auto = {gid: part for gid, part in result["parts"].items() if part["auto"]}
    failed = {gid for gid, part in auto.items() if part["points"] < part["max_points"]}
    assert failed == lost, {gid: auto[gid]["messages"] for gid in failed | lost}
    if case in SAID:
        gid, said = SAID[case]
        assert any(said in m for m in auto[gid]["messages"]), auto[gid]["messages"]
