"""An assignment as the grader sees it: the instructor's notebook, its checks, its
references, and the fingerprint over everything that decides a grade.

``load_assignment`` reads them; a result is reused only while the assignment's
fingerprint is unchanged (``fingerprint.py`` says which checks files count).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.grading.fingerprint import checks_files, code_fingerprint
from autograder.grading.run import AssignmentSource
from autograder.notebook.nbgrader_cells import graded_parts

#: Bump when a change here can change a grade: every submission is then graded again.
GRADER_VERSION = "3"
REPO = Path(__file__).resolve().parents[2]


def load_notebook(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


@dataclass
class Assignment:
    """Everything that decides a grade for one assignment."""

    name: str
    template_path: Path  # the instructor's notebook
    template: nbformat.NotebookNode
    support_dir: Path | None  # its folder: data files are copied next to each submission
    checks: dict
    references: dict
    fingerprint: str  # sha256 over all of the above and the grader's version

    @property
    def notebook(self) -> str:
        return self.template_path.stem


def load_assignment(name: str, where: AssignmentSource | None = None) -> Assignment:
    """The instructor's notebook ``<source>/<name>/<name>.ipynb`` (default source: the
    repository's ``solutions/``), the checks module (default
    ``autograder.checks.<name>``) and the references (default
    ``autograder/references/<name>.json``), or those ``where`` names."""
    where = where or AssignmentSource()
    template_path = Path(where.source or REPO / "solutions") / name / f"{name}.ipynb"
    if not template_path.exists():
        raise FileNotFoundError(f"no instructor notebook {template_path}")
    module = importlib.import_module(where.checks or f"autograder.checks.{name}")
    references_path = Path(where.references
                           or REPO / "autograder" / "references" / f"{name}.json")
    digest = hashlib.sha256(f"grader {GRADER_VERSION} {code_fingerprint()}\n".encode())
    support_dir = template_path.parent
    for path in sorted(support_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(support_dir)).encode() + path.read_bytes())
    # the assignment's checks, their shared helpers and what they import (not the
    # checks of other assignments unless imported: editing those must not regrade this)
    for path in checks_files(Path(module.__file__), _known_assignments()):
        digest.update(path.name.encode() + path.read_bytes())
    # what each probe ships into the kernel: its code and its hidden inputs
    for grade_id, check in sorted(module.CHECKS.items()):
        digest.update(f"{grade_id}\n{check.probe.source()}\n{check.probe.inputs_line()}"
                      .encode())
    references_bytes = references_path.read_bytes()
    digest.update(references_bytes)
    return Assignment(
        name=name, template_path=template_path, template=load_notebook(template_path),
        support_dir=support_dir, checks=dict(module.CHECKS),
        references=json.loads(references_bytes), fingerprint=digest.hexdigest())


def _known_assignments() -> tuple[str, ...]:
    try:
        from autograder.checks import ASSIGNMENTS
    except ImportError:
        return ()
    return tuple(ASSIGNMENTS)


def missing_checks(assignment: Assignment) -> list[str]:
    """Autograded parts of the notebook with no check or no reference."""
    return [p["grade_id"] for p in graded_parts(assignment.template) if p["auto"]
            and (p["grade_id"] not in assignment.checks
                 or p["grade_id"] not in assignment.references)]
