"""Process control of one kernel: the processes it started, their tasks and memory,
killing what a cell left behind, and tying the kernel's life to the grader's."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable

from autograder.sandbox.limits import Limits


def cpu_seconds(pids, children: bool = True) -> float:
    """CPU seconds of these processes (all their threads) from ``/proc``, and with
    ``children`` of the children they waited for; processes gone are left out."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14 to 17 of proc(5), counted from the
        # state (field 3), the first after the command's closing parenthesis
        fields = stat[stat.rfind(b")") + 2:].split()[11:15 if children else 13]
        total += sum(int(x) for x in fields)
    return total / ticks


class CpuSplit:
    """CPU seconds of some processes (their own, not their children's), split at one
    moment (a zygote's imports done): ``read()`` gives (before it, since); the last
    reading once they are gone (``alive`` false)."""

    def __init__(self, pids: Callable[[], set[int]], alive: Callable[[], bool]):
        self.pids, self.alive = pids, alive
        self.last, self.at = 0.0, None

    def split(self) -> None:
        self.at = self.read()[0]

    def read(self) -> tuple[float, float]:
        if self.alive():
            self.last = max(self.last, cpu_seconds(self.pids(), children=False))
        return (self.last, 0.0) if self.at is None else (self.at, self.last - self.at)


def descendants(root: int) -> set[int]:
    """Every process below ``root`` in the host's process tree (threads excluded)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat_line = fh.read()
            ppid = int(stat_line[stat_line.rfind(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


class KernelProcesses:
    """The process tree below one kernel's launcher (bubblewrap, or the plain kernel).

    ``launcher_pid`` is asked each time (None once the kernel is gone); ``uid`` is the
    kernel's own user id (None when it shares the grader's); ``kernel_pids`` are the
    launcher's processes when the kernel was ready: anything else is the student's.
    """

    def __init__(self, launcher_pid: Callable[[], int | None], uid: int | None):
        self.launcher_pid, self.uid = launcher_pid, uid
        self.kernel_pids: set[int] = set()

    def mark_kernel_ready(self) -> None:
        # bwrap's init and the kernel (or just the kernel, unsandboxed)
        self.kernel_pids = descendants(self.launcher_pid() or -1)

    def uid_tasks(self) -> int:
        """Tasks (threads included) of the kernel's own user id: what RLIMIT_NPROC
        counts."""
        root = self.launcher_pid()
        total = 0
        for pid in descendants(root) if self.uid is not None and root is not None else ():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                fields = dict(line.split(":", 1) for line in status.splitlines()
                              if ":" in line)
                total += (int(fields["Threads"])
                          if int(fields["Uid"].split()[0]) == self.uid else 0)
            except (OSError, KeyError, ValueError, IndexError):
                continue
        return total

    def limit_reached(self, limits: Limits, patience: float = 0.0) -> bool:
        """Whether the kernel's uid holds (nearly) all the tasks RLIMIT_NPROC allows, now
        or within ``patience`` s while the cell's processes live (a fork bomb growing)."""
        root = self.launcher_pid()
        end = time.monotonic() + patience
        while self.uid is not None and root is not None:
            if self.uid_tasks() >= limits.effective_max_processes() - 1:
                return True
            if time.monotonic() >= end or not descendants(root) - self.kernel_pids:
                break
            time.sleep(0.05)
        return False

    def cpu_seconds(self) -> float:
        """CPU seconds of the kernel and everything it started, so far (0 when the
        kernel is gone)."""
        root = self.launcher_pid()
        return 0.0 if root is None else cpu_seconds({root} | descendants(root))

    def tree_memory(self) -> int:
        """Memory of the kernel and everything it started, in bytes, once it started
        anything (0 before: one process is bounded by RLIMIT_AS already).

        Proportional set size: pages a fork shares with its parent count once, split
        between them, so a fork bomb is not mistaken for a memory bomb.
        """
        root = self.launcher_pid()
        if root is None:
            return 0
        pids = descendants(root)
        if not pids - self.kernel_pids:
            return 0
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"Pss:"):
                            total += int(line.split()[1]) * 1024
                            break
            except (OSError, ValueError, IndexError):
                continue
        return total

    def kill_strays(self) -> int:
        """Kill every process the kernel started (forks, subprocesses); keep the kernel.

        A cell's processes do not outlive it: this stops a fork bomb's survivors from
        burning CPU while later cells (and other submissions) run. In the sandbox,
        orphans stay below bubblewrap's init and are found too; unsandboxed, an orphan
        that left the kernel's process tree escapes. Returns how many were killed.
        """
        root = self.launcher_pid()
        if root is None:
            return 0
        found: set[int] = set()
        for _ in range(100):
            strays = descendants(root) - self.kernel_pids - found
            if not strays:
                break
            for pid in strays:  # stop first: a stopped process cannot fork again
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGSTOP)
            found |= strays
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        return len(found)

    def clean_up(self, reap: Callable[[], None], patience: float = 3.0) -> None:
        """Kill what the cell left running, and have the kernel ``reap`` it, until only
        the kernel is left (or ``patience`` seconds pass)."""
        end = time.monotonic() + patience
        while self.kill_strays():
            reap()
            if time.monotonic() > end:
                break
            time.sleep(0.05)


def die_with_grader() -> dict:
    """Popen arguments that make the launched process (bubblewrap, or the plain
    kernel) get SIGKILL when the grader dies, even by SIGKILL: no sandbox outlives
    its grader. (Linux's parent-death signal follows the thread that started the
    kernel: call start_kernel from a thread that lives as long as the kernel.)"""
    if not sys.platform.startswith("linux"):
        return {}
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return {}
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the grader died before prctl took effect
            os._exit(1)

    return {"preexec_fn": preexec}
