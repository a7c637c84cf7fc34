"""Grade one submission: ``grade_submission``.

The student's answers run in a kernel (sandboxed where possible); each test cell's
visible part runs there too, and its hidden block is replaced by the part's *probe*
(``autograder/checks/<assignment>.py``), whose value crosses back as JSON text. The
judge compares that value with the reference in THIS process: reference values never
enter the student's kernel, and nothing the student's code does there can change them
(the run itself: ``notebook_run.py``).

A notebook in another language (``metadata["course"]["language"]``, a Chinese release)
is graded against the instructor's notebook translated as its release was
(course.notebook_i18n): the same code, so the same verdicts, and the test cells and
words the student was given; the result's ``language`` says which.

The result is a ``Result`` (``result.py``); ``grade_submission`` never raises (a grading
run of a whole class must go on past any one notebook).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from autograder import sandbox as kernels
from autograder.grading import verdicts
from autograder.grading.assignment import Assignment
from autograder.grading.notebook_run import (
    PROBE_ATTEMPTS, NotebookRun, SetupTimeout, run_cells,
)
from autograder.grading.result import Part, Result
from autograder.grading.stopwatch import Stopwatch
from autograder.notebook import intake
from autograder.notebook.assemble import assemble
from autograder.notebook.nbgrader_cells import graded_parts
from autograder.sandbox.zygote import WarmKernels
from course.grading_terms import DEFAULT_LANGUAGE, notebook_language
from course.notebook_i18n import in_language

# Files of the instructor's assignment folder never copied into a student's kernel.
PRIVATE_SUFFIXES = (".ipynb",)
#: Gradings of a notebook whose set-up cell timed out (each in a new kernel) before it
#: is left for the instructor's review.
SETUP_ATTEMPTS = 2
#: Hidden checks that timed out every time fail the part when the same checks take at
#: most this share of the cell time limit on the reference answer, on the same worker;
#: on a worker slower than that the part is left for the instructor's review.
WELL_INSIDE = 0.25


@dataclass
class Kernels:
    """How a submission's kernel starts: its limits, the sandbox (None: when it is
    available) and the worker's warm kernels (None: a fresh kernel); and
    ``reference_seconds(grade_id)``: how long that part's hidden checks take on the
    reference answer on this worker (None: unknown), asked only for a part whose
    checks timed out every time (None: such a part is left for review)."""

    limits: kernels.Limits = field(default_factory=kernels.Limits)
    sandbox: bool | None = None
    warm: WarmKernels | None = None
    reference_seconds: Callable[[str], float | None] | None = None


def task_backstop(limits: kernels.Limits) -> float:
    """Wall time after which a grading is stuck: every kernel start and set-up attempt
    (the set-up's time is not the notebook's) and the notebook's time, twice (a
    grading may include the worker's one grading of the reference answer, after hidden
    checks that timed out), and a minute to stop."""
    one = SETUP_ATTEMPTS * (limits.startup_timeout + limits.setup_timeout) \
        + limits.notebook_timeout
    return 2 * one + 60


def blank_result(assignment: Assignment) -> Result:
    """A result before grading: every graded part of the notebook, none scored yet."""
    return Result("graded", parts={part["grade_id"]: Part.blank(part)
                                   for part in graded_parts(assignment.template)})


def grade_submission(notebook: Path, assignment: Assignment, how: Kernels,
                     graded: Path | None = None, watch: Stopwatch | None = None) -> Result:
    """Grade one notebook against ``assignment``; never raises.

    ``graded``: where to write the notebook as it ran (nbgrader's ``autograded/`` copy,
    which the formgrader shows for manual grading): the instructor's cells, the
    student's answers, the outputs, test cells reduced to their visible part plus the
    hidden checks' verdict. Removed when nothing could run.
    A set-up cell that times out (the machine, not the student) is graded again in a
    new kernel; twice, and the result's status is "review", for the instructor.
    With warm kernels (``how.warm``) the kernel is forked from the worker's zygote, or
    started afresh when it cannot be (the result's ``kernel`` and ``kernel_note`` say
    so, for the instructor; the worker's log too).
    ``watch`` times each step (a new one when None); the result's ``profile`` holds
    its laps.
    """
    started = time.monotonic()
    watch = watch or Stopwatch()
    result = Result("failed")
    try:
        for _ in range(SETUP_ATTEMPTS):
            result = blank_result(assignment)
            try:
                ran = _grade(Path(notebook), assignment, how, result, watch)
                break
            except SetupTimeout as timeout:
                cause = f"{timeout}, {SETUP_ATTEMPTS} times (a busy machine?)"
        else:
            _review_all(result, cause)
            ran = None
        if graded is not None:
            _write_graded(Path(graded), ran)
            watch.lap("write graded notebook")
    except Exception as err:  # noqa: BLE001 - never raise: the class run goes on
        for part in result.parts.values():
            part.fail()
        result.status = "failed"
        result.reason = f"internal grader error: {type(err).__name__}: {err}"
        result.kernel = result.kernel_note = None
        result.traceback = traceback.format_exc()
    result.assignment = assignment.name
    result.seconds = round(time.monotonic() - started, 3)
    result.profile = watch.take()
    return result


def _review_all(result: Result, cause: str) -> None:
    for part in result.parts.values():
        if part.auto:
            part.hold_for_review(cause)
    result.status, result.reason = "review", cause


def _write_graded(path: Path, nb) -> None:
    if nb is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, str(tmp))
    tmp.replace(path)


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


def _fail(result: Result, reason: str) -> None:
    """The submission fails as a whole; nothing ran (no notebook to keep)."""
    result.status, result.reason = "failed", reason


def _grade(path: Path, assignment: Assignment, how: Kernels, result: Result,
           watch: Stopwatch):
    """Grade into ``result``; the notebook as it ran, or None when nothing ran."""
    if not path.exists():
        return _fail(result, f"missing notebook: no {path.name}")
    try:
        student_nb = intake.read_submission(path)
    except intake.Rejected as err:
        return _fail(result, err.reason)
    template, language = assignment.template, notebook_language(student_nb)
    if language != DEFAULT_LANGUAGE:
        template = in_language(template, language, assignment.name)
        for part in graded_parts(template):  # the titles the student saw
            result.parts[part["grade_id"]].title = part["title"]
        result.language = language
    runnable, assemble_notes = assemble(template, student_nb)
    result.notes.extend(assemble_notes)
    watch.lap("read and assemble")
    with _work_folder(how.warm) as workdir:
        _copy_support_files(assignment.support_dir, workdir)
        try:
            kernel, running, started = _open_kernel(workdir, how, path, watch)
        except Exception as err:  # noqa: BLE001 - any start-up failure fails this submission only
            watch.lap("kernel start")
            _fail(result, f"the kernel did not start: {err}")
            result.final = False  # the machine's failure, not the student's: graded again
            return None
        watch.watch("kernel", running.processes.cpu_seconds)  # all its time, from 0
        watch.lap("kernel start")
        run = NotebookRun(running, how.limits, language, watch)
        try:  # the first limit breach is the submission's failure reason
            failure = run_cells(run, runnable, assignment, result)
        finally:
            watch.lap("kernel stop")  # what the kernel did after the last cell
            watch.unwatch("kernel")
            try:
                kernel.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - shutting down a dead kernel may fail
                pass
    watch.lap("kernel stop")
    # the kernel is gone: a measurement of the reference answer does not take its time
    judge_timed_out_checks(run.timed_out_checks, result, how)
    watch.lap("judge")
    reviews = "; ".join(f"'{g}' ({p.review})" for g, p in result.parts.items() if p.review)
    result.status = "failed" if failure else "review" if reviews else "graded"
    result.reason = failure or (f"left for the instructor's review: {reviews}"
                                if reviews else None)
    result.kernel, result.kernel_note = started
    return runnable


def judge_timed_out_checks(cells: dict, result: Result, how: Kernels) -> None:
    """Parts whose hidden checks timed out every time (``cells``: their test cells, by
    grade_id): failed, "your code did not finish", when the same checks finish well
    inside the limit on the reference answer on this worker (``how.reference_seconds``);
    else left for the instructor's review (this worker may be too slow for the limit)."""
    limit = how.limits.cell_timeout
    for gid, cell in cells.items():
        part = result.parts[gid]
        seconds = how.reference_seconds(gid) if how.reference_seconds else None
        if seconds is not None and seconds <= WELL_INSIDE * limit:
            message = (f"your code did not finish within {limit:g} s, {PROBE_ATTEMPTS} "
                       f"times: the same check takes {seconds:.1f} s on the reference "
                       "answer here")
            part.messages.append(message)
            part.fail()
            verdicts.record_verdict(cell, False, [message])
            continue
        if seconds is None:
            measured = ("" if how.reference_seconds is None else
                        "; the reference answer's checks did not finish well inside "
                        "the limit either")
        else:
            measured = f"; the reference answer's take {seconds:.1f} s here"
        cause = (f"the hidden checks did not finish in {limit:g} s, {PROBE_ATTEMPTS} times"
                 f"{measured} (a worker too slow for the limit?)")
        part.hold_for_review(cause)
        verdicts.record_verdict(cell, False, [], cause)


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


def _open_kernel(workdir: Path, how: Kernels, path: Path, watch: Stopwatch):
    """(the kernel's context manager, the entered kernel, how it started: ("warm" or
    "fresh", why fresh when warm was asked for, or None))."""
    note = None
    if how.warm is not None:
        context = how.warm.kernel(workdir, how.limits)
        try:
            if how.warm.ready():  # a worker's first submission waits for the imports
                watch.lap("zygote imports")
            return context, context.__enter__(), ("warm", None)
        except Exception as err:  # noqa: BLE001 - any failure: a fresh kernel instead
            note = f"fresh kernel: no warm kernel ({err})"[:600]
            print(f"autograder: {path}: {note}", file=sys.stderr, flush=True)
    context = kernels.start_kernel(workdir, how.limits, how.sandbox)
    return context, context.__enter__(), ("fresh", note)
