"""The autograder's parts, fast: collect's patterns, probes, the progress bar, the
workspace guard, the gradebook writer, and the worker pool with a tiny assignment (no
TensorFlow) whose submissions loop forever, kill their kernel or crash the judge."""

import io
import json
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import cells, collect, grade_one, grading, probes, workspace
from autograder import gradebook as gbook
from autograder.progress import Progress
from toy_notebook import nbgrader_cell, python_notebook

REPO = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- collect
@pytest.mark.parametrize("rel, want", [
    ("doejane_1001_20240301102233_sgd_momentum.ipynb",
     {"student": "1001", "name": "doejane", "file": "sgd_momentum.ipynb"}),
    ("doejane_LATE_1001_20240301102233_Untitled.ipynb",
     {"student": "1001", "file": "Untitled.ipynb"}),
    ("Jane Doe_4711_assignsubmission_file_sgd_momentum.ipynb",
     {"student": "4711", "name": "Jane Doe"}),
    ("alice/sgd_momentum.ipynb", {"student": "alice", "file": "sgd_momentum.ipynb"}),
    ("alice/sgd_momentum/data/x.csv", {"student": "alice", "file": "data/x.csv"}),
    ("alice_sgd_momentum.ipynb", {"student": "alice", "file": "sgd_momentum.ipynb"}),
    ("bob-sgd_momentum-Copy1.ipynb", {"student": "bob", "file": "sgd_momentum-Copy1.ipynb"}),
    ("sgd_momentum_carol.ipynb", {"student": "carol", "file": "sgd_momentum.ipynb"}),
    ("README.txt", None),
    ("adam_dave.ipynb", None),  # another assignment's notebook
])
def test_collect_patterns(rel, want):
    got = collect.match(rel, "sgd_momentum", None)
    if want is None:
        assert got is None
    else:
        assert got is not None and {k: got.get(k) for k in want} == want


def test_collect_custom_pattern_wins():
    pattern = r"hw1-(?P<student>[a-z]+)-(?P<timestamp>\d{8})\.ipynb"
    got = collect.match("hw1-erin-20250301.ipynb", "sgd_momentum", pattern)
    assert got["student"] == "erin" and got["timestamp"] == "20250301"


def test_parse_timestamp_forms():
    assert str(collect.parse_timestamp("20240301102233")) == "2024-03-01 10:22:33"
    assert str(collect.parse_timestamp("2024-03-01T10-22-33")) == "2024-03-01 10:22:33"
    assert collect.parse_timestamp("1709288553") is not None
    assert collect.parse_timestamp("yesterday") is None


def test_collect_zip_with_a_wrapper_folder_and_an_unsafe_path(tmp_path):
    nb = nbformat.writes(nbformat.v4.new_notebook())
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("submissions/alice_hw.ipynb", nb)
        zf.writestr("submissions/bob/hw.ipynb", nb)
        zf.writestr("submissions/bob/data.csv", "1,2\n")
        zf.writestr("submissions/carol/hw (2).ipynb", nb)
        zf.writestr("../evil_hw.ipynb", nb)
    ws = tmp_path / "ws"
    report = collect.collect(archive, "hw", ws)
    assert sorted(s for s, _, _ in report.collected) == ["alice", "bob", "carol"]
    assert report.renamed == [("carol", "hw (2).ipynb")]
    assert any("unsafe path" in why for _, why in report.unmatched)
    assert (ws / "submitted/bob/hw/hw.ipynb").exists()
    assert (ws / "submitted/bob/hw/data.csv").read_text() == "1,2\n"
    assert not (tmp_path / "evil_hw.ipynb").exists()
    again = collect.collect(archive, "hw", ws)
    assert {state for _, _, state in again.collected} == {"unchanged"}
    assert "NOT COLLECTED" in collect.format_report(report)


# ----------------------------------------------------------------------------- probes
def test_probe_program_emits_json_and_leaves_no_names():
    probe = "xs = [square(v) for v in (1.5, -2.0)]\n{'xs': xs, 'n': len(xs)}"
    program = probes.probe_program(probe, "abc123")
    namespace = {"square": lambda v: v * v}
    out = io.StringIO()
    sys_stdout, sys.stdout = sys.stdout, out
    try:
        exec(program, namespace)
    finally:
        sys.stdout = sys_stdout
    outputs = [{"output_type": "stream", "name": "stdout", "text": out.getvalue()}]
    assert probes.probe_value(outputs, "abc123") == {"xs": [2.25, 4.0], "n": 2}
    assert set(namespace) == {"square", "__builtins__"}
    with pytest.raises(ValueError):
        probes.probe_value(outputs, "another-nonce")


class _InProcessRun:
    """Stands for grade_one._Run: runs a probe program here, as the kernel would."""

    out_of_notebook_time = False

    def __init__(self, namespace):
        self.namespace, self.saw_hidden_inputs = namespace, False

    def run(self, source, label, instructor=False):
        out = io.StringIO()
        sys_stdout, sys.stdout = sys.stdout, out
        try:
            exec(source, dict(self.namespace))
        finally:
            sys.stdout = sys_stdout
        return types.SimpleNamespace(
            timed_out=False, error=None, ename=None,
            outputs=[{"output_type": "stream", "name": "stdout", "text": out.getvalue()}])


def test_a_judge_that_crashes_sends_the_part_to_review_not_to_zero():
    from autograder.checks import Check

    def broken_judge(got, ref):
        return [got["loss"] - ref]  # TypeError on None, as figures.py once did

    checks = {"part": Check("answer", broken_judge)}
    messages, review = grade_one._probe_and_judge(
        "part", checks, {"part": 1.0}, _InProcessRun({"answer": {"loss": None}}))
    assert messages == [] and review == "the judge failed (TypeError)"


def test_a_probe_value_nested_100000_deep_fails_the_part_not_the_notebook():
    text = "<<n1>>" + "[" * 100_000 + "]" * 100_000 + "<</n1>>\n"
    outputs = [{"output_type": "stream", "name": "stdout", "text": text}]
    with pytest.raises(ValueError, match="nested too deeply"):  # the part's message
        probes.probe_value(outputs, "n1")


def test_visible_and_hidden_parts_of_a_test_cell():
    source = 'assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(7) == 49\n### END HIDDEN TESTS'
    assert cells.strip_hidden_tests(source) == "assert f(1) == 1"
    assert cells.hidden_tests(source) == "assert f(7) == 49"


# ----------------------------------------------------------------------------- progress
def test_progress_without_a_terminal_prints_plain_lines_with_eta():
    stream = io.StringIO()
    progress = Progress(4, "grading hw", stream=stream)
    progress.start()
    progress.advance(failed=False)
    progress.advance(failed=True)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in stream.getvalue()
    assert "0/4" in lines[0] and "ETA --:--" in lines[0]
    assert "2/4" in lines[2] and "50%" in lines[2] and "1 failed" in lines[2]
    assert "ETA 0:0" in lines[2]


# ----------------------------------------------------------------------------- workspace
def test_workspace_inside_a_repository_must_be_ignored(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("workspace/\n")
    with pytest.raises(workspace.UsageError, match="version control"):
        workspace.check_workspace(tmp_path / "grades")
    assert workspace.check_workspace(tmp_path / "workspace").is_dir()


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    workspace.atomic_write_text(tmp_path / "r.json", "{}")
    workspace.atomic_write_text(tmp_path / "r.json", '{"a": 1}')
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# ----------------------------------------------------------------------------- tiny assignment
TOY_CHECKS = '''
from autograder.checks import Check


def _judge(got, reference):
    if got == ["crash", "crash"]:
        import os
        os._exit(3)  # a judge bug that kills the worker process
    if isinstance(got, dict) and "error" in got:
        return [f"square raised {got['error']}"]
    return [] if got == reference else ["square is wrong on the hidden inputs"]


PROBE = """def _t():
    try:
        return [square(1.5), square(-3.0)]
    except Exception as e:
        return {"error": type(e).__name__}
_t()"""

CHECKS = {"square_test": Check(PROBE, _judge)}
'''


def toy_assignment(root: Path) -> dict:
    """solutions/toy/toy.ipynb (1 auto part of 2 points), its checks and references."""
    cell = nbgrader_cell
    nb = python_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("## Part A: square (2 points)"),
        cell("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n"
             "    ### END SOLUTION", grade_id="square", solution=True),
        cell("assert square(2) == 4\n### BEGIN HIDDEN TESTS\nassert square(1.5) == 2.25\n"
             "### END HIDDEN TESTS", grade_id="square_test", grade=True, points=2,
             locked=True),
    ]
    (root / "solutions" / "toy").mkdir(parents=True)
    nbformat.write(nb, str(root / "solutions" / "toy" / "toy.ipynb"))
    (root / "toy_checks.py").write_text(TOY_CHECKS)
    (root / "toy_refs.json").write_text(json.dumps({"square_test": [2.25, 9.0]}))
    return {"source": str(root / "solutions"), "checks": "toy_checks",
            "references": str(root / "toy_refs.json")}


def toy_submission(ws: Path, student: str, body: str, name: str = "toy.ipynb") -> None:
    folder = ws / "submitted" / student / "toy"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    c = nbformat.v4.new_code_cell(body)
    c.metadata["nbgrader"] = {"grade_id": "square", "solution": True, "grade": False,
                              "locked": False, "schema_version": 3}
    nb.cells = [c]
    nbformat.write(nb, str(folder / name))


@pytest.mark.slow  # grades four notebooks in kernels
def test_bad_submissions_never_stop_the_batch(tmp_path, monkeypatch):
    spec = toy_assignment(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    ws = tmp_path / "ws"
    toy_submission(ws, "good", "def square(x):\n    return x * x")
    toy_submission(ws, "wrong", "def square(x):\n    return 2 * x")
    toy_submission(ws, "copied", "def square(x):\n    return x ** 2", "toy-Copy1.ipynb")
    toy_submission(ws, "loops", "def square(x):\n    while True:\n        pass")
    toy_submission(ws, "dies", "import os\nos._exit(1)")
    # a value that makes the judge kill its worker process: the batch must go on
    toy_submission(ws, "crash", "def square(x):\n    return 'crash'")
    out, err = io.StringIO(), io.StringIO()
    limits = grade_one.kernels.Limits(cell_timeout=3, notebook_timeout=30)
    results = grading.grade(ws, "toy", workers=2, limits=limits, out=out, err=err,
                            **spec)["toy"]
    status = {s: (r["status"], r["score"]) for s, r in results.items()}
    assert status["good"] == ("graded", 2.0)
    assert status["copied"] == ("graded", 2.0)
    assert results["copied"]["notes"][0] == "graded toy-Copy1.ipynb (no toy.ipynb)"
    assert status["wrong"] == ("graded", 0.0)
    assert status["loops"][0] == "failed" and "time limit" in results["loops"]["reason"]
    assert status["dies"] == ("failed", 0.0)
    assert status["crash"] == ("failed", 0.0)
    assert "worker crashed" in results["crash"]["reason"]
    assert results["crash"]["final"] is False  # graded again on the next run
    assert "square is wrong" in results["wrong"]["parts"]["square_test"]["messages"][0]
    table = out.getvalue()
    assert "6 submissions: 3 graded, 3 failed" in table
    with gbook.open_gradebook(gbook.db_url(ws)) as gb:
        assert gbook.submitted_notebook_counts(gb, "toy") == \
            {(s, "toy"): 1 for s in results}


@pytest.mark.slow  # nbgrader creates a gradebook (alembic)
def test_gradebook_record_keeps_manual_scores(tmp_path):
    url = gbook.db_url(tmp_path)
    template = REPO / "solutions" / "sgd_momentum" / "sgd_momentum.ipynb"
    gbook.ensure_assignment(url, "sgd_momentum", template)
    gbook.ensure_assignment(url, "sgd_momentum", template)  # idempotent
    parts = {p["grade_id"]: {"auto": p["auto"], "points": p["max_points"] if p["auto"]
                             else None} for p in grade_one.graded_parts(
                                 grade_one.load_notebook(template))}
    result = {"status": "graded", "parts": parts}
    with gbook.open_gradebook(url) as gb:
        assert gbook.record(gb, "sgd_momentum", "sgd_momentum", "s1", result)
        assert not gbook.record(gb, "sgd_momentum", "sgd_momentum", "s1", result)
        grade = gb.find_grade("sgd_update", "sgd_momentum", "sgd_momentum", "s1")
        assert (grade.auto_score, grade.needs_manual_grade) == (2.0, False)
        grade.manual_score = 1.0
        gb.db.commit()
        assert not gbook.record(gb, "sgd_momentum", "sgd_momentum", "s1", result)
        assert grade.needs_manual_grade is False and grade.score == 1.0
        parts["sgd_update"]["points"] = 0.0
        assert gbook.record(gb, "sgd_momentum", "sgd_momentum", "s1", result)
        assert grade.auto_score == 0.0 and grade.needs_manual_grade is True
        # a part left for review (the grader could not judge it) is flagged for the
        # formgrader although nobody has scored it by hand
        parts["momentum_ema_update"].update(points=0.0, review="the judge failed")
        assert gbook.record(gb, "sgd_momentum", "sgd_momentum", "s1", result)
        held = gb.find_grade("momentum_ema_update", "sgd_momentum", "sgd_momentum", "s1")
        assert (held.auto_score, held.needs_manual_grade) == (0.0, True)
        assert not gbook.record(gb, "sgd_momentum", "sgd_momentum", "s1", result)
        assert gbook.submitted_notebook_counts(gb, "sgd_momentum") == \
            {("s1", "sgd_momentum"): 1}


def test_cli_help_lists_the_five_commands():
    proc = subprocess.run([sys.executable, "-m", "autograder", "--help"], cwd=REPO,
                          capture_output=True, text=True, check=True)
    for command in ("collect", "grade", "feedback", "export", "report"):
        assert command in proc.stdout


def test_grade_summary_counts_the_parts_held_for_review():
    from autograder import grading

    part = {"auto": True, "max_points": 3.0, "points": 0.0}
    results = {
        "ann": {"status": "graded", "score": 0.0, "max_score": 3.0,
                "parts": {"a": dict(part, review="the judge failed (TypeError)")}},
        "bob": {"status": "graded", "score": 3.0, "max_score": 3.0,
                "parts": {"a": dict(part, points=3.0)}},
    }
    out = io.StringIO()
    grading.print_table(results, {"ann", "bob"}, out)
    assert "1 part held for your review" in out.getvalue().splitlines()[-1]
