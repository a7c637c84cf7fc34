"""The student's check (``python -m course.check``) on small made-up notebooks.

A toy assignment (no TensorFlow: each check starts one plain kernel, about 2 s) released
as ``make exercises`` releases one (nbgrader checksums, the release record), then
changed the ways students change notebooks. The check must find each change and name
it in grading's words; the rules it shares with nbgrader (checksums) are checked
against nbgrader itself. The real notebooks in the student's environment, and the
check against the grader, are in tests/publishing/test_check_student_env.py.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course.check import cells as nbcells
from course.check import check_notebook, release_record
from course.check.frontend import notebook_path
from course.check.kernel import RUNNING_ENV
from course.check.plan import plan
from course.check.render import as_html, as_text
from course.check.verdict import defined_names
from course.grading_terms import LIMITS, GradingLimits, say

ROOT = Path(__file__).resolve().parents[2]
SETUP = "import math\nBASE = 2\nprint('set-up done')"
ANSWER_STUB = "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
ANSWER = "def double(x):\n    return BASE * x"
TEST = ('"""Part A: double."""\nassert double(3) == 6, "double(3) should be 6"\n'
        'print("Part A passes the visible checks.")')
SQUARE_STUB = "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
SQUARE = "def square(x):\n    return x * x"
SQUARE_TEST = 'assert square(4) == 16, "square(4) should be 16"'
FAST = GradingLimits(cell_seconds=3, notebook_seconds=8, output_bytes=1000)


def _cell(kind, source, grade_id=None, **flags):
    cell = (nbformat.v4.new_markdown_cell(source) if kind == "markdown"
            else nbformat.v4.new_code_cell(source))
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3,
                                     "grade": False, "solution": False, "locked": False,
                                     **flags}
        cell.metadata["nbgrader"]["checksum"] = nbcells.checksum(cell)
    return cell


def released_toy() -> nbformat.NotebookNode:
    """The toy assignment as ``make exercises`` releases it: stubs, checksums, record."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("markdown", "# Toy assignment (4 points)"),
        _cell("code", SETUP, "setup", locked=True),
        _cell("markdown", "## Part A: double (2 points)"),
        _cell("code", ANSWER_STUB, "double_answer", solution=True),
        _cell("code", TEST, "double_test", grade=True, locked=True, points=2),
        _cell("markdown", "## Part B: square (1 point)"),
        _cell("code", SQUARE_STUB, "square_answer", solution=True),
        _cell("code", SQUARE_TEST, "square_test", grade=True, locked=True, points=1),
        _cell("markdown", "## Part C: why (1 point)"),
        _cell("markdown", nbcells.TEXT_STUB, "why_answer", grade=True, solution=True,
              points=1),
        _cell("code", "check_this_notebook()", nbcells.CHECK_CELL_ID, locked=True),
    ]
    nb.metadata["course"] = release_record(nb, "toy")
    return nb


def answered(nb=None, **sources) -> nbformat.NotebookNode:
    """The toy with answers (default: all correct); ``grade_id=source`` overrides."""
    nb = copy.deepcopy(nb or released_toy())
    answers = {"double_answer": ANSWER, "square_answer": SQUARE,
               "why_answer": "Because x + x is 2x.", **sources}
    for cell in nb.cells:
        if nbcells.grade_id(cell) in answers:
            cell.source = answers[nbcells.grade_id(cell)]
    return nb


def check(tmp_path, nb, name="toy.ipynb", limits=FAST):
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return check_notebook(path, limits=limits)


def flat(text: str) -> str:
    return " ".join(text.split())


def results(report) -> dict[str, str]:
    return {p.grade_id: p.result for p in report.parts}


# --- what nbgrader defines, without nbgrader ------------------------------------------

def test_checksums_are_nbgrader_s_on_every_released_cell():
    from nbgrader.utils import compute_checksum

    checked = 0
    for path in sorted((ROOT / "exercises").glob("*/*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            stored = nbcells.nbgrader_meta(cell).get("checksum")
            if stored:
                assert nbcells.checksum(cell) == compute_checksum(cell) == stored
                checked += 1
    assert checked >= 5 * 8


def test_cell_kinds_follow_nbgrader_s_flags():
    from nbgrader import utils

    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            kind = nbcells.kind(cell)
            assert (kind == "test") == (utils.is_grade(cell) and not utils.is_solution(cell)
                                        and cell.cell_type == "code"), kind
            assert (kind in ("answer", "written")) == bool(utils.is_solution(cell))


def test_hidden_tests_are_left_out_as_nbgrader_leaves_them():
    from autograder.notebook.nbgrader_cells import strip_hidden_tests

    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            if nbcells.kind(cell) == "test":
                assert nbcells.visible_part(cell.source) == strip_hidden_tests(cell.source)


def test_every_released_notebook_carries_its_record():
    for path in sorted((ROOT / "exercises").glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        record = nbcells.record_of(nb)
        assert record and record["assignment"] == path.stem
        assert [e.get("grade_id") for e in record["cells"] if e.get("grade_id")] == \
            [nbcells.grade_id(c) for c in nb.cells if nbcells.grade_id(c)]
        tests = [e for e in record["cells"] if e["kind"] == "test"]
        assert tests and all("HIDDEN" not in e["source"] for e in tests)


# --- the plan: what runs ----------------------------------------------------------------

def test_the_check_cell_never_runs_in_the_copy():
    run = plan(answered())
    assert all("check_this_notebook" not in c.source for c in run.cells)
    assert [c.kind for c in run.cells] == ["setup", "answer", "test", "answer", "test"]


def test_a_deleted_or_edited_test_cell_runs_as_released():
    nb = answered()
    nb.cells = [c for c in nb.cells if nbcells.grade_id(c) != "double_test"]
    edited = next(c for c in nb.cells if nbcells.grade_id(c) == "square_test")
    edited.source = "pass  # the test is gone"
    run = plan(nb)
    assert [c.source for c in run.cells if c.kind == "test"] == [TEST, SQUARE_TEST]
    assert run.notes == [("test_missing", {"grade_id": "double_test"}),
                         ("test_edited", {"grade_id": "square_test"})]


def test_without_a_record_edits_are_found_by_checksum():
    nb = answered()
    del nb.metadata["course"]
    next(c for c in nb.cells if nbcells.grade_id(c) == "setup").source += "\nBASE = 3"
    assert plan(nb).notes == [("locked_edited", {"grade_id": "setup"}), ("no_record", {})]


def test_defined_names_are_the_top_level_bindings():
    source = "%matplotlib inline\nimport numpy as np\nfrom os import path as p\n" \
             "def f():\n    inner = 1\nclass C: pass\nx, (y, z) = 1, (2, 3)\nfor i in []: pass"
    assert defined_names(source) == {"np", "p", "f", "C", "x", "y", "z", "i"}


# --- the check, in a kernel ---------------------------------------------------------------

def test_a_correct_notebook_is_clean(tmp_path):
    report = check(tmp_path, answered())
    assert results(report) == {"double_test": "passes", "square_test": "passes",
                               "why_answer": "by_hand"}
    assert report.exit_code == 0 and report.warnings == [] and report.failure is None
    assert say("verdict_clean") in flat(as_text(report))


def test_an_untouched_notebook_has_every_part_unanswered(tmp_path):
    report = check(tmp_path, released_toy())
    assert set(results(report).values()) == {"not_answered"}
    assert report.exit_code == 1
    assert "cell 'double_answer' still raises NotImplementedError" in flat(as_text(report))


def test_a_half_written_answer_is_not_answered(tmp_path):
    """One function written, the one the test calls next still raises."""
    report = check(tmp_path, answered(square_answer="def square(x):\n    raise "
                                                    "NotImplementedError()  # later"))
    part = report.parts[1]
    assert part.result == "not_answered" and part.messages == [say("stub_called")]


def test_a_failed_visible_check_is_quoted_with_the_cell_it_came_from(tmp_path):
    report = check(tmp_path, answered(double_answer="def double(x):\n    return x"))
    part = report.parts[0]
    assert part.result == "not_passed" and report.exit_code == 1
    assert part.messages == ["visible check failed: AssertionError: double(3) should be 6"]


def test_a_name_defined_only_further_down_is_named(tmp_path):
    """Works only out of order: the answer uses a name a later cell defines. The saved
    notebook shows the test passing (the student ran the cells in another order)."""
    nb = answered(double_answer="def double(x):\n    return FACTOR * x")
    nb.cells.insert(7, nbformat.v4.new_code_cell("FACTOR = 2"))
    test = next(c for c in nb.cells if nbcells.grade_id(c) == "double_test")
    test.execution_count, test.outputs = 5, [nbformat.v4.new_output(
        "stream", name="stdout", text="Part A passes the visible checks.\n")]
    nb.cells[7].execution_count = 4
    report = check(tmp_path, nb)
    assert report.parts[0].result == "not_passed"
    assert "'FACTOR' is defined only further down, in code cell 5" in \
        report.parts[0].messages[0]
    assert report.warnings[:2] == [
        say("hidden_state", part="Part A: double (2 points)"),
        say("out_of_order", later="In [5]", earlier="In [4]")]


def test_a_slow_cell_is_stopped_at_the_cell_limit(tmp_path):
    report = check(tmp_path, answered(double_answer="import time\ntime.sleep(600)\n" + ANSWER))
    assert report.failure == "cell time limit (3 s) reached in cell 'double_answer'"
    assert results(report)["double_test"] == "not_passed"  # the answer never got defined
    assert results(report)["square_test"] == "passes"  # the kernel lives on, as in grading


def test_the_notebook_limit_stops_the_rest(tmp_path):
    slow = "import time\ntime.sleep(2.5)\n"
    report = check(tmp_path, answered(double_answer=slow + ANSWER,
                                      square_answer=slow + SQUARE),
                   limits=GradingLimits(cell_seconds=3, notebook_seconds=4))
    assert report.failure == "notebook time limit (4 s) reached in cell 'square_answer'"
    assert results(report)["square_test"] == "not_run"


def test_a_flood_of_output_is_cut_at_the_output_limit(tmp_path):
    flood = "for i in range(10**6):\n    print('x' * 100)\n"
    report = check(tmp_path, answered(square_answer=flood + SQUARE), limits=LIMITS)
    assert report.failure == ("output limit (1048576 bytes) exceeded in cell "
                              "'square_answer'")
    assert report.exit_code == 1


def test_a_renamed_file_is_named(tmp_path):
    report = check(tmp_path, answered(), name="toy (1).ipynb")
    assert report.warnings == [say("wrong_name", name="toy (1).ipynb",
                                   expected="toy.ipynb")]
    assert report.exit_code == 1


def test_a_deleted_test_cell_is_reported_and_its_copy_judges(tmp_path):
    nb = answered(double_answer="def double(x):\n    return x")
    nb.cells = [c for c in nb.cells if nbcells.grade_id(c) != "double_test"]
    report = check(tmp_path, nb)
    assert say("test_missing", grade_id="double_test") in report.warnings
    assert results(report)["double_test"] == "not_passed"


def test_the_report_speaks_the_notebook_s_language(tmp_path):
    nb = released_toy()
    nb.metadata["course"]["language"] = "zh_CN"
    report = check(tmp_path, nb)
    text = as_text(report)
    assert "未作答" in text and "仍会抛出 NotImplementedError" in text
    assert "未作答" in as_html(report) and "部分" in as_html(report)


def test_the_command_line_exit_codes(tmp_path):
    command = [sys.executable, "-m", "course.check"]
    nbformat.write(answered(), str(tmp_path / "toy.ipynb"))
    clean = subprocess.run(command + [str(tmp_path / "toy.ipynb"), "--json",
                                      str(tmp_path / "r.json")],
                           capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads((tmp_path / "r.json").read_text())["parts"][0]["result"] == "passes"
    missing = subprocess.run(command + [str(tmp_path / "nothing.ipynb")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (tmp_path / "bad.ipynb").write_text("{not json")
    bad = subprocess.run(command + [str(tmp_path / "bad.ipynb")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a notebook" in bad.stderr


def test_the_check_cell_is_harmless_where_there_is_no_notebook(tmp_path, monkeypatch):
    """In grading's kernel, nbgrader's or the check's own copy, the cell does nothing."""
    from course.check import check_this_notebook

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv(RUNNING_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert check_this_notebook() is None
    monkeypatch.setenv(RUNNING_ENV, "1")
    assert check_this_notebook() is None


def test_the_front_end_s_path_is_found(tmp_path, monkeypatch):
    nbformat.write(answered(), str(tmp_path / "toy.ipynb"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "toy.ipynb"))
    assert notebook_path({}) == tmp_path / "toy.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", "course/exercises/toy.ipynb")  # relative
    assert notebook_path({}) == tmp_path / "toy.ipynb"
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert notebook_path({"__vsc_ipynb_file__": str(tmp_path / "toy.ipynb")}) == \
        tmp_path / "toy.ipynb"
    assert notebook_path({}) is None


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_both_languages_have_every_message_with_the_same_fields(language):
    import string

    from course.grading_terms import LANGUAGES, WORDS

    assert set(WORDS) == set(LANGUAGES)  # every language of the site
    assert WORDS[language].keys() == WORDS["en"].keys()
    for key, text in WORDS[language].items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        english = {f for _, f, _, _ in string.Formatter().parse(WORDS["en"][key]) if f}
        assert fields == english, key


def test_in_colab_the_notebook_comes_from_the_browser(tmp_path, monkeypatch, capsys):
    """Colab's kernel has no notebook file: the cell asks the browser for the notebook
    (google.colab._message, faked here) and checks it under its Colab name."""
    import types

    nb = json.loads(nbformat.writes(answered()))
    nb["metadata"]["colab"] = {"name": "Copy of toy.ipynb"}
    message = types.ModuleType("google.colab._message")
    message.blocking_request = lambda kind, request="", timeout_sec=0: (
        {"ipynb": nb} if kind == "get_ipynb" else None)
    colab = types.ModuleType("google.colab")
    colab._message = message
    for name, module in (("google", types.ModuleType("google")), ("google.colab", colab),
                         ("google.colab._message", message)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delenv(RUNNING_ENV, raising=False)
    from course.check import check_this_notebook

    assert check_this_notebook() == 1  # only the name is wrong
    shown = capsys.readouterr().out
    assert "Copy of toy.ipynb" in shown and "toy.ipynb" in shown


def test_paths_with_spaces_and_chinese_characters(tmp_path):
    folder = tmp_path / "我的 作业"
    folder.mkdir()
    report = check(folder, answered(), name="toy 副本.ipynb")
    assert report.warnings == [say("wrong_name", name="toy 副本.ipynb",
                                   expected="toy.ipynb")]
    assert results(report)["double_test"] == "passes"


def test_the_pages_show_how_to_run_it_with_the_grading_limits():
    """The exercises page and the student README quote the limits the check and the
    grader share, show the command and the screenshot, which is committed."""
    for page in ("book/exercises.md", "public/README.md"):
        text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
        assert f"{LIMITS.cell_seconds:g} s a cell" in text or \
            f"after {LIMITS.cell_seconds:g} s" in text, page
        assert f"{LIMITS.notebook_seconds:g} s" in text and "1 MiB" in text, page
        assert LIMITS.output_bytes == 2**20
        assert "python -m course.check" in text and "check-my-notebook.png" in text, page
    chinese = " ".join((ROOT / "public" / "README.zh_CN.md").read_text(encoding="utf-8")
                       .split())
    assert (f"每个单元 {LIMITS.cell_seconds:g} 秒" in chinese
            and f"共 {LIMITS.notebook_seconds:g} 秒" in chinese and "1 MiB" in chinese)
    assert "python -m course.check exercises/zh_CN/" in chinese
    assert "check-my-notebook.png" in chinese
    image = ROOT / "book" / "images" / "check-my-notebook.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
