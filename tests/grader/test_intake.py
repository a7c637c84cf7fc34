"""autograder.notebook.intake: malformed files are rejected with a reason, tampering has no effect.

Pure Python (no kernel, no TensorFlow). The adversarial suite (tests/adversarial/)
grades such files end to end; these tests pin the rules one by one.
"""

import copy
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.notebook import intake
from autograder.notebook import nbgrader_cells as cells
from autograder.notebook.assemble import assemble
from autograder.notebook.intake import Rejected

REPO = Path(__file__).resolve().parents[2]


def nbg(**meta):
    return {"nbgrader": {"schema_version": 3, "locked": False, "solution": False,
                         "grade": False, **meta}}


def instructor():
    return new_notebook(cells=[
        new_markdown_cell("# Title", metadata=nbg(locked=True, grade_id="title")),
        new_code_cell("import math", metadata=nbg(locked=True, grade_id="setup")),
        new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                      "    ### END SOLUTION", metadata=nbg(solution=True, grade_id="f_answer")),
        new_code_cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(21) == 42\n"
                      "### END HIDDEN TESTS",
                      metadata=nbg(grade=True, locked=True, points=2, grade_id="f_test")),
        new_code_cell("### BEGIN SOLUTION\ng = lambda: 3\n### END SOLUTION",
                      metadata=nbg(solution=True, grade_id="g_answer")),
        new_code_cell("assert g() == 3", metadata=nbg(grade=True, locked=True, points=1,
                                                      grade_id="g_test")),
        new_markdown_cell("Explain.", metadata=nbg(solution=True, grade=True, points=1,
                                                    grade_id="essay")),
    ])


def student(**answers):
    nb = copy.deepcopy(instructor())
    for cell in nb.cells:
        gid = cell.metadata["nbgrader"]["grade_id"]
        if gid in answers:
            cell.source = answers[gid]
        elif cell.metadata["nbgrader"]["solution"] and cell.cell_type == "code":
            cell.source = cells.release_stub(cell.source)
    return nb


def by_id(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if "nbgrader" in c.metadata}


def write(tmp_path, data, name="sub.ipynb"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


# ------------------------------------------------------------------ read_submission
@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"  \n\t", "empty file"),
    (b'{"cells": [], "nbformat": 4, \xff\xfe}', "not UTF-8"),
    (b'{"cells": [', "invalid JSON at line 1"),
    (b"[1, 2, 3]", "not a Jupyter notebook"),
    (b'{"cells": []}', "not a Jupyter notebook"),
    (b'{"nbformat": "4", "cells": []}', "not a Jupyter notebook"),
    (b'{"nbformat": 5, "nbformat_minor": 0, "cells": [], "metadata": {}}',
     "unsupported notebook format version 5"),
    (b'{"nbformat": 2, "worksheets": []}', "unsupported notebook format version 2"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "cells": {}, "metadata": {}}',
     "no list of cells"),
    (b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": 7}',
     "nbformat 3 notebook that cannot be converted"),
])
def test_malformed_files_are_rejected_with_a_reason(tmp_path, data, reason):
    with pytest.raises(Rejected) as info:
        intake.read_submission(write(tmp_path, data))
    assert reason in info.value.reason
    assert "\n" not in info.value.reason


def test_oversize_file_is_rejected_from_its_size(tmp_path):
    path = tmp_path / "huge.ipynb"
    with open(path, "wb") as fh:  # sparse: 200 MB in no time and no disk
        fh.truncate(200 * 2**20)
    with pytest.raises(Rejected, match="file too large: 200.0 MB"):
        intake.read_submission(path)
    small = write(tmp_path, nbformat.writes(student()), "small.ipynb")
    with pytest.raises(Rejected, match="file too large"):
        intake.read_submission(small, max_bytes=100)


def test_links_and_folders_are_not_followed(tmp_path):
    target = write(tmp_path, nbformat.writes(student()), "real.ipynb")
    link = tmp_path / "link.ipynb"
    link.symlink_to(target)
    with pytest.raises(Rejected, match="symbolic link"):
        intake.read_submission(link)
    with pytest.raises(Rejected, match="not a regular file"):
        intake.read_submission(tmp_path)
    with pytest.raises(Rejected, match="no such file"):
        intake.read_submission(tmp_path / "missing.ipynb")


def test_a_good_notebook_reads_back_unchanged(tmp_path):
    nb = student(f_answer="def f(x):\n    return x + x")
    got = intake.read_submission(write(tmp_path, nbformat.writes(nb)))
    assert by_id(got)["f_answer"].source == "def f(x):\n    return x + x"
    assert "autograder" not in got.metadata


def test_byte_order_mark_and_newer_minor_version_are_noted(tmp_path):
    data = json.loads(nbformat.writes(student()))
    data["nbformat_minor"] = 99
    got = intake.read_submission(write(tmp_path, b"\xef\xbb\xbf" + json.dumps(data).encode()))
    notes = got.metadata["autograder"]["intake_notes"]
    assert any("byte-order mark" in n for n in notes)
    assert any("4.99" in n for n in notes)


def test_nbformat_3_is_converted(tmp_path):
    nb3 = nbformat.convert(student(f_answer="def f(x):\n    return 2 * x"), 3)
    got = intake.read_submission(write(tmp_path, nbformat.writes(nb3, version=3)))
    assert got.nbformat == 4
    assert by_id(got)["f_answer"].source == "def f(x):\n    return 2 * x"
    assert any("nbformat 3" in n for n in got.metadata["autograder"]["intake_notes"])


def test_wrong_kernel_is_graded_with_the_course_kernel(tmp_path):
    nb = student()
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.metadata["language_info"] = {"name": "R"}
    got = intake.read_submission(write(tmp_path, nbformat.writes(nb)))
    assert got.metadata["kernelspec"]["name"] == "python3"
    assert any("kernel 'ir'" in n for n in got.metadata["autograder"]["intake_notes"])


def test_schema_invalid_notebook_is_salvaged_from_its_cells(tmp_path):
    data = json.loads(nbformat.writes(student(f_answer="def f(x):\n    return x * 2")))
    data["cells"][0]["bogus_key"] = 1  # not allowed by the nbformat 4 schema
    data["cells"].append({"cell_type": "widget", "source": "x"})
    got = intake.read_submission(write(tmp_path, json.dumps(data)))
    assert by_id(got)["f_answer"].source == "def f(x):\n    return x * 2"
    notes = got.metadata["autograder"]["intake_notes"]
    assert any("1 unreadable cells dropped" in n for n in notes)


# ------------------------------------------------------------------ assemble
def runnable_sources(nb):
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_assemble_takes_answers_and_nothing_else_from_the_student():
    stud = student(f_answer="def f(x):\n    return x + x")
    run, notes = assemble(instructor(), stud)
    cells = by_id(run)
    assert cells["f_answer"].source == "def f(x):\n    return x + x"
    assert cells["g_answer"].source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert cells["f_test"].source == "assert f(1) == 2"  # hidden block removed
    text = nbformat.writes(run)
    for secret in ("2 * x", "f(21) == 42", "BEGIN SOLUTION", "HIDDEN TESTS", "lambda: 3"):
        assert secret not in text
    assert notes == []
    nbformat.validate(run)


def test_tampered_tests_points_and_flags_change_nothing():
    stud = student(f_answer="def f(x):\n    return 0")
    cells = by_id(stud)
    cells["f_test"].source = "pass"
    cells["f_test"].metadata["nbgrader"]["points"] = 100
    cells["g_test"].cell_type = "markdown"
    del cells["g_test"]["outputs"], cells["g_test"]["execution_count"]
    cells["f_answer"].metadata["nbgrader"]["grade"] = True
    cells["f_answer"].metadata["nbgrader"]["points"] = 50
    for cell in stud.cells:
        cell.metadata["nbgrader"]["schema_version"] = 4
    run, notes = assemble(instructor(), stud)
    clean, _ = assemble(instructor(), student(f_answer="def f(x):\n    return 0"))
    assert [c.metadata for c in run.cells] == [c.metadata for c in clean.cells]
    assert runnable_sources(run) == runnable_sources(clean)
    joined = "\n".join(notes)
    assert "test cell 'f_test' was edited" in joined
    assert "points changed from 2 to 100" in joined
    assert "'g_test' was turned from code into markdown" in joined
    assert "flag 'grade' changed" in joined
    assert "unknown nbgrader schema_version 4" in joined


def test_deleted_duplicated_and_reordered_cells():
    stud = student(f_answer="def f(x):\n    return 2 * x", g_answer="g = lambda: 3")
    cells = by_id(stud)
    stud.cells = [cells["g_answer"], cells["f_test"], cells["f_test"], cells["setup"],
                  cells["f_answer"], cells["f_answer"]]  # g_test deleted
    stud.cells[-1] = copy.deepcopy(stud.cells[-1])
    stud.cells[-1].source = "def f(x):\n    return -1"  # a second copy: not graded
    run, notes = assemble(instructor(), stud)
    assert [c.metadata["nbgrader"]["grade_id"] for c in run.cells] == \
        [c.metadata["nbgrader"]["grade_id"] for c in instructor().cells]
    assert by_id(run)["f_answer"].source == "def f(x):\n    return 2 * x"
    assert by_id(run)["g_test"].source == "assert g() == 3"
    joined = "\n".join(notes)
    assert "test cell 'g_test' is missing" in joined
    assert "answer 'f_answer' appears 2 times" in joined
    assert "reordered" in joined


def test_deleted_answer_gets_the_release_stub():
    stud = student()
    stud.cells = [c for c in stud.cells if c.metadata["nbgrader"]["grade_id"] != "f_answer"]
    run, notes = assemble(instructor(), stud)
    assert by_id(run)["f_answer"].source == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()")
    assert "answer cell 'f_answer' is missing: graded as unanswered" in notes


def test_extra_cells_stay_next_to_the_answers_and_fake_grade_cells_are_plain_code():
    stud = student(f_answer="def f(x):\n    return helper(x)")
    helper = new_code_cell("def helper(x):\n    return 2 * x")
    fake = new_code_cell("assert True", metadata=nbg(grade=True, points=99,
                                                      grade_id="bonus"))
    stud.cells.insert(2, helper)  # before f_answer, after setup
    stud.cells.append(fake)
    stud.cells.append(new_markdown_cell("my notes"))
    run, notes = assemble(instructor(), stud)
    sources = [c.source for c in run.cells]
    assert sources.index(helper.source) == sources.index("import math") + 1
    extra = [c for c in run.cells if c.source == "assert True"]
    assert len(extra) == 1 and "nbgrader" not in extra[0].metadata
    assert "my notes" not in sources
    assert any("'bonus', which the assignment does not have" in n for n in notes)
    assert any("2 extra code cell(s)" in n for n in notes)


def test_unmarked_instructor_cells_are_the_students_to_edit():
    inst = instructor()
    demo = new_code_cell("print(f(3))")  # no nbgrader metadata: not locked
    inst.cells.insert(4, demo)
    stud = copy.deepcopy(inst)
    for cell in stud.cells:
        if cell.get("id") == demo.id:
            cell.source = "print(f(4))"
    run, notes = assemble(inst, stud)
    sources = [c.source for c in run.cells]
    assert "print(f(4))" in sources and "print(f(3))" not in sources
    assert sources.index("print(f(4))") == 4
    assert not any("extra" in n for n in notes)
    stud.cells = [c for c in stud.cells if c.get("id") != demo.id]
    run, _ = assemble(inst, stud)
    assert [c.source for c in run.cells].count("print(f(3))") == 1


def test_intake_notes_reach_assemble(tmp_path):
    nb = student()
    nb.metadata["kernelspec"] = {"name": "julia-1.9", "language": "julia"}
    got = intake.read_submission(write(tmp_path, nbformat.writes(nb)))
    _, notes = assemble(instructor(), got)
    assert any("julia" in n for n in notes)


@pytest.mark.parametrize("name", sorted(
    p.name for p in (REPO / "exercises").glob("*") if (p / f"{p.name}.ipynb").exists()))
def test_release_stub_matches_nbgrader_release(name):
    """Our stub for a deleted answer is what `make exercises` gave the students."""
    source = nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4)
    release = nbformat.read(REPO / "exercises" / name / f"{name}.ipynb", as_version=4)
    released = {c.metadata["nbgrader"]["grade_id"]: c.source for c in release.cells
                if c.metadata.get("nbgrader", {}).get("solution")
                and c.cell_type == "code"}
    assert released
    for cell in source.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in released:
            assert cells.release_stub(cell.source) == released[gid], gid
    # assembling the untouched release gives the same notebook as no answers at all
    run_release, _ = assemble(source, release)
    empty = copy.deepcopy(release)
    empty.cells = [c for c in empty.cells if c.cell_type == "markdown"]
    run_empty, _ = assemble(source, empty)
    assert runnable_sources(run_release) == runnable_sources(run_empty)
    assert "BEGIN SOLUTION" not in nbformat.writes(run_release)
    assert "HIDDEN TESTS" not in nbformat.writes(run_release)
