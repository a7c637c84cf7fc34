"""Run cells in a fresh kernel under the grading limits (``course.grading_terms.LIMITS``).

The kernel is this Python's own ipykernel (the student's environment), started in an
empty folder, with the grader's thread settings, without the front end's session name
and with ``RUNNING_ENV`` set, so that a check cell inside the copy does nothing. Each
cell gets the grader's treatment: a time limit (interrupt, then kill after the grace
period), the notebook's time (the instructor's set-up cells not counted), an output cap
(outputs past it are dropped; a flood is interrupted).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from dataclasses import dataclass, field

from course.grading_terms import KERNEL_THREADS, LIMITS, GradingLimits, output_size

#: Set in the check's kernel: a check cell run there returns at once (no recursion).
RUNNING_ENV = "COURSE_CHECK_RUNNING"
#: Environment variables a front end gives its kernel that the check's kernel must not
#: inherit (the session's notebook path would point the copy at the student's file).
FRONT_END_ENV = ("JPY_SESSION_NAME", "JPY_PARENT_PID")


@dataclass
class CellOutcome:
    """What one cell did in the check's kernel."""

    ran: bool = True
    seconds: float = 0.0
    ename: str | None = None
    error: str | None = None  # "NameError: name 'x' is not defined", one line
    limit: str | None = None  # "time", "notebook time" or "output"
    output_bytes: int = 0
    kernel_dead: bool = False
    stdout: list[str] = field(default_factory=list)


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def kernel_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FRONT_END_ENV}
    env.update(KERNEL_THREADS)
    env[RUNNING_ENV] = "1"
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


class CheckKernel:
    """One fresh kernel and the notebook's clock; use as a context manager."""

    def __init__(self, workdir: str, limits: GradingLimits = LIMITS):
        self.workdir, self.limits = workdir, limits
        self.used = 0.0  # seconds of the student's cells so far
        self.km = self.client = None
        self.dead = False

    def __enter__(self) -> "CheckKernel":
        from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
        from jupyter_client.manager import KernelManager

        spec = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f",
                                "{connection_file}"],
                          display_name="Python 3 (check)", language="python")

        class ThisPython(KernelSpecManager):
            def get_kernel_spec(self, kernel_name):
                return spec

        self.km = KernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())
        self.km.start_kernel(env=kernel_env(), cwd=self.workdir,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = self.km.client()
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=self.limits.startup_seconds)
        except RuntimeError:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.stop_channels()
        if self.km is not None and self.km.has_kernel:
            self.km.shutdown_kernel(now=True)

    def remaining(self) -> float:
        return self.limits.notebook_seconds - self.used

    def run(self, source: str, setup: bool = False) -> CellOutcome:
        """Run one cell: a set-up cell under its own allowance, any other under the
        cell limit and what is left of the notebook's time."""
        if self.dead:
            return CellOutcome(ran=False, kernel_dead=True)
        if setup:
            timeout, notebook_limited = self.limits.setup_seconds, False
        else:
            timeout = min(self.limits.cell_seconds, self.remaining())
            notebook_limited = timeout < self.limits.cell_seconds
            if timeout <= 0:
                return CellOutcome(ran=False, limit="notebook time")
        outcome = _CellRun(self, source, timeout, notebook_limited).run()
        if not setup:
            self.used += outcome.seconds
        self.dead = self.dead or outcome.kernel_dead
        return outcome

    def kill(self) -> None:
        self.dead = True
        if self.km is not None and self.km.has_kernel:
            self.km.shutdown_kernel(now=True)


class _CellRun:
    """One cell while it runs: its deadline, the interrupt, the outputs counted."""

    def __init__(self, kernel: CheckKernel, source: str, timeout: float,
                 notebook_limited: bool):
        self.kernel, self.source = kernel, source
        self.timeout, self.notebook_limited = timeout, notebook_limited
        self.outcome = CellOutcome()
        self.interrupted_at: float | None = None

    def run(self) -> CellOutcome:
        client, limits = self.kernel.client, self.kernel.limits
        start = time.monotonic()
        msg_id = client.execute(self.source, store_history=True, allow_stdin=False,
                                stop_on_error=False)
        deadline = start + self.timeout
        while True:
            now = time.monotonic()
            if self.interrupted_at is None and now >= deadline:
                self.outcome.limit = "notebook time" if self.notebook_limited else "time"
                if self.notebook_limited:
                    self.kernel.kill()
                    self.outcome.kernel_dead = True
                    break
                self._interrupt(now)
            if (self.interrupted_at is not None
                    and now - self.interrupted_at > limits.interrupt_grace_seconds):
                self.kernel.kill()
                self.outcome.kernel_dead = True
                break
            try:
                msg = client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                if not self.kernel.km.is_alive():
                    self.outcome.kernel_dead = True
                    self.kernel.dead = True
                    break
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if self._receive(msg, limits):
                break
        self.outcome.seconds = time.monotonic() - start
        return self.outcome

    def _interrupt(self, now: float) -> None:
        self.interrupted_at = now
        self.kernel.km.interrupt_kernel()

    def _receive(self, msg: dict, limits: GradingLimits) -> bool:
        """Count one message of the cell; True when the cell is done."""
        kind, content = msg["msg_type"], msg.get("content", {})
        if kind == "status":
            return content.get("execution_state") == "idle"
        if kind not in ("stream", "display_data", "execute_result", "error",
                        "update_display_data"):
            return False
        outcome = self.outcome
        outcome.output_bytes += output_size(content)
        if kind == "error" and outcome.error is None:
            outcome.ename = str(content.get("ename", ""))
            outcome.error = one_line(f"{outcome.ename}: {content.get('evalue', '')}")
        elif kind == "stream" and outcome.output_bytes <= limits.output_bytes:
            outcome.stdout.append(content.get("text", ""))
        if outcome.output_bytes > limits.output_bytes:
            outcome.limit = outcome.limit or "output"
        if outcome.output_bytes > limits.flood_bytes and self.interrupted_at is None:
            self._interrupt(time.monotonic())
        return False
