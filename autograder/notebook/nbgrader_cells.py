"""nbgrader's notebook cells: which cell is an answer or a test, what a student sees.

The one home of this knowledge in the grader, built on nbgrader's own definitions
(``nbgrader.utils`` and the ``ClearHiddenTests``/``ClearSolutions`` preprocessors that
``nbgrader generate_assignment`` runs), so the grader cannot disagree with the release:

- a *test* cell is a graded code cell that is not an answer; an *answer* cell is a
  code cell with a solution that is not graded itself (its test cells grade it);
- the hidden-test block runs from a line holding ``BEGIN HIDDEN TESTS`` to one holding
  ``END HIDDEN TESTS``; a block without its END is an error, as in nbgrader;
- a cleared answer keeps what lies outside ``BEGIN/END SOLUTION`` and gets nbgrader's
  stub inside.

Cells may come from a student, so every reader here accepts malformed metadata.
"""

from __future__ import annotations

import nbformat
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

# Reading a cell's metadata and source: the student's check (course.check, the public
# package, which cannot import the grader) has the one definition, malformed cells
# included; the grader reads cells the same way.
from course.check.cells import grade_id, nbgrader_meta, source

_HIDDEN = ClearHiddenTests()
_SOLUTIONS = ClearSolutions()
BEGIN_HIDDEN = _HIDDEN.begin_test_delimeter  # "BEGIN HIDDEN TESTS"
END_HIDDEN = _HIDDEN.end_test_delimeter
#: How the course's notebooks write the delimiters (a Python comment).
HIDDEN_BEGIN_LINE = f"### {BEGIN_HIDDEN}"
HIDDEN_END_LINE = f"### {END_HIDDEN}"
BEGIN_SOLUTION = _SOLUTIONS.begin_solution_delimeter  # "BEGIN SOLUTION"
END_SOLUTION = _SOLUTIONS.end_solution_delimeter
CODE_STUB = _SOLUTIONS.code_stub["python"]  # "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = _SOLUTIONS.text_stub  # "YOUR ANSWER HERE"


def _view(cell) -> nbformat.NotebookNode:
    """A well-formed stand-in for nbgrader's ``utils``, which expect a sane cell."""
    return nbformat.from_dict({"cell_type": cell.get("cell_type"), "source": source(cell),
                               "metadata": {"nbgrader": nbgrader_meta(cell)}})


def is_test(cell) -> bool:
    """An autograded test cell: graded code that is not an answer."""
    view = _view(cell)
    return view.cell_type == "code" and bool(utils.is_grade(view)) and \
        not utils.is_solution(view)


def is_answer(cell) -> bool:
    """An answer cell whose code runs before its tests: a solution, not graded itself."""
    view = _view(cell)
    return view.cell_type == "code" and bool(utils.is_solution(view)) and \
        not utils.is_grade(view)


def is_graded(cell) -> bool:
    """A cell that carries points: a test, a written or hand-graded answer, a task."""
    view = _view(cell)
    return bool(utils.is_grade(view) or utils.is_task(view))


def strip_hidden_tests(text: str) -> str:
    """A test cell's source without its hidden block(s), as ``ClearHiddenTests``
    leaves it (trailing blank lines dropped); raises ``RuntimeError`` on a block
    without its END."""
    cell = nbformat.v4.new_code_cell(text)
    _HIDDEN._remove_hidden_test_region(cell)
    return cell.source.rstrip() + ("\n" if text.endswith("\n") else "")


def hidden_tests(text: str) -> str:
    """The lines inside a test cell's hidden block(s)."""
    kept, inside = [], False
    for line in text.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif inside:
            kept.append(line)
    return "\n".join(kept)


def release_stub(text: str) -> str:
    """What ``nbgrader generate_assignment`` leaves of an answer cell's source: the
    solution regions replaced by the stub, or the whole cell when it has none. A
    released cell (already holding the stub) stays as it is."""
    cell = nbformat.v4.new_code_cell(text)
    if _SOLUTIONS._replace_solution_region(cell, "python"):
        return cell.source
    return text if CODE_STUB in text else CODE_STUB


def graded_parts(nb) -> list[dict]:
    """Every graded cell of an instructor's notebook, in order, with the title of the
    markdown heading above it: ``auto`` parts are test cells judged by the grader; the
    others (written answers, hand-graded code, tasks) are left for the instructor."""
    parts, title = [], ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = next((line for line in cell.source.splitlines()
                            if line.startswith("#")), None)
            title = heading.lstrip("#").strip() if heading else title
        if not is_graded(cell):
            continue
        meta = nbgrader_meta(cell)
        parts.append({"grade_id": meta["grade_id"],
                      "max_points": float(meta.get("points", 0)),
                      "auto": is_test(cell), "title": title})
    return parts


def cells_by_id(nb) -> dict:
    """{grade_id: cell} for every cell with a grade_id (the first one of each)."""
    out = {}
    for cell in nb.cells:
        out.setdefault(grade_id(cell), cell)
    out.pop(None, None)
    return out
