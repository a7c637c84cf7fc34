"""Run one submission's kernel in a sandbox, with limits (see book/instructor/security.md).

The grader runs student code; this package decides where and how, in small parts:

* ``start_kernel(workdir, limits, sandbox=None)`` (kernel.py) starts an IPython kernel
  whose working folder is ``workdir`` (a private copy of one submission) and yields a
  ready ``Kernel``: the handle on its jupyter_client manager and client, its notebook
  clock (the notebook's deadline, owned there alone), its watched IOPub connection and
  its processes (processes.py). It always shuts the kernel down on exit.
* ``run_cell(kernel, source, limits)`` (cell.py) executes one cell and returns a
  ``CellResult`` (outputs as nbformat dicts, error, timed_out, truncated), enforcing the
  per-cell and per-notebook time limits and the output-size cap (stream text, images
  and HTML count).
* limits.py holds the ``Limits``; confinement.py the bubblewrap command and the kernel's
  environment; kernel_entry.py the program every kernel runs first (its folders, its
  privilege drop); uids.py the kernels' user ids; this module decides whether to
  sandbox (``sandbox_available``) and prints the one warning when it does not.
* zygote.py: warm kernels. A grading worker's ``WarmKernels`` holds one sandboxed
  zygote that has imported the set-up cells' modules; ``start_warm_kernel`` forks from
  it a kernel in its own namespaces, folders and uid, and yields a ``WarmKernel``, a
  ``Kernel`` with the same interface, so ``run_cell`` works on either.

With bubblewrap (``bwrap``, Linux) the kernel runs in new PID, network, IPC and UTS
namespaces, sees a read-only minimal file system (``/usr``, a few ``/etc`` files, the
Python installation, the virtual environment at /opt/venv and the ``course`` package),
and never the repository root, ``solutions/``, ``autograder/references``, the gradebook
or other students' folders. Every kernel, fresh or warm, first runs one program,
kernel_entry.py: as root in its sandbox, it copies ``workdir`` into memory of its own
(/submission, also its ``HOME``, and /tmp: one tmpfs with a size and a file count
limit), then drops privileges (rlimits, a seccomp filter that refuses Linux's keyrings,
and, when the grader runs as root, an unprivileged uid of its own from uids.py, never
given to another kernel on the machine, so that ``RLIMIT_NPROC`` is enforced). Memory,
file size and process limits are ``setrlimit`` limits; no cgroups. ``run_cell`` adds
what rlimits cannot do: it sums the memory (PSS) of all the kernel's processes twice a
second, kills whatever a cell started once the cell ends, and names a full writable
folder. The sandbox dies with the grader (``--die-with-parent`` and a parent-death
signal).

Without bubblewrap (macOS, a machine without ``bwrap``) the same interface runs the kernel
as a plain local process with the same rlimits, and says so loudly, once.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import Iterator

from autograder.sandbox.cell import CellRun, run_cell, run_instructor_cell
from autograder.sandbox.confinement import SANDBOX_WORKDIR, probe_bwrap
from autograder.sandbox.kernel import Kernel
from autograder.sandbox.kernel import start_kernel as _start_kernel
from autograder.sandbox.limits import (GIB, MAX_MESSAGE_BYTES, MAX_QUEUED_MESSAGES, MIB,
                                       CellResult, Limits, human)

__all__ = ["GIB", "MIB", "MAX_MESSAGE_BYTES", "MAX_QUEUED_MESSAGES", "SANDBOX_WORKDIR",
           "CellResult", "CellRun", "Kernel", "Limits", "human", "run_cell",
           "run_instructor_cell", "sandbox_available", "sandbox_status", "start_kernel",
           "warn_unsandboxed"]

#: whether bubblewrap works here, and why (probed once per process)
_available: tuple[bool, str] | None = None
_lock = threading.Lock()

_UNSANDBOXED_WARNING = (
    "WARNING: grading runs UNSANDBOXED ({why}). Student code "
    "runs with your permissions and can read your files, including solutions and the "
    "gradebook. Grade untrusted submissions on Linux with bubblewrap installed."
)


def sandbox_available() -> bool:
    """True when bubblewrap is installed and can create the sandbox on this machine."""
    global _available
    with _lock:
        if _available is None:
            _available = probe_bwrap()
        return _available[0]


def sandbox_status() -> str:
    """One line for logs and reports: sandboxed or not, and why."""
    ok = sandbox_available()
    return _available[1] if ok else f"unsandboxed: {_available[1]}"


def warn_unsandboxed(why: str | None = None) -> None:
    """Print the unsandboxed warning to stderr, once for the whole grading run.

    "Once" holds across worker processes started afterwards: the flag is an
    environment variable that children inherit.
    """
    if os.environ.get("AUTOGRADER_SANDBOX_WARNED"):
        return
    os.environ["AUTOGRADER_SANDBOX_WARNED"] = "1"
    if why is None:
        why = "bubblewrap works" if sandbox_available() else _available[1]
    message = _UNSANDBOXED_WARNING.format(why=why)
    print("\n" + "!" * 88 + "\n" + message + "\n" + "!" * 88 + "\n", file=sys.stderr,
          flush=True)


@contextlib.contextmanager
def start_kernel(workdir: Path | str, limits: Limits | None = None,
                 sandbox: bool | None = None, env: dict[str, str] | None = None
                 ) -> Iterator[Kernel]:
    """Start a kernel for one submission; yield its ready ``Kernel`` (kernel.py).

    ``workdir`` is a private copy of one submission: the kernel's cwd and its only
    writable folder (with ``sandbox``). ``sandbox=None`` means "if available" (and warns
    once when it is not); True requires bubblewrap (RuntimeError if missing); False
    runs unsandboxed (warns once). ``env`` adds variables to the kernel's environment.
    On exit the kernel and everything it started are killed and temporary files
    removed, whatever happened.
    """
    if sandbox is None:
        sandbox = sandbox_available()
    elif sandbox and not sandbox_available():
        raise RuntimeError(f"sandbox requested but not available: {_available[1]}")
    if not sandbox:
        warn_unsandboxed(None if sandbox_available() is False else
                         "the sandbox was turned off for this run")
    with _start_kernel(workdir, limits, bool(sandbox), env) as running:
        yield running
