"""Which files decide an assignment's grades, for the grading fingerprint.

A result is reused only while its fingerprint is unchanged (``assignment.load_assignment``
hashes the instructor's folder, the references, the files listed here, the code each
probe ships into the kernel, and ``code_fingerprint``: the grader's own code and the
lock), so every file whose content can change what a check judges must be listed, and
no other: editing one assignment's checks must not regrade the others, but data one
assignment's checks import from another's (such as shared hidden inputs) must regrade
both. A task-queue worker whose fingerprint differs from the instructor's (one commit
behind, another lock) refuses to grade.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

CHECKS_PACKAGE = "autograder.checks"
CHECKS_DIR = Path(__file__).resolve().parents[1] / "checks"
#: The grader's own code that decides every assignment's grades (the checks are
#: counted per assignment, ``checks_files``), and the lock of every package it runs.
GRADING_CODE = ("grading", "sandbox", "notebook")
LOCK_FILE = Path(__file__).resolve().parents[2] / "requirements.txt"


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over the grading code (``GRADING_CODE`` folders of ``autograder``) and
    the lock (``requirements.txt``): a worker one commit behind in either grades
    differently, so its fingerprint differs."""
    package = CHECKS_DIR.parent
    digest = hashlib.sha256()
    for folder in GRADING_CODE:
        for path in sorted((package / folder).rglob("*.py")):
            digest.update(str(path.relative_to(package)).encode() + b"\0"
                          + path.read_bytes())
    if LOCK_FILE.is_file():
        digest.update(b"lock\0" + LOCK_FILE.read_bytes())
    return digest.hexdigest()


def checks_files(module_file: Path, assignments, checks_dir: Path = CHECKS_DIR
                 ) -> list[Path]:
    """The checks module, the shared helpers in its folder (every ``.py`` that is not
    another assignment's checks), and every module of ``autograder.checks`` these
    import, directly or through one another (another assignment's checks included)."""
    module_file, checks_dir = Path(module_file).resolve(), Path(checks_dir).resolve()
    others = {f"{name}.py" for name in assignments} - {module_file.name}
    files = {p for p in module_file.parent.glob("*.py") if p.name not in others}
    files.add(module_file)
    todo = list(files)
    while todo:
        for name in imported_checks_modules(todo.pop()):
            target = checks_dir / f"{name}.py"
            if target.is_file() and target not in files:
                files.add(target)
                todo.append(target)
    return sorted(files)


def imported_checks_modules(path: Path) -> set[str]:
    """Names of the ``autograder.checks`` modules a file imports anywhere (also inside
    functions); ``from autograder.checks import x`` counts ``x`` and ``__init__``."""
    names: set[str] = set()
    prefix = CHECKS_PACKAGE + "."
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name[len(prefix):].split(".")[0] for a in node.names
                      if a.name.startswith(prefix)}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1:  # from .x import y / from . import x
                module = f"{CHECKS_PACKAGE}.{module}" if module else CHECKS_PACKAGE
            if module == CHECKS_PACKAGE:
                names |= {"__init__"} | {a.name for a in node.names}
            elif module.startswith(prefix):
                names.add(module[len(prefix):].split(".")[0])
    return names
