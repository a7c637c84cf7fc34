"""The page *Writing an assignment* (book/instructor/writing-an-assignment.md), executed.

In a copy of the repository (its tracked files as they are now), the page's walk-through
runs in the page's order: each ``{code-block}`` with a ``:caption:`` path is written to
that path (a caption ending in ``(the NAME line)`` replaces that statement of the file),
each ``bash`` block runs with the virtual environment active and ``~`` a fresh folder,
and the ``text`` block after a command is what that command must print. So a toy sixth
assignment is written, its references computed, its student notebook released, and a
class of two graded, exactly as the page tells an author to.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "book" / "instructor" / "writing-an-assignment.md"
NAME = "descent_step"
FENCE = re.compile(r"^```(\{code-block\} python|bash|text)\n(.*?)^```\n", re.M | re.S)
CAPTION = re.compile(r"^:caption: (\S+)(?: \(the (\w+) line\))?\n\n?", re.M)


@dataclass
class Step:
    kind: str  # "file", "edit", "bash" or "output"
    text: str
    path: str = ""
    statement: str = ""


def walk_through(page_text: str) -> list[Step]:
    steps = []
    for match in FENCE.finditer(page_text):
        fence, body = match.groups()
        if fence == "bash":
            steps.append(Step("bash", body))
        elif fence == "text":
            steps.append(Step("output", body))
        else:
            caption = CAPTION.match(body)
            assert caption, f"a code block without a :caption: path:\n{body[:200]}"
            path, statement = caption.groups()
            steps.append(Step("edit" if statement else "file", body[caption.end():],
                              path, statement or ""))
    return steps


def replace_statement(source: str, name: str, new: str) -> str:
    """``source`` with the top-level assignment to ``name`` replaced by ``new``."""
    (node,) = [n for n in ast.parse(source).body if isinstance(n, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)]
    lines = source.splitlines(keepends=True)
    return "".join(lines[:node.lineno - 1]) + new + "".join(lines[node.end_lineno:])


def copy_of_the_repository(dest: Path) -> Path:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def run_bash(script: str, cwd: Path, home: Path) -> str:
    venv_bin = Path(sys.executable).parent
    env = dict(os.environ, HOME=str(home), VIRTUAL_ENV=str(venv_bin.parent),
               PATH=f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
               TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("COURSE_WORKSPACE", None)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, (f"the page's commands failed:\n{script}\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def words_per_line(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip()]


def follow(steps: list[Step], repo: Path, home: Path) -> dict[str, str]:
    """Carry out the steps; {script: what it printed}."""
    printed, last = {}, ""
    for step in steps:
        target = home / step.path[2:] if step.path.startswith("~/") else repo / step.path
        if step.kind == "file":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.text)
        elif step.kind == "edit":
            target.write_text(replace_statement(target.read_text(), step.statement,
                                                step.text))
        elif step.kind == "bash":
            last = printed[step.text] = run_bash(step.text, repo, home)
        else:
            shown = words_per_line(last)
            missing = [" ".join(line) for line in words_per_line(step.text)
                       if line not in shown]
            assert not missing, (f"the page says the command prints lines it did not:\n"
                                 f"{missing}\nit printed:\n{last}")
    return printed


def test_the_walk_through_is_read_in_order():
    steps = walk_through(PAGE.read_text(encoding="utf-8"))
    assert [s.kind for s in steps] == ["file", "bash", "file", "file", "edit", "bash",
                                       "bash", "output"]
    assert steps[0].path == f"~/{NAME}.py"
    assert steps[2].path == f"autograder/checks/in_kernel/{NAME}.py"
    assert steps[3].path == f"autograder/checks/{NAME}.py"
    assert steps[4].statement == "ASSIGNMENTS"


def test_an_edit_replaces_the_whole_statement():
    source = 'A = 1\nNAMES = ("a",\n         "b")\nB = 2\n'
    assert replace_statement(source, "NAMES", 'NAMES = ("a", "b", "c")\n') == (
        'A = 1\nNAMES = ("a", "b", "c")\nB = 2\n')


@pytest.mark.slow  # nbgrader releases, and the grader grades two notebooks
def test_a_sixth_assignment_is_written_released_and_graded_as_the_page_says(tmp_path):
    repo = copy_of_the_repository(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    follow(walk_through(PAGE.read_text(encoding="utf-8")), repo, home)

    # what the page says each step leaves behind
    references = json.loads((repo / "autograder" / "references" / f"{NAME}.json")
                            .read_text())
    assert len(references["step_test"]["cases"]) == 3
    assert len(references["step_test"]["mistakes"]) == 2, "each classic mistake recorded"
    solution = nbformat.read(repo / "solutions" / NAME / f"{NAME}.ipynb", as_version=4)
    student = nbformat.read(repo / "exercises" / NAME / f"{NAME}.ipynb", as_version=4)
    test_cell = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source
                 for c in solution.cells}["step_test"]
    assert "HIDDEN TESTS" in test_cell, "references write the hidden block"
    released = nbformat.writes(student)
    assert "HIDDEN TESTS" not in released and "lr * 2 * (w - 3)" not in released
    results = {p.stem: json.loads(p.read_text()) for p in
               (home / "grading" / "results" / NAME).glob("*.json")}
    assert {s: r["score"] for s, r in results.items()} == {"ada": 3, "bob": 0}
