"""autograder.notebook.nbgrader_cells: one definition of test cells, hidden blocks and
release stubs, agreeing with nbgrader's own preprocessors."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.notebook import nbgrader_cells as cells

HIDDEN = ("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(21) == 42\n"
          "### END HIDDEN TESTS\n")


def nbg(**meta):
    return {"nbgrader": {"schema_version": 3, **meta}}


def test_a_hidden_block_without_end_is_an_error_as_in_nbgrader():
    with pytest.raises(RuntimeError, match="No end hidden tests"):
        cells.strip_hidden_tests("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(3)")


def test_visible_lines_after_the_hidden_block_are_kept():
    source = HIDDEN + "print('done')"
    assert cells.strip_hidden_tests(source) == "assert f(1) == 2\nprint('done')"
    assert cells.hidden_tests(source) == "assert f(21) == 42"


def test_stripping_agrees_with_nbgraders_clear_hidden_tests():
    from nbgrader.preprocessors import ClearHiddenTests

    nb = new_notebook(cells=[new_code_cell(HIDDEN + "x = 1\n", metadata=nbg(
        grade=True, solution=False, grade_id="t", points=1))])
    ours = cells.strip_hidden_tests(nb.cells[0].source)
    theirs, _ = ClearHiddenTests().preprocess(nb, {})
    assert ours.rstrip() == theirs.cells[0].source.rstrip()


def test_kinds_of_cells_and_malformed_metadata():
    test = new_code_cell("assert True", metadata=nbg(grade=True, solution=False,
                                                      grade_id="t", points=2))
    answer = new_code_cell("x = 1", metadata=nbg(grade=False, solution=True,
                                                 grade_id="a"))
    written = new_markdown_cell("YOUR ANSWER HERE", metadata=nbg(
        grade=True, solution=True, grade_id="w", points=1))
    broken = new_code_cell("x", metadata={"nbgrader": "not a dict"})
    assert (cells.is_test(test), cells.is_answer(test)) == (True, False)
    assert (cells.is_test(answer), cells.is_answer(answer)) == (False, True)
    assert (cells.is_test(written), cells.is_graded(written)) == (False, True)
    assert not cells.is_test(broken) and cells.grade_id(broken) is None
    parts = cells.graded_parts(new_notebook(cells=[new_markdown_cell("## Part A"), test,
                                                   answer, written]))
    assert [(p["grade_id"], p["auto"], p["title"]) for p in parts] == \
        [("t", True, "Part A"), ("w", False, "Part A")]


def test_release_stub_keeps_what_lies_outside_the_solution():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
    assert cells.release_stub(source) == \
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert cells.release_stub("x = 1") == cells.CODE_STUB
    assert cells.release_stub(cells.CODE_STUB) == cells.CODE_STUB
    nbformat.validate(new_notebook(cells=[new_code_cell(cells.release_stub(source))]))
