"""One cell run in a kernel: sending it, reading its outputs, and enforcing the cell's
and the notebook's time limits, the output cap and the memory and process limits."""

from __future__ import annotations

import contextlib
import queue
import time
from dataclasses import replace
from typing import Any

from autograder.sandbox.kernel import Kernel
from autograder.sandbox.limits import (MAX_MESSAGE_BYTES, CellResult, Limits, human,
                                       one_line, writable_breach)
from course.grading_terms import LIMITS
from course.grading_terms import output_size as _output_size

_REAPER = """import os as _ag_os
try:
    while _ag_os.waitpid(-1, _ag_os.WNOHANG)[0]:
        pass
except ChildProcessError:
    pass
del _ag_os"""


def run_cell(kernel: Kernel, source: str, limits: Limits | None = None) -> CellResult:
    """Execute ``source`` in the kernel; never raises for anything the kernel does.

    Enforces ``limits.cell_timeout`` and the notebook deadline (``kernel.clock``; on a
    cell timeout the kernel is interrupted; if it does not stop within 5 s it is
    killed, and on the notebook deadline it is killed at once; later cells then fail
    at once), and ``limits.max_output_bytes`` over all outputs of the cell (stream
    text, images, HTML, tracebacks): outputs beyond it are dropped and ``truncated``
    is set; a cell that keeps flooding output is interrupted. Processes the cell
    started are killed when it ends. ``CellResult.limit`` names the limit breached.
    """
    return CellRun(kernel, limits or kernel.limits).run(source)


def run_instructor_cell(kernel: Kernel, source: str,
                        limits: Limits | None = None) -> CellResult:
    """Run an instructor's set-up cell under ``limits.setup_timeout`` alone, off the
    student's notebook time (a busy machine slows ``import tensorflow`` down)."""
    limits = limits or kernel.limits
    with kernel.clock.set_aside(limits.setup_timeout):
        return run_cell(kernel, source, replace(limits, cell_timeout=limits.setup_timeout))


class CellRun:
    """The state of one cell while it runs: its deadlines, the interrupt, the reply,
    what was lost, the next memory check and the result so far."""

    def __init__(self, kernel: Kernel, limits: Limits):
        self.kernel, self.limits = kernel, limits
        self.result = CellResult()
        self.msg_id = ""
        self.interrupted_at: float | None = None
        self.reply: dict | None = None
        self.reply_at: float | None = None
        self.lost = False
        self.flood_cap = LIMITS.flood_factor * limits.max_output_bytes
        self.next_memory_check = time.monotonic() + 0.5
        self.at_process_limit = False
        self.cell_deadline = 0.0
        self.notebook_limited = False
        self.space_before = kernel.writable_space()

    def run(self, source: str) -> CellResult:
        if self._start(source):
            while not self._step():
                pass
            self._finish()
        return self.result

    def _start(self, source: str) -> bool:
        """Send the cell; False when it cannot run at all (the result says why)."""
        kernel, limits, result = self.kernel, self.limits, self.result
        if not kernel.alive():
            result.error = "kernel is not running (it died or was stopped earlier)"
            result.kernel_dead = True
            return False
        now = time.monotonic()
        deadline = kernel.clock.deadline
        if deadline <= now:
            result.error = f"notebook time limit of {limits.notebook_timeout:g} s reached"
            result.timed_out, result.limit = True, "notebook time"
            kernel.kill()
            return False
        self.cell_deadline = min(now + limits.cell_timeout, deadline)
        self.notebook_limited = deadline < now + limits.cell_timeout
        try:
            _drain_shell(kernel.client)
            self.msg_id = kernel.client.execute(source, store_history=False,
                                                allow_stdin=False, stop_on_error=False)
        except Exception as exc:  # noqa: BLE001 - channel closed, kernel gone
            result.error = f"could not send the cell to the kernel: {exc}"
            result.kernel_dead = True
            return False
        return True

    def _step(self) -> bool:
        """One look at the limits, the connection and the next message; True: done."""
        now = time.monotonic()
        return self._watch_limits(now) or self._watch_connection(now) or self._receive()

    def _watch_limits(self, now: float) -> bool:
        kernel, limits, result = self.kernel, self.limits, self.result
        if now >= self.next_memory_check:
            # RLIMIT_AS bounds each process; this bounds them all together (a cell
            # that forks could otherwise hold max_processes x memory_bytes)
            self.next_memory_check = now + 0.5
            self.at_process_limit = (self.at_process_limit
                                     or kernel.processes.limit_reached(limits))
            rss = kernel.processes.tree_memory()
            if rss > limits.memory_bytes:
                kernel.kill()
                result.kernel_dead, result.limit = True, "memory"
                result.error = (f"the kernel's processes used {human(rss)} together, over "
                                f"the memory limit of {human(limits.memory_bytes)}: killed")
                return True
        if self.interrupted_at is None and now >= self.cell_deadline:
            result.timed_out = True
            if self.notebook_limited:
                result.error = (f"notebook time limit of {limits.notebook_timeout:g} s "
                                "reached")
                result.limit = "notebook time"
                kernel.kill()
                result.kernel_dead = True
                return True
            result.error = f"cell time limit of {limits.cell_timeout:g} s exceeded"
            result.limit = "time"
            self._interrupt(now)
        if self.interrupted_at is not None and now - self.interrupted_at > 5:
            kernel.kill()
            result.error = (result.error or "cell interrupted") + \
                "; the kernel ignored the interrupt and was killed"
            result.kernel_dead = True
            return True
        return False

    def _watch_connection(self, now: float) -> bool:
        """A message over MAX_MESSAGE_BYTES cuts the IOPub connection (or, seen from
        here, the kernel's "idle" never comes): the cell's output was lost."""
        kernel = self.kernel
        cut = kernel.iopub.cut()
        if cut and _dies_soon(kernel):  # its sockets closed as it died: nothing lost
            self._died()
            return True
        if cut:
            # lost with what followed it until now
            self._lost_output("; cell interrupted")
            kernel.iopub.reconnect()
            self.lost = True
            if self.interrupted_at is None:
                self._interrupt(time.monotonic())
        if self.lost and self.reply is not None:
            return True  # the kernel finished; its "idle" may have been lost with the rest
        if self.reply_at is not None and now - self.reply_at > 5:
            # the kernel answered but its "idle" never came: ZeroMQ dropped a message
            # over MAX_MESSAGE_BYTES (and what followed it on the way)
            self._lost_output("")
            kernel.iopub.reconnect()
            return True
        return False

    def _lost_output(self, then: str) -> None:
        result = self.result
        result.truncated = True
        result.limit = result.limit or "output"
        result.error = result.error or (
            f"output lost: a single output over {human(MAX_MESSAGE_BYTES)} was "
            f"discarded{then}")

    def _receive(self) -> bool:
        """Read the next IOPub message of this cell; True when the cell is done."""
        kernel = self.kernel
        try:
            msg = kernel.iopub.get_msg(timeout=0.25)
        except queue.Empty:
            if not kernel.alive():
                self._died()
                return True
            if self.reply is None:
                self.reply = _find_reply(kernel.client, self.msg_id)
                if self.reply is not None:
                    self.reply_at = time.monotonic()
            return False
        except Exception:  # noqa: BLE001 - a bad signature or garbled frames from
            return False  # student code (e.g. a forked kernel): ignore the message
        return self._take(msg)

    def _take(self, msg) -> bool:
        """Keep one IOPub message's output if it is this cell's; True on its "idle"."""
        if not isinstance(msg, dict):
            return False
        if msg.get("parent_header", {}).get("msg_id") != self.msg_id:
            return False
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        content = msg.get("content") or {}
        if not isinstance(content, dict):
            return False
        if msg_type == "status" and content.get("execution_state") == "idle":
            return True
        out = _to_output(msg_type, content)
        if out is not None:
            self._add_output(msg_type, content, out)
        return False

    def _collect_rest(self) -> None:
        """After the kernel was killed: what it had sent before, still queued here."""
        for _ in range(10_000):
            try:
                msg = self.kernel.iopub.get_msg(timeout=0.05)
            except queue.Empty:
                return
            except Exception:  # noqa: BLE001 - garbled frames: skip them
                continue
            if self._take(msg):
                return

    def _add_output(self, msg_type: str, content: dict, out: dict) -> None:
        """Keep an output while the cap allows; past it, a note; interrupt a flood."""
        limits, result = self.limits, self.result
        if msg_type == "error":
            result.ename = str(content.get("ename", ""))[:200]
            result.traceback = [str(x)[:10_000] for x in content.get("traceback", [])
                                if isinstance(x, str)][:200]
            if result.error is None:
                evalue = str(content.get("evalue", ""))
                result.error = one_line(f"{result.ename}: {evalue}")
        size = _output_size(content)
        room = limits.max_output_bytes - result.output_bytes
        result.output_bytes += size
        if size <= room:
            result.outputs.append(out)
        elif not result.truncated:
            if msg_type == "stream" and room > 0:  # keep the start of the text
                out["text"] = out["text"][:room]
                result.outputs.append(out)
            result.truncated = True
            result.limit = result.limit or "output"
            result.outputs.append({"output_type": "stream", "name": "stderr", "text":
                                   f"[output beyond {limits.max_output_bytes} bytes "
                                   "dropped by the grader]\n"})
        if result.output_bytes > self.flood_cap and self.interrupted_at is None:
            result.error = (f"output flood: more than {self.flood_cap} bytes of output; "
                            "cell interrupted")
            self._interrupt(time.monotonic())

    def _finish(self) -> None:
        result = self.result
        if result.kernel_dead:
            self._collect_rest()
        if result.error is None and not result.kernel_dead:
            # a kernel whose traceback display was patched away still reports the error
            # in its execute_reply
            reply = self.reply or _find_reply(self.kernel.client, self.msg_id, wait=1.0)
            content = (reply or {}).get("content") or {}
            if isinstance(content, dict) and content.get("status") == "error":
                result.ename = str(content.get("ename", ""))[:200]
                result.error = one_line(f"{result.ename}: {content.get('evalue', '')}")
        self._end_cell()

    def _end_cell(self) -> None:
        """Kill what the cell left running; name the limit it breached. A fork bomb is
        the process limit whether the kernel's own fork failed or only its children's."""
        kernel, limits, result = self.kernel, self.limits, self.result
        at_process_limit = self.at_process_limit
        if kernel.alive():
            at_process_limit = (at_process_limit
                                or kernel.processes.limit_reached(limits, 1.0))
            kernel.processes.clean_up(lambda: _reap(kernel))
        if at_process_limit and result.limit is None:
            result.limit = "processes"
            result.error = (f"the cell's processes reached the process limit of "
                            f"{limits.max_processes}: they were killed")
        self._writable_full()
        _classify(result, limits)

    def _writable_full(self) -> None:
        result = self.result
        after = self.kernel.writable_space() if self.kernel.alive() else None
        if result.limit is None and after is not None:
            breach = writable_breach(self.space_before, after, result.error, self.limits)
            if breach:
                result.limit, result.error = breach

    def _interrupt(self, now: float) -> None:
        self.kernel.interrupt()
        self.interrupted_at = now

    def _died(self) -> None:
        result = self.result
        result.kernel_dead = True
        result.error = result.error or (
            f"the kernel died while running the cell (memory limit "
            f"{human(self.limits.memory_bytes)}, process limit "
            f"{self.limits.max_processes}, or a crash)")
        result.limit = result.limit or "memory or processes"


def _classify(result: CellResult, limits: Limits) -> None:
    """Name the limit behind an error the kernel raised itself."""
    if result.limit or not result.error:
        return
    if result.ename == "MemoryError":
        result.limit = "memory"
        result.error = (f"MemoryError: the kernel hit the memory limit of "
                        f"{human(limits.memory_bytes)}")
    elif "[Errno 11]" in result.error and result.ename in (
            "BlockingIOError", "OSError", "RuntimeError"):
        result.limit = "processes"
        result.error = (f"{result.error} (the process limit of "
                        f"{limits.max_processes} was reached)")
    elif "[Errno 27]" in result.error:  # EFBIG from RLIMIT_FSIZE
        result.limit = "file size"
        result.error = (f"{result.error} (files are limited to "
                        f"{human(limits.max_file_bytes)})")
    elif "[Errno 28]" in result.error:  # ENOSPC: a full /tmp (the kernel's own uid:
        result.limit = "space"  # _writable_full tells files from bytes)
        result.error = (f"{result.error} (/tmp holds at most "
                        f"{human(limits.writable_bytes)})")


def _to_output(msg_type: str, content: dict[str, Any]) -> dict[str, Any] | None:
    if msg_type == "stream":
        return {"output_type": "stream", "name": content.get("name", "stdout"),
                "text": content.get("text", "")}
    if msg_type in ("display_data", "update_display_data"):
        return {"output_type": "display_data", "data": content.get("data", {}),
                "metadata": content.get("metadata", {})}
    if msg_type == "execute_result":
        return {"output_type": "execute_result", "data": content.get("data", {}),
                "metadata": content.get("metadata", {}),
                "execution_count": content.get("execution_count")}
    if msg_type == "error":
        return {"output_type": "error", "ename": content.get("ename", ""),
                "evalue": content.get("evalue", ""),
                "traceback": content.get("traceback", [])}
    return None


def _reap(kernel: Kernel) -> None:
    """Have the kernel collect its killed children: zombies still count against the
    process limit, and later cells (TensorFlow's threads) need that room."""
    with contextlib.suppress(Exception):
        msg_id = kernel.client.execute(_REAPER, silent=True, store_history=False,
                                       allow_stdin=False)
        _find_reply(kernel.client, msg_id, wait=5.0)


def _dies_soon(kernel: Kernel, patience: float = 0.5) -> bool:
    """After the IOPub connection was cut: whether the kernel is dying (its sockets
    closed with it: no message was lost), rather than alive after an oversized one."""
    end = time.monotonic() + patience
    while kernel.alive() and time.monotonic() < end:
        time.sleep(0.05)
    return not kernel.alive()


def _drain_shell(client) -> None:
    """Drop replies left over from earlier cells."""
    for _ in range(1000):
        try:
            client.get_shell_msg(timeout=0)
        except queue.Empty:
            return
        except Exception:  # noqa: BLE001 - garbled message
            continue


def _find_reply(client, msg_id: str, wait: float = 0) -> dict | None:
    """The execute_reply to ``msg_id`` if the shell channel holds it (drains others)."""
    end = time.monotonic() + wait
    while True:
        try:
            msg = client.get_shell_msg(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            return None
        except Exception:  # noqa: BLE001 - garbled message from the kernel
            continue
        if isinstance(msg, dict) and msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg
