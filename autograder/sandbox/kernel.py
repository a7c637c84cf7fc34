"""One submission's kernel: starting it (sandboxed or not), and the handle the grader
holds while it runs: its jupyter_client manager and client, its notebook clock, its
watched IOPub connection and its processes. Stopped and cleaned up on exit."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from traitlets import Bool, Instance, Integer

import autograder.sandbox.confinement as confinement
import autograder.sandbox.uids as uids
from autograder.sandbox.limits import MAX_MESSAGE_BYTES, MAX_QUEUED_MESSAGES, Limits
from autograder.sandbox.processes import KernelProcesses, die_with_grader


class _TheGradedSpec(KernelSpecManager):
    """Knows one kernel spec: the graded kernel's (its command is the sandbox's)."""

    spec = Instance(KernelSpec)

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self.spec


class _GraderKernelManager(KernelManager):
    """A KernelManager whose kernel reads its own copy of the connection file."""

    kernel_owner = Integer(None, allow_none=True)
    sandboxed = Bool(True)

    def format_kernel_cmd(self, extra_arguments=None):
        # called right after the connection file is written, before the launch
        confinement.kernel_connection_file(os.path.realpath(self.connection_file),
                                           self.kernel_owner, self.sandboxed)
        # the command is complete: no {templates}, the program text it carries (with
        # braces of its own) reaches the kernel as written
        return list(self.kernel_spec.argv)


class NotebookClock:
    """The notebook's time limit; its only owner. It starts when the kernel is ready;
    the instructor's set-up cells run on time set aside, off the student's time."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    @contextlib.contextmanager
    def set_aside(self, seconds: float) -> Iterator[None]:
        """A deadline of ``seconds`` from now, then the notebook's, moved by the time
        spent."""
        started, saved = time.monotonic(), self.deadline
        self.deadline = started + seconds
        try:
            yield
        finally:
            self.deadline = saved + (time.monotonic() - started)


# How long a new IOPub subscription may take to reach the kernel (a busy machine).
WELCOME_WAIT = 30.0


class IOPub:
    """The kernel's IOPub connection, watched: ZeroMQ cuts it when a message is over
    MAX_MESSAGE_BYTES, and does not reconnect by itself."""

    def __init__(self, client):
        self.client = client
        self.channel = client.iopub_channel
        self.monitor = self._watch()

    def _watch(self):
        import zmq

        return self.channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)

    def get_msg(self, timeout: float) -> dict:
        return self.channel.get_msg(timeout=timeout)

    def cut(self) -> bool:
        """Whether the connection was cut since the last look."""
        import zmq

        cut = False
        while self.monitor is not None:
            try:
                self.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.ZMQError:  # zmq.Again included: nothing more
                break
            cut = True
        return cut

    def reconnect(self) -> None:
        """Open a fresh connection for what follows (the old one was cut)."""
        with contextlib.suppress(Exception):
            self.channel.socket.disable_monitor()
        with contextlib.suppress(Exception):
            self.monitor.close(linger=0)
        with contextlib.suppress(Exception):
            self.channel.close()
        self.monitor = None
        with contextlib.suppress(Exception):
            self.channel = self.client.iopub_channel_class(self.client.connect_iopub(),
                                                           self.client.session)
            self.monitor = self._watch()
        self._await_welcome()

    def _await_welcome(self, wait: float = WELCOME_WAIT) -> None:
        """Wait until the new subscription reaches the kernel, which ipykernel confirms
        with an "iopub_welcome" message: until then the kernel's messages are dropped
        (a fixed pause lost the next cell's output on a busy machine). What else comes
        meanwhile is dropped: the caller has already declared the output lost."""
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                msg = self.channel.get_msg(timeout=max(0.0, end - time.monotonic()))
            except Exception:  # noqa: BLE001 - queue.Empty, or garbled frames
                continue
            if isinstance(msg, dict) and msg.get("msg_type") == "iopub_welcome":
                return


class Kernel:
    """A running kernel, as the grader holds it (``start_kernel`` yields one)."""

    def __init__(self, manager: KernelManager, client, limits: Limits, sandboxed: bool,
                 uid: int | None):
        self.manager, self.client, self.limits = manager, client, limits
        self.sandboxed, self.uid = sandboxed, uid
        self.iopub = IOPub(client)
        self.processes = KernelProcesses(self.launcher_pid, uid)
        self.clock = NotebookClock(limits.notebook_timeout)

    def ready(self) -> None:
        """The kernel answered: the notebook's time starts; its processes are known."""
        self.clock = NotebookClock(self.limits.notebook_timeout)
        self.processes.mark_kernel_ready()

    @property
    def connection_file(self) -> str:
        return self.manager.connection_file

    def launcher_pid(self) -> int | None:
        process = getattr(self.manager.provisioner, "process", None)
        return getattr(process, "pid", None)

    def alive(self) -> bool:
        return bool(self.manager.is_alive())

    def kill(self) -> None:
        """Kill the kernel (and, in the sandbox, everything it started) at once."""
        with contextlib.suppress(Exception):
            self.manager.shutdown_kernel(now=True)

    def interrupt(self) -> None:
        with contextlib.suppress(Exception):
            self.manager.interrupt_kernel()

    def writable_space(self) -> os.statvfs_result | None:
        """The kernel's own tmpfs (its /submission and /tmp), seen through a process of
        its mount namespace; None without one (a grader that is not root) or when the
        kernel is gone."""
        if self.uid is None:
            return None
        for pid in sorted(self.processes.kernel_pids):
            with contextlib.suppress(OSError):
                return os.statvfs(f"/proc/{pid}/root/tmp")
        return None


@contextlib.contextmanager
def start_kernel(workdir: Path | str, limits: Limits | None, sandboxed: bool,
                 env: dict[str, str] | None = None) -> Iterator[Kernel]:
    """Start a kernel (in bubblewrap when ``sandboxed``); yield it when it is ready.
    On exit the kernel and everything it started are killed and temporary files
    removed, whatever happened."""
    limits = limits or Limits()
    workdir = Path(workdir).resolve()
    if not workdir.is_dir():
        raise FileNotFoundError(f"workdir {workdir} is not a folder")
    runtime = tempfile.mkdtemp(prefix="agk-", dir="/tmp" if os.path.isdir("/tmp") else None)
    as_root = os.geteuid() == 0 if hasattr(os, "geteuid") else False
    # as root, the kernel copies workdir into memory of its own (kernel_entry.py)
    uid = uids.allocate() if (sandboxed and as_root) else None
    try:
        if uid is not None:
            os.chown(runtime, uid, uid)  # ipykernel makes its sockets there
        with _launched(workdir, limits, sandboxed, uid, runtime, env) as kernel:
            yield kernel
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


@contextlib.contextmanager
def _launched(workdir: Path, limits: Limits, sandboxed: bool, uid: int | None,
              runtime: str, env: dict[str, str] | None) -> Iterator[Kernel]:
    import zmq

    argv = confinement.kernel_command(limits, sandboxed, uid, runtime, workdir)
    spec = KernelSpec(argv=argv, display_name="Python 3 (graded)", language="python",
                      interrupt_mode="message", name="python3")
    km = _GraderKernelManager(
        transport="ipc" if sandboxed else "tcp",
        connection_file=os.path.join(runtime, "k.json"), kernel_name="python3",
        kernel_spec_manager=_TheGradedSpec(spec=spec), kernel_owner=uid,
        sandboxed=sandboxed)
    context = zmq.Context()
    context.setsockopt(zmq.MAXMSGSIZE,
                       max(MAX_MESSAGE_BYTES, 4 * int(limits.max_output_bytes)))
    context.setsockopt(zmq.RCVHWM, MAX_QUEUED_MESSAGES)
    client = None
    log_path = os.path.join(runtime, "kernel.log")
    log_file = open(log_path, "wb")
    try:
        km.start_kernel(env=confinement.kernel_env(sandboxed, workdir, runtime, env),
                        cwd=str(workdir), stdout=subprocess.DEVNULL, stderr=log_file,
                        stdin=subprocess.DEVNULL, **die_with_grader())
        client = km.client(context=context)
        client.start_channels()
        kernel = Kernel(km, client, limits, sandboxed, uid)
        try:
            client.wait_for_ready(timeout=limits.startup_timeout)
        except RuntimeError as exc:
            log_file.flush()
            tail = Path(log_path).read_bytes()[-2000:].decode("utf-8", "replace")
            raise RuntimeError(f"kernel did not start: {exc}\n{tail}") from None
        kernel.ready()
        if uid is not None:  # its sockets are made: nothing more of its own there
            confinement.lock_folder(runtime)
        yield kernel
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.stop_channels()
        with contextlib.suppress(Exception):
            km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            km.cleanup_resources()
        context.destroy(linger=0)
        log_file.close()
