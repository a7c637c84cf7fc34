"""The limits of one submission's kernel, and what one cell run produced."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from course.grading_terms import LIMITS

GIB = 2**30
MIB = 2**20

#: Largest single message the grader accepts from a kernel; ZeroMQ drops the
#: connection for a larger one (so a 2 GB print never lands in the grader's memory).
MAX_MESSAGE_BYTES = 16 * MIB
#: Messages the grader queues per connection before ZeroMQ drops newer ones: with the
#: cap above, a kernel flooding the grader holds at most about 1 GiB of its memory.
MAX_QUEUED_MESSAGES = 64


@dataclass
class Limits:
    """Resource limits for one submission's kernel.

    ``max_processes`` counts tasks (Linux counts threads as processes): the kernel,
    its threads (TensorFlow starts a few dozen on a small machine; see
    ``effective_max_processes``) and anything it forks. The time and output limits
    are the course's (``course.grading_terms.LIMITS``), which the student's check
    applies too.
    """

    cell_timeout: float = LIMITS.cell_seconds
    notebook_timeout: float = LIMITS.notebook_seconds
    memory_bytes: int = 4 * GIB
    max_output_bytes: int = LIMITS.output_bytes
    max_processes: int = 64
    max_file_bytes: int = 256 * MIB  # largest file the kernel may write (RLIMIT_FSIZE)
    startup_timeout: float = LIMITS.startup_seconds  # not counted in notebook_timeout
    #: each of the instructor's locked set-up cells (``import tensorflow`` and the
    #: like): its own wall-clock limit, not counted in the student's time
    setup_timeout: float = LIMITS.setup_seconds
    #: what the kernel may write in all: its /submission and /tmp share one tmpfs
    #: (memory) of this size; more than ``max_file_bytes``, so that one big file
    #: breaches the file size limit first
    writable_bytes: int = 512 * MIB
    #: files and folders the kernel may have there (the submission's own included):
    #: each costs the host about 1 KB of kernel memory, outside every rlimit
    max_files: int = 10_000

    def effective_max_processes(self) -> int:
        """RLIMIT_NPROC given to the kernel's user: ``max_processes`` plus thread headroom.

        TensorFlow and BLAS size their thread pools by the number of cores, and Linux
        counts every thread against RLIMIT_NPROC; without headroom a big machine would
        fail honest submissions. A fork bomb is still stopped at this number.
        """
        return self.max_processes + 4 * (os.cpu_count() or 1)


@dataclass
class CellResult:
    """What one executed cell produced.

    ``outputs`` are nbformat v4 output dicts (kept until ``max_output_bytes``);
    ``error`` is None on success, else a one-line reason (e.g. "NameError: x is not
    defined", "cell time limit of 60 s exceeded", "kernel died ..."); ``traceback``
    holds the kernel's traceback lines when the cell raised.
    """

    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False
    truncated: bool = False
    traceback: list[str] = field(default_factory=list)
    ename: str | None = None
    output_bytes: int = 0
    kernel_dead: bool = False
    #: which limit the cell breached, if any: "time", "notebook time", "output",
    #: "memory", "processes", "file size", "files" (``max_files``), "space"
    #: (``writable_bytes``); None when it breached none
    limit: str | None = None


def writable_breach(before, after, error: str | None,
                    limits: Limits) -> tuple[str, str] | None:
    """(limit, reason) when a cell filled the kernel's writable folders (/submission and
    /tmp): their inodes or their bytes, whether or not it let the error through.
    ``before`` and ``after`` are ``os.statvfs`` of them around the cell."""

    def filled(free: str) -> bool:
        return getattr(after, free) == 0 and (before is None or getattr(before, free) > 0)

    enospc = "[Errno 28]" in (error or "")
    if filled("f_ffree") or (enospc and after.f_ffree == 0):
        return "files", (f"the kernel reached the file count limit of {limits.max_files} "
                         f"files and folders in /submission and /tmp together")
    if filled("f_bavail") or enospc:
        return "space", (f"the kernel filled the {human(limits.writable_bytes)} that "
                         f"/submission and /tmp hold together")
    return None


def human(n: int) -> str:
    """A size for a message: "4 GiB", "256 MiB"."""
    return f"{n / GIB:.3g} GiB" if n >= GIB else f"{n / MIB:.3g} MiB"


def one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."
