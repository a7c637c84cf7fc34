"""The instructor's workspace: where grading reads submissions and writes its results.

The workspace folder holds the instructor's working data, in nbgrader's layout so that
nbgrader's own commands work there too::

    <workspace>/submitted/<student>/<assignment>/<assignment>.ipynb   (collect)
    <workspace>/students.csv              names found in LMS file names (collect)
    <workspace>/gradebook.db              nbgrader's gradebook (or --db URL)
    <workspace>/results/<assignment>/<student>.json   one result per submission
    <workspace>/autograded/<student>/<assignment>/<assignment>.ipynb   as it ran (for
                                          nbgrader's formgrader; no hidden tests)
    <workspace>/feedback/<student>/<assignment>/<assignment>.html
    <workspace>/export/<assignment>.csv, <workspace>/report.html
    <workspace>/logs/                     the grading workers' logs

It must live outside version control (it holds students' work and grades). This module
only reads and writes files; it knows nothing of notebooks, kernels or grading.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from autograder.errors import UsageError


def check_workspace(workspace: Path, create: bool = True) -> Path:
    """The workspace, refused if git would track it (students' work and grades must
    never be committed). ``create=False``: it must exist already."""
    workspace = Path(workspace).expanduser().resolve()
    if create:
        if workspace.exists() and not workspace.is_dir():
            raise UsageError(f"the workspace {workspace} is a file, not a folder")
        workspace.mkdir(parents=True, exist_ok=True)
    elif not workspace.is_dir():
        raise UsageError(f"no workspace folder {workspace} (run collect first, or check -w)")
    if _tracked_by_git(workspace):
        raise UsageError(
            f"the workspace {workspace} is inside a git repository and not "
            "ignored: students' work and grades must stay out of version "
            "control (choose a folder outside the repository, or one that "
            ".gitignore lists, such as workspace/)")
    return workspace


def _tracked_by_git(folder: Path) -> bool:
    try:
        inside = subprocess.run(["git", "-C", str(folder), "rev-parse",
                                 "--is-inside-work-tree"], capture_output=True, text=True)
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return False
        ignored = subprocess.run(["git", "-C", str(folder), "check-ignore", "-q", "."],
                                 capture_output=True)
        return ignored.returncode != 0
    except FileNotFoundError:  # no git on this machine: nothing can track it
        return False


def atomic_write_text(path: Path, text: str) -> None:
    """Write a whole file or nothing (a kill mid-write leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Writes:
    """Many files written with ``atomic_write_text`` by a few threads: a write mostly
    waits for its ``fsync`` (which lets the other threads run), and the file system
    commits concurrent fsyncs together, some six times the files per second of one
    thread on the course's 2-core machine. ``wait`` returns once every file handed
    over so far is written, or raises the first failure."""

    THREADS = 8

    def __init__(self):
        self._pool = ThreadPoolExecutor(self.THREADS, thread_name_prefix="write")
        self._pending: list[Future] = []

    def write(self, path: Path, text: str) -> None:
        self._pending.append(self._pool.submit(atomic_write_text, path, text))

    def wait(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        """Wait for the writes under way (a failure among them is not raised)."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Writes:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_json(path: Path):
    """The file's JSON value, or None when it is missing or damaged."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def submission_dirs(workspace: Path, assignment: str) -> dict[str, Path]:
    """{student: <workspace>/submitted/<student>/<assignment>} for every student."""
    root = workspace / "submitted"
    out = {}
    for student_dir in sorted(root.iterdir()) if root.is_dir() else []:
        sub = student_dir / assignment
        if not student_dir.name.startswith(".") and sub.is_dir():
            out[student_dir.name] = sub
    return out


def folder_sha256(folder: Path) -> str:
    """Content hash of a submission folder (every file, names included)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(p.startswith(".") for p in rel.parts):
            digest.update(str(rel).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def notebook_in(folder: Path, notebook: str) -> tuple[Path, str | None]:
    """The notebook to grade in a submission folder: ``<notebook>.ipynb``, else the
    only notebook there (with a note saying so)."""
    path = folder / f"{notebook}.ipynb"
    if not path.exists():
        others = sorted(folder.glob("*.ipynb"))
        if len(others) == 1:
            return others[0], f"graded {others[0].name} (no {notebook}.ipynb)"
    return path, None


def results_dir(workspace: Path, assignment: str) -> Path:
    return workspace / "results" / assignment


def assignments_in(workspace: Path) -> list[str]:
    """Every assignment with a results folder, sorted."""
    root = workspace / "results"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def graded_assignments(workspace: Path, asked: list[str] | None) -> list[str]:
    """The assignments asked for, else every graded one; refused when there is none."""
    names = list(asked or assignments_in(workspace))
    if not names:
        raise UsageError(f"no results in {workspace / 'results'}: run grade first")
    return names


def roster_names(workspace: Path) -> dict[str, str]:
    """Student names that ``collect`` found in LMS file names (students.csv)."""
    path = workspace / "students.csv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["student_id"]: row.get("name", "") for row in csv.DictReader(fh)}
