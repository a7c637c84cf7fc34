"""Run one submission's notebook in its kernel, cell by cell, and judge its test cells.

Each test cell's visible part runs in the kernel; its hidden block is replaced by the
part's *probe* (``autograder/checks/<assignment>.py``), whose value crosses back as
JSON text and is judged in THIS process: reference values never enter the student's
kernel. The notebook's time limit is the kernel's (``Kernel.clock``); a run reads it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace

import nbformat

from autograder import sandbox as kernels
from autograder.grading import verdicts
from autograder.grading.probes import probe_program, probe_value
from autograder.grading.result import Part, Result
from autograder.grading.stopwatch import Stopwatch
from autograder.notebook.nbgrader_cells import is_test, nbgrader_meta, strip_hidden_tests
from course.check import is_check_cell
from course.grading_terms import DEFAULT_LANGUAGE, say

#: Runs of a part's hidden checks that timed out before the part is failed (or, on a
#: worker too slow to tell, left for review: ``submission.judge_timed_out_checks``).
PROBE_ATTEMPTS = 2


class SetupTimeout(Exception):
    """One of the instructor's set-up cells ran out of time: the grader's failure."""


class Stop(Exception):
    """The kernel is gone or out of time: later cells cannot run. ``result``: the cell
    run during which the kernel stopped, when its outputs belong in the notebook."""

    def __init__(self, result=None):
        super().__init__()
        self.result = result


def error_line(error: str | None, limit: int = 300) -> str:
    lines = (error or "").strip().splitlines()
    return lines[0].rstrip(": ")[:limit] if lines else ""


def _limit_reason(res, limits) -> str:
    """A breached limit in a failure reason, in the grader's words only."""
    named = {
        "memory": f"memory limit ({kernels.human(limits.memory_bytes)})",
        "processes": f"process limit ({limits.max_processes})",
        "file size": f"file size limit ({kernels.human(limits.max_file_bytes)} a file)",
        "files": f"file count limit ({limits.max_files} files and folders)",
        "space": f"space limit ({kernels.human(limits.writable_bytes)} of files)",
    }[res.limit]
    return f"{named} reached" + (f" ({verdicts.safe_error_name(res.ename)})"
                                 if res.ename else "")


class NotebookRun:
    """One notebook's run in one kernel: its first limit breach, and whether the
    student's code has seen hidden inputs yet (from then on, nothing it writes is
    quoted in a message: ``words``). Its time limit is the kernel's clock."""

    def __init__(self, kernel: kernels.Kernel, limits: kernels.Limits,
                 language: str = DEFAULT_LANGUAGE, watch: Stopwatch | None = None):
        self.kernel, self.limits, self.language = kernel, limits, language
        self.watch = watch or Stopwatch()  # the steps' CPU and wall seconds
        self.failure: str | None = None
        self.saw_hidden_inputs = self.out_of_notebook_time = False
        #: the test cells whose hidden checks timed out PROBE_ATTEMPTS times, by
        #: grade_id: judged once the kernel is gone (``judge_timed_out_checks``)
        self.timed_out_checks: dict[str, object] = {}

    def fail(self, reason: str) -> None:
        self.failure = self.failure or reason

    def words(self, res) -> str:
        """A cell's error for a message: the student's own text, until the student's
        code has run on hidden inputs; then its exception's type alone."""
        if res.ename and self.saw_hidden_inputs:
            return say("message_hidden", self.language,
                       error=verdicts.safe_error_name(res.ename))
        return error_line(res.error)

    def setup(self, source: str, label: str):
        """An instructor's set-up cell: its own time limit, not the student's time."""
        res = kernels.run_instructor_cell(self.kernel, source, self.limits)
        self.watch.lap("set-up cell")
        if res.timed_out:
            raise SetupTimeout(f"the set-up {label} did not finish in "
                               f"{self.limits.setup_timeout:g} s")
        return self._check(res, label, keep=True)

    def run(self, source: str, label: str, *, instructor: bool = False):
        """Run a cell; a cell time limit reached in instructor code (``instructor``:
        a probe) is not the student's failure: the caller decides."""
        limits = self.limits
        remaining = self.kernel.clock.remaining()
        if remaining <= 0:
            self.fail(say("notebook_time_before", self.language, seconds=limits.notebook_timeout,
                          label=label))
            raise Stop
        cell_limits = replace(limits, cell_timeout=min(limits.cell_timeout, remaining))
        res = kernels.run_cell(self.kernel, source, cell_limits)
        self.out_of_notebook_time = res.timed_out and (
            cell_limits.cell_timeout < limits.cell_timeout or res.limit == "notebook time")
        if res.timed_out:
            if self.out_of_notebook_time:
                self.fail(say("notebook_time", self.language, seconds=limits.notebook_timeout,
                              label=label))
            elif not instructor:
                self.fail(say("cell_time", self.language, seconds=limits.cell_timeout, label=label))
        return self._check(res, label, keep=not instructor)

    def _check(self, res, label, keep: bool):
        """The breaches in ``res``; Stop when the kernel is gone (with ``res`` when
        ``keep``: what the cell printed before stays in the notebook; a probe's never)."""
        if res.truncated:
            self.fail(say("output_limit", self.language, bytes=self.limits.max_output_bytes,
                          label=label))
        if res.limit in ("memory", "processes", "file size", "files", "space"):
            self.fail(f"{_limit_reason(res, self.limits)} in {label}")
        if res.kernel_dead:
            self.fail(say("kernel_stopped", self.language, label=label, error=self.words(res)))
            raise Stop(res if keep else None)
        return res


def is_setup_cell(cell) -> bool:
    """One of the instructor's locked code cells that is neither an answer nor a test
    (``import tensorflow``, data): the template's, never a cell the student added;
    not the student's check cell (it imports nothing the notebook uses)."""
    meta = nbgrader_meta(cell)
    return (cell.cell_type == "code" and bool(meta.get("locked"))
            and not meta.get("grade") and not meta.get("solution")
            and not is_check_cell(cell))


def _student_outputs(res) -> list:
    return [nbformat.from_dict(o) for o in verdicts.defuse_outputs(res.outputs)]


def run_cells(run: NotebookRun, runnable, assignment, result: Result) -> str | None:
    """Run the notebook, judging each test cell into ``result``'s parts (``assignment``:
    its checks and references); returns the first limit breach (None if there was
    none)."""
    cells = [c for c in runnable.cells if c.cell_type == "code"]
    for cell in cells:  # nothing of the hidden tests in the graded copy, run or not
        cell.outputs = []
        if is_test(cell):
            cell.source = strip_hidden_tests(cell.source)
    parts = _parts_ahead(cells)
    for index, cell in enumerate(cells):
        gid = nbgrader_meta(cell).get("grade_id")
        label = (say("cell_label", run.language, grade_id=gid) if gid
                 else say("code_cell_label", run.language, number=index + 1))
        try:
            if is_test(cell):
                _run_test_cell(run, cell, result.parts[gid], assignment)
                continue
            if is_setup_cell(cell):
                res = run.setup(cell.source, label)
            else:
                res = run.run(cell.source, label)
                run.watch.lap("student's cells", parts[index])
            cell.outputs = _student_outputs(res)
            if res.error and not res.timed_out:
                result.notes.append(say("raised", run.language, label=label, error=run.words(res)))
        except Stop as stop:
            if stop.result is not None:  # printed before its kernel was killed
                cell.outputs = _student_outputs(stop.result)
            run.watch.lap("visible checks" if is_test(cell) else "student's cells",
                          parts[index])
            _not_run(result.parts, cells[index:], say("not_run", run.language, reason=run.failure))
            break
    return run.failure


def _parts_ahead(cells) -> list[str | None]:
    """For each cell, the graded part whose test cell comes next (a student's cell
    belongs to it); None after the last test cell."""
    ahead, part = [], None
    for cell in reversed(cells):
        if is_test(cell):
            part = nbgrader_meta(cell).get("grade_id")
        ahead.append(part)
    return ahead[::-1]


def _run_test_cell(run: NotebookRun, cell, part: Part, assignment) -> None:
    gid = nbgrader_meta(cell).get("grade_id")
    res = run.run(cell.source, say("visible_label", run.language, grade_id=gid))
    run.watch.lap("visible checks", gid)
    cell.outputs = _student_outputs(res)
    if res.timed_out:
        part.messages.append(error_line(res.error))
        return
    visible_ok = res.error is None
    if not visible_ok:
        # the instructor's visible test and its message, on visible inputs: quoted
        part.messages.append(say("visible_failed", run.language,
                                 error=error_line(res.error)))
    started = time.monotonic()
    verdict, review = probe_and_judge(gid, assignment.checks, assignment.references, run)
    part.check_seconds = round(time.monotonic() - started, 3)
    if review == TIMED_OUT:  # the student's code or the worker? Told apart later
        run.timed_out_checks[gid] = cell
        return
    part.messages.extend(verdict)
    if review:
        part.hold_for_review(review)
    elif visible_ok and not verdict:
        part.points, part.passed = part.max_points, True
    verdicts.record_verdict(cell, not verdict and not review, verdict, review)


def _not_run(parts: dict[str, Part], cells, message: str) -> None:
    for cell in cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if is_test(cell) and gid in parts and not parts[gid].messages:
            parts[gid].messages.append(message)


def _run_probe(gid, check, run: NotebookRun):
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


def _plain_messages(messages) -> list[str]:
    if not isinstance(messages, (list, tuple)):
        raise TypeError(f"judge returned {type(messages).__name__}, not a list")
    return [str(m) for m in messages]


#: ``probe_and_judge``'s cause when the hidden checks timed out PROBE_ATTEMPTS times
TIMED_OUT = "timed out"


def probe_and_judge(gid, checks, references, run: NotebookRun
                    ) -> tuple[list[str], str | None]:
    """Run the part's probe in the kernel, judge its value here: (messages, a cause
    for the instructor's review or None; ``TIMED_OUT`` when it timed out every time).
    Messages never quote the probe's source (it is the hidden test) nor what the
    student's code wrote on its hidden inputs."""
    check = checks.get(gid)
    if check is None or gid not in references:
        return ["internal: no hidden check is registered for this part"], None
    res, nonce = _run_probe(gid, check, run)
    run.watch.lap("probe", gid)
    try:
        return _judge(gid, check, references, run, res, nonce)
    finally:
        run.watch.lap("judge", gid)


def _judge(gid, check, references, run: NotebookRun, res, nonce):
    """probe_and_judge's verdict from the probe's cell result."""
    if res.timed_out:
        if run.out_of_notebook_time:  # the student's time is up, not the probe's
            return [f"the hidden checks {error_line(res.error)}"], None
        return [], TIMED_OUT
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
