"""Grade one submission: ``grade_submission``, and the assignment it is graded against.

The student's answers run in a kernel (sandboxed where possible); each test cell's
visible part runs there too, and its hidden block is replaced by the part's *probe*
(``autograder/checks/<assignment>.py``), whose value crosses back as JSON text. The
judge compares that value with the reference in THIS process: reference values never
enter the student's kernel, and nothing the student's code does there can change them
(the run itself: ``grade_cells.py``).

The result is plain JSON data; ``grade_submission`` never raises (a grading run of a
whole class must go on past any one notebook).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib
import json
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import intake
from autograder.assemble import assemble
from autograder.cells import graded_parts
from autograder.fingerprint import checks_files
from autograder.grade_cells import (NotebookRun, SetupTimeout, is_setup_cell,
                                    mark_for_review, run_cells)
from autograder.grade_cells import probe_and_judge as _probe_and_judge  # noqa: F401 (tests)
from autograder import sandbox as kernels
from autograder.sandbox import zygote

#: Bump when a change here can change a grade: every submission is then graded again.
GRADER_VERSION = "2"
REPO = Path(__file__).resolve().parent.parent
# Files of the instructor's assignment folder never copied into a student's kernel.
PRIVATE_SUFFIXES = (".ipynb",)


def load_notebook(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


@dataclass
class Assignment:
    """Everything that decides a grade for one assignment."""

    name: str
    template_path: Path  # the instructor's notebook
    template: nbformat.NotebookNode
    support_dir: Path  # its folder: data files are copied next to each submission
    checks: dict
    references: dict
    fingerprint: str  # sha256 over all of the above and the grader's version

    @property
    def notebook(self) -> str:
        return self.template_path.stem


def load_assignment(name: str, source: str | None = None, checks: str | None = None,
                    references: str | None = None) -> Assignment:
    """The instructor's notebook ``<source>/<name>/<name>.ipynb`` (default source: the
    repository's ``solutions/``), the checks module (default
    ``autograder.checks.<name>``) and the references (default
    ``autograder/references/<name>.json``)."""
    template_path = Path(source or REPO / "solutions") / name / f"{name}.ipynb"
    if not template_path.exists():
        raise FileNotFoundError(f"no instructor notebook {template_path}")
    module = importlib.import_module(checks or f"autograder.checks.{name}")
    references_path = Path(references or REPO / "autograder" / "references" / f"{name}.json")
    digest = hashlib.sha256(f"grader {GRADER_VERSION}\n".encode())
    support_dir = template_path.parent
    for path in sorted(support_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(support_dir)).encode() + path.read_bytes())
    # the assignment's checks, their shared helpers and what they import (not the
    # checks of other assignments unless imported: editing those must not regrade this)
    for path in checks_files(Path(module.__file__), _known_assignments()):
        digest.update(path.name.encode() + path.read_bytes())
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


# ----------------------------------------------------------------------------- grading
class Grader:
    """What one grading worker holds between submissions: the assignments, the limits,
    the sandbox choice. The local pool's workers (scheduler.py) and the task queue's
    workers both grade through it, so both give the same verdicts.

    ``spec`` is plain JSON data: ``{"assignments": {name: {"source", "checks",
    "references"}}, "limits": {...}, "sandbox": bool | None, "fresh_kernels": bool}``.
    Kernels are warm (forked from the worker's zygote, sandbox/zygote.py) unless
    ``fresh_kernels`` is true or the machine cannot (``cold`` says why, per assignment).
    """

    def __init__(self, spec: dict):
        self.spec = spec
        self.assignments = {name: load_assignment(name, **where)
                            for name, where in spec["assignments"].items()}
        self.limits = kernels.Limits(**spec.get("limits", {}))
        self.warm: zygote.WarmKernels | None = None
        self.cold: dict[str, str] = {}  # assignment -> why it gets fresh kernels
        self._start_zygote()

    def _start_zygote(self) -> None:
        sandbox = self.spec.get("sandbox")
        sandboxed = bool(sandbox is not False and kernels.sandbox_available())
        why = ("fresh kernels were asked for (--fresh-kernels)"
               if self.spec.get("fresh_kernels") else zygote.why_not_warm(sandboxed))
        imports = {name: setup_imports(a.template) for name, a in self.assignments.items()}
        for name, modules in imports.items():
            unsafe = zygote.preload_list(modules)[1]
            if why or unsafe:
                self.cold[name] = why or (f"its set-up imports {', '.join(unsafe)}, which "
                                          "must not be imported before fork")
        warm = [m for name, modules in imports.items() if name not in self.cold
                for m in modules]
        if warm:
            self.warm = zygote.WarmKernels(zygote.preload_list(warm)[0])

    def grade(self, path: str, assignment: str, graded: str | None = None) -> dict:
        """Grade the notebook at ``path`` as ``assignment``; never raises."""
        loaded = self.assignments[assignment]
        warm = None if assignment in self.cold else self.warm
        result = grade_submission(path, loaded.name, loaded.template, loaded.checks,
                                  loaded.references, self.limits, self.spec.get("sandbox"),
                                  support_dir=loaded.support_dir, graded_notebook=graded,
                                  warm=warm)
        if assignment in self.cold:
            result["kernel"] = "fresh"
            if not self.spec.get("fresh_kernels"):  # a fallback, not the instructor's choice
                result["kernel_note"] = self.cold[assignment]
        return result

    def close(self) -> None:
        """Stop the worker's zygote, if any."""
        if self.warm is not None:
            self.warm.close()
            self.warm = None


def setup_imports(notebook) -> list[str]:
    """The modules the instructor's set-up cells import, in order (what a zygote
    preloads)."""
    modules: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or not is_setup_cell(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.append(node.module)
    return list(dict.fromkeys(modules))


def _result(parts, status="graded", reason=None, notes=None):
    score = sum(p["points"] or 0.0 for p in parts.values())
    return {
        "status": status,
        "reason": reason,
        "score": score,
        "max_score": sum(p["max_points"] for p in parts.values()),
        "parts": parts,
        "notes": list(notes or []),
    }


def _copy_support_files(support_dir: Path | None, workdir: Path) -> None:
    """The instructor's data files of the assignment (never notebooks), as nbgrader
    autograde copies its source folder; the student's own extra files are not copied."""
    if support_dir is None or not support_dir.is_dir():
        return
    for path in support_dir.rglob("*"):
        rel = path.relative_to(support_dir)
        if (path.is_dir() or path.suffix in PRIVATE_SUFFIXES
                or any(p.startswith(".") or p == "__pycache__" for p in rel.parts)):
            continue
        dest = workdir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)


def _fresh_parts(instructor_nb) -> dict[str, dict]:
    parts = {}
    for part in graded_parts(instructor_nb):
        parts[part["grade_id"]] = {
            "title": part["title"],
            "points": 0.0 if part["auto"] else None,
            "max_points": part["max_points"],
            "passed": False if part["auto"] else None,
            "auto": part["auto"],
            "messages": [] if part["auto"] else ["graded by hand"], "notes": [],
        }
    return parts


#: Gradings of a notebook whose set-up cell timed out (each in a new kernel) before it
#: is left for the instructor's review.
SETUP_ATTEMPTS = 2


def task_backstop(limits: kernels.Limits) -> float:
    """Wall time after which a grading is stuck: every kernel start and set-up attempt
    (the set-up's time is not the notebook's), the notebook's time, a minute to stop."""
    return (SETUP_ATTEMPTS * (limits.startup_timeout + limits.setup_timeout)
            + limits.notebook_timeout + 60)


def grade_submission(submission_path, assignment, instructor_nb, checks, references,
                     limits=None, sandbox=None, *, support_dir=None,
                     graded_notebook=None, warm=None) -> dict:
    """Grade one notebook; returns the JSON-serialisable result, never raises.

    ``instructor_nb`` is the instructor's notebook (a path or a NotebookNode);
    ``checks`` maps grade_id -> Check(probe, judge); ``references`` grade_id -> JSON.
    ``sandbox`` is passed to ``sandbox.start_kernel`` (None: sandbox if available).
    ``graded_notebook``: where to write the notebook as it ran (nbgrader's
    ``autograded/`` copy, which the formgrader shows for manual grading): the
    instructor's cells, the student's answers, the outputs, test cells reduced to their
    visible part plus the hidden checks' verdict. Removed when nothing could run.
    A set-up cell that times out (the machine, not the student) is graded again in a
    new kernel; twice, and the result's status is "review", for the instructor.
    ``warm`` (a ``zygote.WarmKernels``): fork the kernel from the worker's zygote, or
    start a fresh one when it cannot (the result's "kernel" and "kernel_note" say so,
    for the instructor; the worker's log too).
    """
    started = time.monotonic()
    limits = limits or kernels.Limits()
    parts: dict[str, dict] = {}
    notes: list[str] = []
    try:
        if not isinstance(instructor_nb, nbformat.NotebookNode):
            support_dir = support_dir or Path(instructor_nb).parent
            instructor_nb = load_notebook(instructor_nb)
        for _ in range(SETUP_ATTEMPTS):
            parts, notes = _fresh_parts(instructor_nb), []
            try:
                result, ran = _grade(Path(submission_path), assignment, instructor_nb,
                                     checks, references, limits, sandbox, support_dir,
                                     parts, notes, warm)
                break
            except SetupTimeout as timeout:
                cause = f"{timeout}, {SETUP_ATTEMPTS} times (a busy machine?)"
        else:
            result, ran = _review_all(parts, cause, notes), None
        if graded_notebook is not None:
            _write_graded(Path(graded_notebook), ran)
    except Exception as err:  # noqa: BLE001 - never raise: the class run goes on
        for part in parts.values():
            if part["auto"]:
                part.update(points=0.0, passed=False)
        result = _result(parts, "failed", "internal grader error: "
                         f"{type(err).__name__}: {err}", notes)
        result["traceback"] = traceback.format_exc()
    result["assignment"] = assignment
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def _review_all(parts, cause, notes):
    for part in parts.values():
        if part["auto"]:
            mark_for_review(part, cause)
    return _result(parts, "review", cause, notes)


def _write_graded(path: Path, nb) -> None:
    if nb is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, str(tmp))
    tmp.replace(path)


def _grade(path, assignment, instructor_nb, checks, references, limits, sandbox,
           support_dir, parts, notes, warm=None):
    """(result, the notebook as it ran or None)."""
    if not path.exists():
        return _result(parts, "failed", f"missing notebook: no {path.name}", notes), None
    try:
        student_nb = intake.read_submission(path)
    except intake.Rejected as err:
        return _result(parts, "failed", err.reason, notes), None
    runnable, assemble_notes = assemble(instructor_nb, student_nb)
    notes.extend(assemble_notes)

    failure: str | None = None  # first limit breach: the submission's failure reason
    with _work_folder(warm) as workdir:
        _copy_support_files(Path(support_dir) if support_dir else None, workdir)
        try:
            kernel, running, how = _open_kernel(workdir, limits, sandbox, warm, path)
        except Exception as err:  # noqa: BLE001
            return (_result(parts, "failed", f"the kernel did not start: {err}", notes),
                    None)
        try:
            failure = run_cells(NotebookRun(running, limits), runnable, checks,
                                references, parts, notes)
        finally:
            try:
                kernel.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - shutting down a dead kernel may fail
                pass
    reviews = "; ".join(f"'{g}' ({p['review']})" for g, p in parts.items() if p.get("review"))
    status = "failed" if failure else "review" if reviews else "graded"
    why = failure or (f"left for the instructor's review: {reviews}" if reviews else None)
    return dict(_result(parts, status, why, notes), **how), runnable


@contextlib.contextmanager
def _work_folder(warm):
    """The submission's private work folder: a slot of the worker's zygote, or a
    temporary folder."""
    if warm is not None:
        with warm.slot() as workdir:
            yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        yield workdir


def _open_kernel(workdir, limits, sandbox, warm, path):
    """(the kernel's context manager, the entered kernel, how it started: {"kernel":
    "warm" | "fresh", "kernel_note": why fresh when warm was asked for})."""
    if warm is not None:
        context = warm.kernel(workdir, limits)
        try:
            return context, context.__enter__(), {"kernel": "warm"}
        except Exception as err:  # noqa: BLE001 - any failure: a fresh kernel instead
            note = f"fresh kernel: no warm kernel ({err})"[:600]
            print(f"autograder: {path}: {note}", file=sys.stderr, flush=True)
            how = {"kernel": "fresh", "kernel_note": note}
    else:
        how = {"kernel": "fresh"}
    context = kernels.start_kernel(workdir, limits, sandbox)
    return context, context.__enter__(), how
