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

from autograder import sandbox, workspace
from autograder.commands import collect
from autograder.commands import grade as grading
from autograder.grading import assignment, notebook_run, probes
from autograder.notebook import nbgrader_cells as cells
from autograder import gradebook as gbook
from autograder.commands.progress import Progress
from autograder.checks.probe import Probe
from autograder.grading.result import Part, Result
from autograder.grading.run import AssignmentSource, Run
from autograder.grading.stopwatch import Stopwatch
from toy_notebook import nbgrader_cell, python_notebook
from toy_probes import probe_name, probe_squares

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"


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
    program = probes.probe_program(Probe(probe_squares, {"inputs": [1.5, -2.0]}), "abc123")
    namespace = {"square": lambda v: v * v}
    out = io.StringIO()
    sys_stdout, sys.stdout = sys.stdout, out
    try:
        exec(program, namespace)
    finally:
        sys.stdout = sys_stdout
    outputs = [{"output_type": "stream", "name": "stdout", "text": out.getvalue()}]
    assert probes.probe_value(outputs, "abc123") == {"values": [2.25, 4.0]}
    assert set(namespace) == {"square", "__builtins__"}
    with pytest.raises(ValueError):
        probes.probe_value(outputs, "another-nonce")


class _InProcessRun:
    """Stands for a NotebookRun: runs a probe cell here, as the kernel would."""

    out_of_notebook_time = False

    def __init__(self, namespace):
        self.namespace, self.saw_hidden_inputs = namespace, False
        self.watch = Stopwatch()

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

    checks = {"part": Check(Probe(probe_name, {"name": "answer"}), broken_judge)}
    messages, review = notebook_run.probe_and_judge(
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
from autograder.checks.probe import Probe
from toy_probes import probe_squares


def _judge(got, reference):
    if got == {"values": ["crash", "crash"]}:
        import os
        os._exit(3)  # a judge bug that kills the worker process
    if isinstance(got, dict) and "error" in got:
        return [f"square raised {got['error']}"]
    return [] if got == reference else ["square is wrong on the hidden inputs"]


CHECKS = {"square_test": Check(Probe(probe_squares, {"inputs": [1.5, -3.0]}), _judge)}
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
    (root / "toy_probes.py").write_text((TESTS / "toy_probes.py").read_text())
    (root / "toy_refs.json").write_text(json.dumps({"square_test": {"values": [2.25, 9.0]}}))
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
@pytest.mark.serial  # with 3 s cell limits
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
    limits = sandbox.Limits(cell_timeout=3, notebook_timeout=30)
    run = Run({"toy": AssignmentSource(**spec)}, limits)
    results = grading.grade(run, grading.GradeOptions(ws, workers=2), out, err)["toy"]
    status = {s: (r.status, r.score) for s, r in results.items()}
    assert status["good"] == ("graded", 2.0)
    assert status["copied"] == ("graded", 2.0)
    assert results["copied"].notes[0] == "graded toy-Copy1.ipynb (no toy.ipynb)"
    assert status["wrong"] == ("graded", 0.0)
    assert status["loops"][0] == "failed" and "time limit" in results["loops"].reason
    assert status["dies"] == ("failed", 0.0)
    assert status["crash"] == ("failed", 0.0)
    assert "worker crashed" in results["crash"].reason
    assert results["crash"].final is False  # graded again on the next run
    assert "square is wrong" in results["wrong"].parts["square_test"].messages[0]
    table = out.getvalue()
    assert "6 submissions: 3 graded, 3 failed" in table
    with gbook.open_gradebook(gbook.db_url(ws)) as gb:
        assert gbook.submitted_notebook_counts(gb, "toy") == \
            {(s, "toy"): 1 for s in results}


@pytest.mark.slow  # grades notebooks in kernels
@pytest.mark.serial  # with 6 s cell limits
def test_a_worker_measures_the_reference_answer_once_to_judge_timed_out_checks(
        tmp_path, monkeypatch, capfd):
    """Hidden checks that time out twice: the worker grades the reference answer (the
    instructor's notebook) once, and fails the part when the same checks finish well
    inside the limit there; with a reference answer that is slow on this worker too,
    the part is left for the instructor's review."""
    from autograder.grading.grader import Grader
    from autograder.grading.run import Submission
    from autograder.grading.submission import WELL_INSIDE

    spec = toy_assignment(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    ws = tmp_path / "ws"
    hidden_loop = "def square(x):\n    while x != 2:\n        pass\n    return x * x"
    for student in ("s1", "s2"):
        toy_submission(ws, student, hidden_loop)
    submitted = [Submission(s, "toy", ws / "submitted" / s / "toy" / "toy.ipynb")
                 for s in ("s1", "s2")]
    # 6 s: a quarter of it, 1.5 s, is far above a toy check's milliseconds on any machine
    limits = sandbox.Limits(cell_timeout=6, notebook_timeout=90)
    grader = Grader(Run({"toy": AssignmentSource(**spec)}, limits, sandbox=False))
    try:
        results = [grader.grade(s) for s in submitted]
    finally:
        grader.close()
    for result in results:
        part = result.parts["square_test"]
        assert (result.status, part.points, part.review) == ("graded", 0.0, None)
        assert part.messages[-1].startswith("your code did not finish within 6 s, 2 times")
    assert 0 < grader.reference["toy"]["square_test"] <= WELL_INSIDE * 6
    assert capfd.readouterr().err.count("on the reference answer, on this worker") == 1

    # a reference answer whose checks call square twice, 1 s each: 2 s of the 6, over a
    # quarter: this worker cannot tell
    solution = Path(spec["source"]) / "toy" / "toy.ipynb"
    nb = nbformat.read(str(solution), 4)
    nb.cells[1].source = nb.cells[1].source.replace(
        "return x * x", "import time\n    time.sleep(1)\n    return x * x")
    nbformat.write(nb, str(solution))
    grader = Grader(Run({"toy": AssignmentSource(**spec)}, limits, sandbox=False))
    try:
        result = grader.grade(submitted[0])
    finally:
        grader.close()
    part = result.parts["square_test"]
    assert result.status == "review" and part.points == 0.0
    assert "the reference answer's" in part.review, part.review  # 2 s, or timed out


@pytest.mark.slow  # nbgrader creates a gradebook (alembic)
def test_gradebook_record_keeps_manual_scores(tmp_path):
    url = gbook.db_url(tmp_path)
    template = REPO / "solutions" / "sgd_momentum" / "sgd_momentum.ipynb"
    gbook.ensure_assignment(url, "sgd_momentum", template)
    gbook.ensure_assignment(url, "sgd_momentum", template)  # idempotent
    parts = {p["grade_id"]: Part.blank(p) for p in cells.graded_parts(
        assignment.load_notebook(template))}
    for part in parts.values():
        part.points = part.max_points if part.auto else None
    result = Result("graded", parts=parts, student="s1", assignment="sgd_momentum")

    def record():
        return gbook.record(gb, result, "sgd_momentum")

    with gbook.open_gradebook(url) as gb:
        assert record()
        assert not record()
        grade = gb.find_grade("sgd_update", "sgd_momentum", "sgd_momentum", "s1")
        assert (grade.auto_score, grade.needs_manual_grade) == (2.0, False)
        grade.manual_score = 1.0
        gb.db.commit()
        assert not record()
        assert grade.needs_manual_grade is False and grade.score == 1.0
        parts["sgd_update"].points = 0.0
        assert record()
        assert grade.auto_score == 0.0 and grade.needs_manual_grade is True
        # a part left for review (the grader could not judge it) is flagged for the
        # formgrader although nobody has scored it by hand
        parts["momentum_ema_update"].hold_for_review("the judge failed")
        assert record()
        held = gb.find_grade("momentum_ema_update", "sgd_momentum", "sgd_momentum", "s1")
        assert (held.auto_score, held.needs_manual_grade) == (0.0, True)
        assert not record()
        assert gbook.submitted_notebook_counts(gb, "sgd_momentum") == \
            {("s1", "sgd_momentum"): 1}


@pytest.mark.slow  # nbgrader creates a gradebook (alembic)
def test_results_are_recorded_in_batches_and_a_rerun_records_only_what_changed(tmp_path):
    from autograder.commands.recording import Recorder, recorded, stamp

    url = gbook.db_url(tmp_path)
    template = REPO / "solutions" / "sgd_momentum" / "sgd_momentum.ipynb"
    gbook.ensure_assignment(url, "sgd_momentum", template)
    graded_parts = cells.graded_parts(assignment.load_notebook(template))

    def result(student: str, points: float) -> Result:
        parts = {p["grade_id"]: Part.blank(p) for p in graded_parts}
        for part in parts.values():
            part.points = points if part.auto else None
        return Result("graded", parts=parts, student=student, assignment="sgd_momentum",
                      graded_at=f"2026-01-01T00:00:0{int(points)}", grader_sha256="f" * 64,
                      submission_sha256=student * 32)

    results = [result(f"s{i}", 1.0) for i in range(7)]
    with gbook.open_gradebook(url) as gb:
        recorder = Recorder(gb, url, tmp_path, lambda r: ("sgd_momentum", None, None),
                            io.StringIO())
        for r in results:
            recorder.add(r)
        recorder.flush()
        entries = [gbook.Entry(r, "sgd_momentum") for r in results]
        assert gbook.record_many(gb, entries) == 0  # recorded already: nothing changes
        assert gbook.record_many(gb, [gbook.Entry(result("s0", 0.0), "sgd_momentum"),
                                      gbook.Entry(result("s7", 1.0), "sgd_momentum")]) == 2
        assert gbook.submitted_notebook_counts(gb, "sgd_momentum") == {
            (f"s{i}", "sgd_momentum"): 1 for i in range(8)}
        assert gb.find_grade("sgd_update", "sgd_momentum", "sgd_momentum",
                             "s0").auto_score == 0.0
    done = recorded(tmp_path, "sgd_momentum", url)
    assert done == {(r.student, stamp(r)) for r in results}
    assert recorded(tmp_path, "sgd_momentum", "sqlite:///another.db") == set()


def test_cli_help_lists_the_five_commands():
    proc = subprocess.run([sys.executable, "-m", "autograder", "--help"], cwd=REPO,
                          capture_output=True, text=True, check=True)
    for command in ("collect", "grade", "feedback", "export", "report"):
        assert command in proc.stdout


def test_grade_summary_counts_the_parts_held_for_review():
    held, passed = Part("A", 3.0, True, 0.0), Part("A", 3.0, True, 3.0, True)
    held.hold_for_review("the judge failed (TypeError)")
    results = {"ann": Result("graded", parts={"a": held}),
               "bob": Result("graded", parts={"a": passed})}
    out = io.StringIO()
    grading.print_table(results, {"ann", "bob"}, out)
    assert "1 part held for your review" in out.getvalue().splitlines()[-1]


def test_a_stopwatch_charges_every_second_to_one_step():
    """Laps add up: each takes what every watched clock spent since the last one; a
    clock with a step of its own (a zygote importing) goes there whatever the lap."""
    kernel, imports = [0.0], [0.0]
    watch = Stopwatch()
    watch.watch("kernel", lambda: kernel[0])
    watch.watch("imports", lambda: imports[0], step="zygote imports")
    kernel[0], imports[0] = 1.5, 4.0
    watch.lap("kernel start")
    kernel[0] = 3.0
    watch.lap("probe", "part_a")
    kernel[0] = 3.25
    watch.lap("probe", "part_a")  # the same step and part add up (a probe run again)
    watch.unwatch("kernel")
    kernel[0] = 100.0  # a kernel gone: not counted
    watch.lap("kernel stop")
    laps = {(lap["step"], lap.get("part")): lap for lap in watch.take()}
    assert set(laps) == {("zygote imports", None), ("kernel start", None),
                         ("probe", "part_a"), ("kernel stop", None)}
    # the grader's own CPU is in every lap too: at least the clocks' share
    assert laps["zygote imports", None]["cpu_s"] == 4.0
    assert 1.5 <= laps["kernel start", None]["cpu_s"] < 1.6
    assert 1.75 <= laps["probe", "part_a"]["cpu_s"] < 1.85
    assert laps["kernel stop", None]["cpu_s"] < 0.1
    assert watch.take() == []  # the next submission starts afresh
    with pytest.raises(ValueError, match="unknown step"):
        watch.lap("lunch")


def test_cpu_seconds_of_processes_count_what_they_waited_for_when_asked():
    from autograder.sandbox.processes import cpu_seconds

    child = subprocess.Popen([sys.executable, "-c",
                              "import subprocess, sys, time\n"
                              "subprocess.run([sys.executable, '-c', "
                              "'s = 0\\nfor i in range(3 * 10**6): s += i'])\n"
                              "print('ready', flush=True)\ntime.sleep(30)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        own, with_children = (cpu_seconds([child.pid], children=False),
                              cpu_seconds([child.pid]))
        assert with_children - own >= 0.1  # the loop ran in the child it waited for
        assert cpu_seconds([child.pid, 2**22 + 7]) == with_children  # gone: left out
    finally:
        child.kill()
        child.wait()
