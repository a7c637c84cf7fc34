"""Every mistake an instructor can make on the command line ends with one line on
stderr, ``error: ...``, and exit status 2: never a traceback. And a page that cannot
show the manual grades says so instead of dropping them silently."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.commands import cli
from autograder.pages import feedback
from autograder.nbgrader_settings import course_id, put_venv_on_path

REPO = Path(__file__).resolve().parents[2]
RESULT = {"status": "graded", "reason": None, "score": 1.0, "max_score": 3.0,
          "notes": [], "graded_at": "2025-03-01T10:00:00+0000", "parts": {
              "rule": {"title": "Part A", "points": 1.0, "max_points": 1.0,
                       "passed": True, "auto": True, "messages": [], "notes": []},
              "essay": {"title": "Part B", "points": None, "max_points": 2.0,
                        "passed": None, "auto": False, "messages": ["graded by hand"],
                        "notes": []}}}


def autograder(*args, capsys=None) -> subprocess.CompletedProcess:
    """``python -m autograder ARGS``: in this process with ``capsys`` (one import of
    the grader for all the tests), else as a real command."""
    args = [str(a) for a in args]
    if capsys is None:
        env = {k: v for k, v in os.environ.items() if k != "COURSE_WORKSPACE"}
        return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=300)
    capsys.readouterr()
    status = cli.main(args)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out, err)


@pytest.fixture
def run(capsys, monkeypatch):
    monkeypatch.delenv("COURSE_WORKSPACE", raising=False)
    return lambda *args: autograder(*args, capsys=capsys)


def assert_one_line_error(proc: subprocess.CompletedProcess, *phrases: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])


def with_result(workspace: Path, assignment: str = "sgd_momentum") -> Path:
    path = workspace / "results" / assignment / "s1.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(RESULT))
    return workspace


def test_collect_from_a_missing_folder(run, tmp_path):
    assert_one_line_error(run("collect", tmp_path / "nope", "-a", "sgd_momentum",
                                     "-w", tmp_path / "ws"),
                          "no such folder or archive", "nope")


def test_collect_from_a_file_that_is_not_a_zip(run, tmp_path):
    (tmp_path / "grades.csv").write_text("a,b\n")
    assert_one_line_error(run("collect", tmp_path / "grades.csv", "-a",
                                     "sgd_momentum", "-w", tmp_path / "ws"),
                          "neither a folder nor a zip archive")


@pytest.mark.parametrize("pattern, phrase", [
    ("(?P<student>[0-9+", "not a regular expression"),
    (r"(?P<name>\w+)\.ipynb", "needs a (?P<student>...) group")])
def test_collect_with_a_bad_pattern(run, tmp_path, pattern, phrase):
    with zipfile.ZipFile(tmp_path / "lms.zip", "w") as zf:
        zf.writestr("ada_1001_20250301_sgd_momentum.ipynb", "{}")
    assert_one_line_error(run("collect", tmp_path / "lms.zip", "-a",
                                     "sgd_momentum", "--pattern", pattern,
                                     "-w", tmp_path / "ws"), phrase)


def test_a_workspace_that_is_a_file(run, tmp_path):
    (tmp_path / "ws").write_text("")
    assert_one_line_error(run("grade", "sgd_momentum", "-w", tmp_path / "ws"),
                          "is a file, not a folder")


def test_a_workspace_git_would_track(run, tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert_one_line_error(run("grade", "sgd_momentum", "-w", tmp_path / "ws"),
                          "version control")


def test_feedback_in_a_missing_workspace(run, tmp_path):
    assert_one_line_error(run("feedback", "-w", tmp_path / "nope"),
                          "no workspace folder", "nope")


def test_grade_an_unknown_assignment(run, tmp_path):
    assert_one_line_error(run("grade", "sgd_momentun", "-w", tmp_path),
                          "unknown assignment 'sgd_momentun'", "sgd_momentum")


@pytest.mark.parametrize("command", [["references"], ["references", "--check"],
                                     ["release"], ["demo", "out"]])
def test_the_instructors_tools_refuse_an_unknown_assignment(run, tmp_path, command):
    """Nothing is computed or written: the name is checked first."""
    assert_one_line_error(run(*command, "sgd_momentun"),
                          "unknown assignment 'sgd_momentun'", "sgd_momentum")
    assert not (REPO / "out").exists()


def test_grade_before_collect(run, tmp_path):
    assert_one_line_error(run("grade", "sgd_momentum", "-w", tmp_path),
                          "no submissions in", "run collect first")


@pytest.mark.parametrize("command", ["feedback", "export", "report"])
def test_pages_before_any_result(run, tmp_path, command):
    assert_one_line_error(run(command, "-w", tmp_path),
                          "no results in", "run grade first")


@pytest.mark.parametrize("command", ["feedback", "export", "report"])
def test_pages_of_an_assignment_never_graded(run, tmp_path, command):
    with_result(tmp_path)
    assert_one_line_error(run(command, "adam", "-w", tmp_path),
                          "no results for adam", "graded: sgd_momentum", "run grade first")


def another_courses_gradebook(path: Path) -> Path:
    """A gradebook that nbgrader filed under another course: what the refusal reads of
    it is nbgrader's ``course`` table (making a whole gradebook takes nbgrader seconds;
    test_gradebook_refusal_reads_nbgraders_own_schema checks the real thing)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE course (id VARCHAR(128) NOT NULL PRIMARY KEY)")
        db.execute("INSERT INTO course VALUES ('another-course')")
    return path


@pytest.mark.parametrize("command", ["feedback", "export", "report"])
def test_a_gradebook_of_another_course(run, tmp_path, command):
    another_courses_gradebook(with_result(tmp_path) / "gradebook.db")
    assert_one_line_error(run(command, "-w", tmp_path),
                          "belongs to the course another-course", f"not {course_id()}")


@pytest.mark.slow  # nbgrader takes seconds to create a gradebook
def test_gradebook_refusal_reads_nbgraders_own_schema(run, tmp_path):
    from nbgrader.api import Gradebook

    put_venv_on_path()  # nbgrader runs alembic to create a gradebook
    Gradebook(f"sqlite:///{with_result(tmp_path) / 'gradebook.db'}", "another-course").close()
    assert_one_line_error(run("export", "-w", tmp_path), "belongs to the course another-course")


@pytest.mark.slow  # nbgrader takes seconds to create a gradebook
def test_a_page_says_when_manual_grades_cannot_be_read(tmp_path):
    """Results without their assignment in the gradebook: the page says that
    hand-graded points are missing, instead of silently showing the automatic ones as
    the whole score."""
    page = feedback.write_feedback(with_result(tmp_path), "sgd_momentum")[0].read_text()
    assert "Points graded by hand could not be read" in page
    assert "has no assignment sgd_momentum" in page


def test_the_real_command_prints_one_line_too(tmp_path):
    assert_one_line_error(autograder("export", "-w", tmp_path / "nope"),
                          "no workspace folder")


def test_reading_the_course_configuration_creates_nothing(tmp_path, monkeypatch):
    from autograder.nbgrader_settings import course_config

    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path / "ws"))
    config = course_config()
    assert config.CourseDirectory.db_url == f"sqlite:///{tmp_path / 'ws' / 'gradebook.db'}"
    assert config.CourseDirectory.course_id == course_id()
    assert not (tmp_path / "ws").exists()
