"""Run one submission's notebook in its kernel, cell by cell, and judge its test cells.

Each test cell's visible part runs in the kernel; its hidden block is replaced by the
part's *probe* (``autograder/checks/<assignment>.py``), whose value crosses back as
JSON text and is judged in THIS process: reference values never enter the student's
kernel. The notebook's time limit is the kernel's (``Kernel.clock``); a run reads it.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

import nbformat

from autograder import sandbox as kernels
from autograder import verdicts
from autograder.cells import is_test, nbgrader_meta, strip_hidden_tests
from autograder.probes import probe_program, probe_value

#: Runs of a part's hidden checks that timed out before it is left for review.
PROBE_ATTEMPTS = 2


class SetupTimeout(Exception):
    """One of the instructor's set-up cells ran out of time: the grader's failure."""


class Stop(Exception):
    """The kernel is gone or out of time: later cells cannot run."""


def error_line(error: str | None, limit: int = 300) -> str:
    lines = (error or "").strip().splitlines()
    return lines[0].rstrip(": ")[:limit] if lines else ""


def mark_for_review(part: dict, cause: str) -> None:
    """A part the grader could not judge for a reason of its own: no points yet, and
    the cause for the instructor (never the student's 0 as a verdict)."""
    part.update(points=0.0, passed=False, review=cause)
    part["messages"].append(f"not graded yet: {cause}; your instructor will review it")


def _limit_reason(res, limits) -> str:
    """A breached limit in a failure reason, in the grader's words only."""
    named = {
        "memory": f"memory limit ({kernels.human(limits.memory_bytes)})",
        "processes": f"process limit ({limits.max_processes})",
        "file size": f"file size limit ({kernels.human(limits.max_file_bytes)} a file)",
    }[res.limit]
    return f"{named} reached" + (f" ({verdicts.safe_error_name(res.ename)})"
                                 if res.ename else "")


class NotebookRun:
    """One notebook's run in one kernel: its first limit breach, and whether the
    student's code has seen hidden inputs yet (from then on, nothing it writes is
    quoted in a message: ``words``). Its time limit is the kernel's clock."""

    def __init__(self, kernel: kernels.Kernel, limits: kernels.Limits):
        self.kernel, self.limits = kernel, limits
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
        return error_line(res.error)

    def setup(self, source: str, label: str):
        """An instructor's set-up cell: its own time limit, not the student's time."""
        res = kernels.run_instructor_cell(self.kernel, source, self.limits)
        if res.timed_out:
            raise SetupTimeout(f"the set-up {label} did not finish in "
                               f"{self.limits.setup_timeout:g} s")
        return self._check(res, label)

    def run(self, source: str, label: str, *, instructor: bool = False):
        """Run a cell; a cell time limit reached in instructor code (``instructor``:
        a probe) is not the student's failure: the caller decides."""
        limits = self.limits
        remaining = self.kernel.clock.remaining()
        if remaining <= 0:
            self.fail(f"notebook time limit ({limits.notebook_timeout:g} s) reached "
                      f"before {label}")
            raise Stop
        cell_limits = replace(limits, cell_timeout=min(limits.cell_timeout, remaining))
        res = kernels.run_cell(self.kernel, source, cell_limits)
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
            raise Stop
        return res


def is_setup_cell(cell) -> bool:
    """One of the instructor's locked code cells that is neither an answer nor a test
    (``import tensorflow``, data): the template's, never a cell the student added."""
    meta = nbgrader_meta(cell)
    return (cell.cell_type == "code" and bool(meta.get("locked"))
            and not meta.get("grade") and not meta.get("solution"))


def _student_outputs(res) -> list:
    return [nbformat.from_dict(o) for o in verdicts.defuse_outputs(res.outputs)]


def run_cells(run: NotebookRun, runnable, checks, references, parts, notes):
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
        except Stop:
            _not_run(parts, cells[index:], f"not run: {run.failure}")
            break
    return run.failure


def _run_test_cell(run: NotebookRun, cell, gid, part, checks, references) -> None:
    res = run.run(cell.source, f"the visible checks of '{gid}'")
    cell.outputs = _student_outputs(res)
    if res.timed_out:
        part["messages"].append(error_line(res.error))
        return
    visible_ok = res.error is None
    if not visible_ok:
        # the instructor's visible test and its message, on visible inputs: quoted
        part["messages"].append(f"visible check failed: {error_line(res.error)}")
    verdict, review = probe_and_judge(gid, checks, references, run)
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


def probe_and_judge(gid, checks, references, run: NotebookRun
                    ) -> tuple[list[str], str | None]:
    """Run the part's probe in the kernel, judge its value here: (messages, a cause
    for the instructor's review or None). Messages never quote the probe's source (it
    is the hidden test) nor what the student's code wrote on its hidden inputs."""
    check = checks.get(gid)
    if check is None or gid not in references:
        return ["internal: no hidden check is registered for this part"], None
    res, nonce = _run_probe(gid, check, run)
    if res.timed_out:
        if run.out_of_notebook_time:  # the student's time is up, not the probe's
            return [f"the hidden checks {error_line(res.error)}"], None
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
