"""Grade one submission: the contract's ``grade_submission`` (section 3).

The student's answers run in a kernel (sandboxed where possible); each test cell's
visible part runs there too, and its hidden block is replaced by the part's *probe*
(``autograder/checks/<assignment>.py``), whose value crosses back as JSON text. The
judge compares that value with the reference in THIS process: reference values never
enter the student's kernel, and nothing the student's code does there can change them.

The result is plain JSON data; ``grade_submission`` never raises.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import secrets
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from autograder import intake
from autograder.assemble import assemble
from autograder.cells import graded_parts, is_test, nbgrader_meta, strip_hidden_tests
from autograder.fingerprint import checks_files
from autograder.probes import probe_program, probe_value
from autograder import sandbox as kernels
from autograder import verdicts

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


# ----------------------------------------------------------------------------- probes
def _plain_messages(messages) -> list[str]:
    if not isinstance(messages, (list, tuple)):
        raise TypeError(f"judge returned {type(messages).__name__}, not a list")
    return [str(m) for m in messages]


def _error_line(error: str | None, limit: int = 300) -> str:
    lines = (error or "").strip().splitlines()
    return lines[0].rstrip(": ")[:limit] if lines else ""


# ----------------------------------------------------------------------------- grading
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


class SetupTimeout(Exception):
    """One of the instructor's set-up cells ran out of time: the grader's failure."""


#: Gradings of a notebook whose set-up cell timed out (each in a new kernel) before it
#: is left for the instructor's review; and runs of a part's hidden checks that timed out.
SETUP_ATTEMPTS = 2
PROBE_ATTEMPTS = 2


def grade_submission(submission_path, assignment, instructor_nb, checks, references,
                     limits=None, sandbox=None, *, support_dir=None,
                     graded_notebook=None) -> dict:
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
                                     parts, notes)
                break
            except SetupTimeout as timeout:
                cause = f"{timeout}, {SETUP_ATTEMPTS} times (a busy machine?)"
        else:
            result, ran = _review_all(parts, cause, notes), None
        if graded_notebook is not None:
            _write_graded(Path(graded_notebook), ran)
    except Exception as err:  # noqa: BLE001 - the contract: never raise
        for part in parts.values():
            if part["auto"]:
                part.update(points=0.0, passed=False)
        result = _result(parts, "failed", "internal grader error: "
                         f"{type(err).__name__}: {err}", notes)
        result["traceback"] = traceback.format_exc()
    result["assignment"] = assignment
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def mark_for_review(part: dict, cause: str) -> None:
    """A part the grader could not judge for a reason of its own: no points yet, and
    the cause for the instructor (never the student's 0 as a verdict)."""
    part.update(points=0.0, passed=False, review=cause)
    part["messages"].append(f"not graded yet: {cause}; your instructor will review it")


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
           support_dir, parts, notes):
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
    with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        _copy_support_files(Path(support_dir) if support_dir else None, workdir)
        try:
            kernel = kernels.start_kernel(workdir, limits, sandbox)
            client = kernel.__enter__()
        except Exception as err:  # noqa: BLE001
            return (_result(parts, "failed", f"the kernel did not start: {err}", notes),
                    None)
        try:
            failure = _run_cells(_Run(client, limits), runnable, checks, references,
                                 parts, notes)
        finally:
            try:
                kernel.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - shutting down a dead kernel may fail
                pass
    reviews = "; ".join(f"'{g}' ({p['review']})" for g, p in parts.items() if p.get("review"))
    status = "failed" if failure else "review" if reviews else "graded"
    why = failure or (f"left for the instructor's review: {reviews}" if reviews else None)
    return _result(parts, status, why, notes), runnable


class _Stop(Exception):
    """The kernel is gone or out of time: later cells cannot run."""


def _limit_reason(res, limits) -> str:
    """A breached limit in a failure reason, in the grader's words only."""
    named = {
        "memory": f"memory limit ({kernels._human(limits.memory_bytes)})",
        "processes": f"process limit ({limits.max_processes})",
        "file size": f"file size limit ({kernels._human(limits.max_file_bytes)} a file)",
    }[res.limit]
    return f"{named} reached" + (f" ({verdicts.safe_error_name(res.ename)})"
                                 if res.ename else "")


class _Run:
    """One notebook's run in one kernel: its deadline, its first limit breach, and
    whether the student's code has seen hidden inputs yet (from then on, nothing it
    writes is quoted in a message: ``words``)."""

    def __init__(self, client, limits):
        self.client, self.limits = client, limits
        self.deadline = time.monotonic() + limits.notebook_timeout
        self.failure: str | None = None
        self.saw_hidden_inputs = self.out_of_notebook_time = False

    def fail(self, reason: str) -> None:
        self.failure = self.failure or reason

    def words(self, res) -> str:
        """A cell's error for a message: the student's own text, until the student's
        code has run on hidden inputs; then its exception's type alone."""
        if res.ename and self.saw_hidden_inputs:
            return (verdicts.safe_error_name(res.ename)
                    + " (its message is not shown: your code had run on hidden inputs)")
        return _error_line(res.error)

    def setup(self, source: str, label: str):
        """An instructor's set-up cell: its own time limit, not the student's time."""
        started = time.monotonic()
        res = kernels.run_instructor_cell(self.client, source, self.limits)
        self.deadline += time.monotonic() - started
        if res.timed_out:
            raise SetupTimeout(f"the set-up {label} did not finish in "
                               f"{self.limits.setup_timeout:g} s")
        return self._check(res, label)

    def run(self, source: str, label: str, *, instructor: bool = False):
        """Run a cell; a cell time limit reached in instructor code (``instructor``:
        a probe) is not the student's failure: the caller decides."""
        limits = self.limits
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.fail(f"notebook time limit ({limits.notebook_timeout:g} s) reached "
                      f"before {label}")
            raise _Stop
        cell_limits = replace(limits, cell_timeout=min(limits.cell_timeout, remaining))
        res = kernels.run_cell(self.client, source, cell_limits)
        self.out_of_notebook_time = res.timed_out and (
            cell_limits.cell_timeout < limits.cell_timeout or res.limit == "notebook time")
        if res.timed_out:
            if self.out_of_notebook_time:
                self.fail(f"notebook time limit ({limits.notebook_timeout:g} s) reached "
                          f"in {label}")
            elif not instructor:
                self.fail(f"cell time limit ({limits.cell_timeout:g} s) reached in {label}")
        return self._check(res, label)

    def _check(self, res, label):
        if res.truncated:
            self.fail(f"output limit ({self.limits.max_output_bytes} bytes) exceeded "
                      f"in {label}")
        if res.limit in ("memory", "processes", "file size"):
            self.fail(f"{_limit_reason(res, self.limits)} in {label}")
        if res.kernel_dead:
            self.fail(f"the kernel stopped in {label}: {self.words(res)}")
            raise _Stop
        return res


def is_setup_cell(cell) -> bool:
    """One of the instructor's locked code cells that is neither an answer nor a test
    (``import tensorflow``, data): the template's, never a cell the student added."""
    meta = nbgrader_meta(cell)
    return (cell.cell_type == "code" and bool(meta.get("locked"))
            and not meta.get("grade") and not meta.get("solution"))


def _student_outputs(res) -> list:
    return [nbformat.from_dict(o) for o in verdicts.defuse_outputs(res.outputs)]


def _run_cells(run: _Run, runnable, checks, references, parts, notes):
    """Run the notebook; returns the first limit breach (None if there was none)."""
    cells = [c for c in runnable.cells if c.cell_type == "code"]
    for cell in cells:  # nothing of the hidden tests in the graded copy, run or not
        cell.outputs = []
        if is_test(cell):
            cell.source = strip_hidden_tests(cell.source)
    for index, cell in enumerate(cells):
        gid = nbgrader_meta(cell).get("grade_id")
        label = f"cell '{gid}'" if gid else f"code cell {index + 1}"
        try:
            if is_test(cell):
                _run_test_cell(run, cell, gid, parts[gid], checks, references)
                continue
            res = (run.setup if is_setup_cell(cell) else run.run)(cell.source, label)
            cell.outputs = _student_outputs(res)
            if res.error and not res.timed_out:
                notes.append(f"{label} raised {run.words(res)}")
        except _Stop:
            _not_run(parts, cells[index:], f"not run: {run.failure}")
            break
    return run.failure


def _run_test_cell(run: _Run, cell, gid, part, checks, references) -> None:
    res = run.run(cell.source, f"the visible checks of '{gid}'")
    cell.outputs = _student_outputs(res)
    if res.timed_out:
        part["messages"].append(_error_line(res.error))
        return
    visible_ok = res.error is None
    if not visible_ok:
        # the instructor's visible test and its message, on visible inputs: quoted
        part["messages"].append(f"visible check failed: {_error_line(res.error)}")
    verdict, review = _probe_and_judge(gid, checks, references, run)
    part["messages"].extend(verdict)
    if review:
        mark_for_review(part, review)
    elif visible_ok and not verdict:
        part.update(points=part["max_points"], passed=True)
    verdicts.record_verdict(cell, not verdict and not review, verdict, review)


def _not_run(parts, cells, message):
    for cell in cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if is_test(cell) and gid in parts and not parts[gid]["messages"]:
            parts[gid]["messages"].append(message)


def _run_probe(gid, check, run: _Run):
    """(the probe's cell result, its nonce); a probe that times out is run again
    (the machine may have been busy) while the kernel lives."""
    for _ in range(PROBE_ATTEMPTS):
        nonce = secrets.token_hex(8)
        run.saw_hidden_inputs = True
        res = run.run(probe_program(check.probe, nonce), f"the hidden checks of '{gid}'",
                      instructor=True)
        if not res.timed_out or run.out_of_notebook_time:
            break
    return res, nonce


def _probe_and_judge(gid, checks, references, run: _Run) -> tuple[list[str], str | None]:
    """Run the part's probe in the kernel, judge its value here: (messages, a cause
    for the instructor's review or None). Messages never quote the probe's source (it
    is the hidden test) nor what the student's code wrote on its hidden inputs."""
    check = checks.get(gid)
    if check is None or gid not in references:
        return ["internal: no hidden check is registered for this part"], None
    res, nonce = _run_probe(gid, check, run)
    if res.timed_out:
        if run.out_of_notebook_time:  # the student's time is up, not the probe's
            return [f"the hidden checks {_error_line(res.error)}"], None
        return [], (f"the hidden checks did not finish in {run.limits.cell_timeout:g} s, "
                    f"{PROBE_ATTEMPTS} times")
    if res.error:
        return [f"the hidden checks raised {verdicts.safe_error_name(res.ename)}"], None
    try:
        got = verdicts.redact_probe_value(probe_value(res.outputs, nonce))
    except ValueError as err:
        return [f"the hidden checks could not read your answer ({err})"], None
    try:
        return _plain_messages(check.judge(got, references[gid])), None
    except Exception as err:  # noqa: BLE001 - the grader's fault, not the student's 0
        return [], f"the judge failed ({type(err).__name__})"
