"""End to end: a synthetic class of two real assignments through collect, grade (2 workers),
feedback, export and report; then a grading run killed midway and resumed.

The class comes from autograder/commands/demo.py, which also says what each student must score
(from how each submission was made, not from grading it).
"""

import csv
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.commands import demo
from autograder.grading.assignment import load_notebook
from autograder.notebook import nbgrader_cells as cells
from autograder import gradebook as gbook
from autograder.checks import load as load_checks

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENTS = demo.available_assignments()[:2]

pytestmark = [pytest.mark.slow,  # grades a class of 26 notebooks (minutes)
              pytest.mark.serial,  # with two workers of its own
              pytest.mark.skipif(len(ASSIGNMENTS) < 2,
                                 reason="needs two assignments with checks and references")]


def autograder(*args, check=True, **kwargs):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, "-m", "autograder", *map(str, args)],
                          cwd=REPO, env=env, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"autograder {args} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    return root, demo.make_class(root / "incoming", ASSIGNMENTS)


@pytest.fixture(scope="module", params=["warm", "fresh"])
def graded(request, demo_class):
    """collect, grade (2 workers), feedback, export, report: the whole instructor run,
    once with warm kernels (the default) and once with ``--fresh-kernels``: every test
    here holds for both."""
    root, manifest = demo_class
    ws = root / f"workspace-{request.param}"
    logs = {}
    for assignment in ASSIGNMENTS:
        logs[f"collect {assignment}"] = autograder(
            "collect", manifest["sources"][assignment], "-a", assignment, "-w", ws)
    fresh = ["--fresh-kernels"] if request.param == "fresh" else []
    logs["grade"] = autograder("grade", *ASSIGNMENTS, "-w", ws, "-j", 2, *fresh)
    logs["feedback"] = autograder("feedback", *ASSIGNMENTS, "-w", ws)
    logs["export"] = autograder("export", "-w", ws)
    logs["report"] = autograder("report", "-w", ws)
    return ws, manifest, logs


def results_of(ws, assignment):
    folder = ws / "results" / assignment
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def test_collect_reports_what_it_could_not_match(graded):
    ws, manifest, logs = graded
    first, second = ASSIGNMENTS
    lms = logs[f"collect {first}"].stdout
    assert "README.txt: no pattern matches its name" in lms
    assert "1009: 'sgd_momentum (1).ipynb'".replace("sgd_momentum", first) in lms
    assert re.search(r"1007: my_notes.txt", lms)  # no notebook at all
    assert re.search(r"_1011_20250313170000_.*submitted again later", lms)
    folders = logs[f"collect {second}"].stdout
    assert f"{len(manifest['students'])} students: {len(manifest['students'])} new" in folders
    for student in manifest["students"]:
        for assignment in ASSIGNMENTS:
            assert (ws / "submitted" / student / assignment).is_dir()
    # the extra files travel with the submission; the LMS names land in students.csv
    assert (ws / "submitted" / "1010" / first / "numpy.py").exists()
    assert "lovelaceada" in (ws / "students.csv").read_text()


def test_every_kernel_is_of_the_run_s_mode(graded):
    ws, _, logs = graded
    fresh = "--fresh-kernels" in logs["grade"].args
    results = [r for a in ASSIGNMENTS for r in results_of(ws, a).values()]
    kinds = {r.get("kernel") for r in results}
    assert kinds - {None} == {"fresh" if fresh else "warm"}, \
        (kinds, {r.get("kernel_note") for r in results})


def test_each_result_says_where_its_grading_time_went(graded):
    """A result's profile: the steps of its grading (a probe and a judge for each
    autograded part of a notebook that ran), whose wall times add up to the grading's."""
    ws, _, _ = graded
    for assignment in ASSIGNMENTS:
        template = load_notebook(REPO / "solutions" / assignment / f"{assignment}.ipynb")
        auto = {p["grade_id"] for p in cells.graded_parts(template) if p["auto"]}
        for student, result in results_of(ws, assignment).items():
            laps = result["profile"]
            steps = {(lap["step"], lap.get("part")) for lap in laps}
            assert ("record result", None) in steps, student
            assert all(lap["cpu_s"] >= 0 and lap["wall_s"] >= 0 for lap in laps)
            if result.get("kernel_note") or "kernel" not in result \
                    or result["status"] == "failed":
                continue
            for part in auto:
                assert {("probe", part), ("judge", part)} <= steps, (student, part)
            assert {("kernel start", None), ("set-up cell", None)} <= steps
            inside = sum(lap["wall_s"] for lap in laps if lap["step"] not in
                         ("worker start", "between submissions", "record result"))
            assert abs(inside - result["seconds"]) <= 0.5 + 0.05 * result["seconds"], \
                (student, inside, result["seconds"])


def test_every_student_gets_exactly_the_expected_score(graded):
    ws, manifest, _ = graded
    for assignment in ASSIGNMENTS:
        results = results_of(ws, assignment)
        assert set(results) == set(manifest["students"])
        for student, expected in manifest["expected"].items():
            want, got = expected[assignment], results[student]
            got_parts = {gid: (p["points"] if p["auto"] else None)
                         for gid, p in got["parts"].items()}
            assert (got["status"], got_parts, got["score"]) == \
                (want["status"], want["parts"], want["score"]), (assignment, student, got)


def test_the_grade_table_says_which_points_are_left_for_the_formgrader(graded):
    ws, _, logs = graded
    for assignment in ASSIGNMENTS:
        parts = next(iter(results_of(ws, assignment).values()))["parts"]
        by_hand = sum(p["max_points"] for p in parts.values() if not p["auto"])
        total = sum(p["max_points"] for p in parts.values())
        assert by_hand > 0
        assert (f"; {by_hand:g} of the {total:g} points are written answers, to grade by "
                "hand in nbgrader's formgrader") in logs["grade"].stdout


def test_gradebook_holds_one_result_per_notebook_and_the_same_scores(graded):
    ws, manifest, _ = graded
    with gbook.open_gradebook(gbook.db_url(ws)) as gb:
        for assignment in ASSIGNMENTS:
            counts = gbook.submitted_notebook_counts(gb, assignment)
            assert counts == {(s, assignment): 1 for s in manifest["students"]}
            scores = gbook.notebook_scores(gb, assignment, assignment)
            for student, expected in manifest["expected"].items():
                assert scores[student]["parts"] == expected[assignment]["parts"]
                cells = gb.find_submission_notebook(assignment, assignment, student).grades
                assert sorted(g.name for g in cells) == sorted(expected[assignment]["parts"])


def hidden_test_lines():
    """Every substantial line of the hidden tests (the notebooks' hidden blocks and the
    probes that replace them) that the student's notebook does not show anyway."""
    lines = set()
    for assignment in ASSIGNMENTS:
        release = (REPO / "exercises" / assignment / f"{assignment}.ipynb")
        shown = {line.strip() for c in load_notebook(release).cells
                 for line in c.source.splitlines()}
        nb = load_notebook(REPO / "solutions" / assignment / f"{assignment}.ipynb")
        sources = [cells.hidden_tests(c.source) for c in nb.cells
                   if cells.is_test(c)]
        checks, _ = load_checks(assignment)
        sources += [check.probe.source() + "\n" + check.probe.inputs_line()
                    for check in checks.values()]
        for source in sources:
            for line in source.splitlines():
                line = line.strip()
                if len(line) >= 20 and not line.startswith("#") and line not in shown:
                    lines.add(line)
    return lines


def test_feedback_shows_scores_and_messages_but_no_hidden_test(graded):
    ws, manifest, _ = graded
    secret = hidden_test_lines()
    assert len(secret) > 50
    first = ASSIGNMENTS[0]
    pages = sorted((ws / "feedback").glob("*/*/*.html"))
    assert len(pages) == len(manifest["students"]) * len(ASSIGNMENTS)
    for page in pages:
        text = html.unescape(page.read_text())
        leaked = [line for line in secret if line in text]
        assert not leaked, (page, leaked[:3])
    # a student with one wrong part sees which part failed and a teaching message
    page = html.unescape(re.sub(r"<[^>]+>", "", (ws / "feedback" / "1002" / first /
                                                f"{first}.html").read_text()))
    expected = manifest["expected"]["1002"][first]
    wrong = [gid for gid, pts in expected["parts"].items() if pts == 0.0]
    assert len(wrong) == 1 and "not passed" in page and wrong[0] in page
    max_score = results_of(ws, first)["1002"]["max_score"]
    assert f"Score: {expected['score']:g} / {max_score:g}" in page
    failed = html.unescape((ws / "feedback" / "1008" / first / f"{first}.html").read_text())
    assert "invalid JSON" in failed


def test_graded_copies_for_nbgraders_formgrader_hold_no_hidden_test(graded):
    """autograded/<student>/<a>/<a>.ipynb: what ran, for manual grading in nbgrader's
    formgrader; nbgrader's own generate_feedback works on it and shows no hidden test."""
    ws, manifest, _ = graded
    secret = hidden_test_lines()
    first = ASSIGNMENTS[0]
    for student, expected in manifest["expected"].items():
        for assignment in ASSIGNMENTS:
            path = ws / "autograded" / student / assignment / f"{assignment}.ipynb"
            ran = expected[assignment]["status"] == "graded"
            assert path.exists() == ran, (student, assignment)
            if ran:
                text = path.read_text()
                assert not [line for line in secret if line in text]
    nb = load_notebook(ws / "autograded" / "1001" / first / f"{first}.ipynb")
    assert any("[hidden checks] passed" in o.get("text", "")
               for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "generate_feedback",
                    first, "--student", "1002", f"--CourseDirectory.db_url={gbook.db_url(ws)}",
                    f"--CourseDirectory.feedback_directory={ws / 'nbgrader-feedback'}"],
                   cwd=ws, check=True, capture_output=True)
    page = html.unescape((ws / "nbgrader-feedback" / "1002" / first / f"{first}.html")
                         .read_text())
    assert not [line for line in secret if line in page]


def test_export_has_a_column_per_part_and_nbgrader_export_still_works(graded):
    ws, manifest, _ = graded
    for assignment in ASSIGNMENTS:
        with open(ws / "export" / f"{assignment}.csv", newline="") as fh:
            rows = {row["student_id"]: row for row in csv.DictReader(fh)}
        for student, expected in manifest["expected"].items():
            row = rows[student]
            for gid, points in expected[assignment]["parts"].items():
                assert row[gid] == ("" if points is None else f"{points:g}")
            assert float(row["total"]) == expected[assignment]["score"]
            assert row["status"] == expected[assignment]["status"]
    # nbgrader's own export reads the same gradebook
    out = ws / "nbgrader-grades.csv"
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "export",
                    f"--CourseDirectory.db_url={gbook.db_url(ws)}", "--to", str(out)],
                   cwd=ws, check=True, capture_output=True)
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(manifest["students"]) * len(ASSIGNMENTS)
    for row in rows:
        expected = manifest["expected"][row["student_id"]][row["assignment"]]
        assert float(row["raw_score"]) == expected["score"]


def test_report_has_plots_and_lists_failed_submissions(graded):
    ws, manifest, _ = graded
    page = (ws / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2 * len(ASSIGNMENTS) + 1
    assert "http://" not in page and "https://" not in page  # works offline
    for student, by_assignment in manifest["expected"].items():
        for assignment, expected in by_assignment.items():
            if expected["status"] == "failed":
                assert f"<td>{assignment}</td><td>{student}</td>" in page


def test_a_second_run_grades_nothing_new(graded):
    ws, manifest, _ = graded
    proc = autograder("grade", ASSIGNMENTS[0], "-w", ws, "-j", 2)
    assert f"{len(manifest['students'])} submissions, 0 to grade" in proc.stderr
    assert proc.stdout.count("(unchanged)") == len(manifest["students"])


def test_a_killed_run_resumes_and_gives_the_same_grades(graded, demo_class, tmp_path):
    """SIGKILL the grader midway, run it again: nothing is graded twice or lost, the
    gradebook holds one result per notebook, and the grades equal the uninterrupted run.
    (Seven students of the first assignment, to keep the suite short.)"""
    root, manifest = demo_class
    reference_ws = graded[0]
    assignment = ASSIGNMENTS[0]
    students = sorted(manifest["students"])[:7]
    only = [arg for s in students for arg in ("--student", s)]
    ws = tmp_path / "workspace"
    autograder("collect", manifest["sources"][assignment], "-a", assignment, "-w", ws)
    results = ws / "results" / assignment
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", assignment,
                             "-w", str(ws), "-j", "2", *only], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(list(results.glob("*.json"))) < 3 and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {p.stem for p in results.glob("*.json")}
    assert 3 <= len(done_before) < len(students)

    rerun = autograder("grade", assignment, "-w", ws, "-j", 2, *only)
    n_left = len(students) - len(done_before)
    assert f"{n_left} to grade ({len(done_before)} unchanged)" in rerun.stderr

    def grades(workspace):
        return {s: (r["status"], {g: p["points"] for g, p in r["parts"].items()})
                for s, r in results_of(workspace, assignment).items() if s in students}

    assert grades(ws) == grades(reference_ws)
    with gbook.open_gradebook(gbook.db_url(ws)) as gb:
        assert gbook.submitted_notebook_counts(gb, assignment) == \
            {(s, assignment): 1 for s in students}
        assert {s: v["parts"] for s, v in
                gbook.notebook_scores(gb, assignment, assignment).items()} == \
            {s: manifest["expected"][s][assignment]["parts"] for s in students}
