"""Warm kernels: one sandboxed zygote per grading worker, one forked kernel per submission.

A fresh kernel pays ``import tensorflow`` (4 to 30 s on a busy machine) for every
notebook. The zygote (``zygote_program.py``, inside the same bubblewrap sandbox as a
fresh kernel) imports what the assignments' set-up cells import once, and forks a
child per submission that becomes the submission's ipykernel. Each child gets its own
mount, PID, IPC, network and UTS namespaces and, from the program every kernel runs
first (kernel_entry.py), the folders and privilege drop of a fresh kernel: a copy of
its work folder and an empty /tmp in memory of its own, rlimits, no keyrings, its own
unprivileged uid. The grader reaches its sockets through the child's mount namespace
(no folder of the host is mounted there), kills its whole PID namespace, and waits
until it is gone, before the next fork. The grader holds a ``WarmKernel``, a
``Kernel`` with the same interface.

Needs Linux, bubblewrap and root (the zygote needs CAP_SYS_ADMIN in the sandbox to
mount each child's folders, and CAP_SETUID to give it its uid): ``why_not_warm`` says
what is missing, and the grader then starts a fresh kernel instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import autograder.sandbox.confinement as confinement
import autograder.sandbox.uids as uids
from autograder.sandbox.kernel import IOPub, Kernel, NotebookClock
from autograder.sandbox.limits import MAX_MESSAGE_BYTES, MAX_QUEUED_MESSAGES, Limits
from autograder.sandbox.processes import (CpuSplit, KernelProcesses, descendants,
                                          die_with_grader)

PROGRAM = Path(__file__).with_name("zygote_program.py")
#: imported by the zygote whatever the assignments: the kernel itself
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell")
#: packages known to be safe to import before fork: they start no thread that holds a
#: lock and run no TensorFlow op at import (measured: 3 threads after all of them).
#: A set-up import of another package is left to the kernel (slower, same result).
FORK_SAFE = frozenset({"numpy", "scipy", "sklearn", "matplotlib", "tensorflow", "keras",
                       "pandas", "course", "IPython", "ipykernel"})
#: packages that must not be imported before fork (they start threads, pools or
#: devices at import): an assignment whose set-up imports one grades with fresh kernels
FORK_UNSAFE = frozenset({"torch", "jax", "multiprocessing", "concurrent", "ray",
                         "dask", "tensorflow_datasets"})
#: how long the zygote may take to import everything (``import tensorflow`` passes 30 s
#: on a busy machine)
READY_TIMEOUT = 300.0


class WarmUnavailable(RuntimeError):
    """No warm kernel for this submission (the grader falls back to a fresh one)."""


def why_not_warm(sandboxed: bool) -> str | None:
    """Why warm kernels cannot run here, or None when they can."""
    if not sandboxed:
        return "the sandbox is off (a zygote's children need bubblewrap)"
    if not hasattr(os, "fork"):
        return "this platform has no fork()"
    if not sys.platform.startswith("linux"):
        return f"{sys.platform} has no namespaces for a zygote's children"
    if os.geteuid() != 0:
        return ("the zygote needs a grader running as root (CAP_SYS_ADMIN for each "
                "kernel's mounts)")
    return None


def preload_list(imports: list[str]) -> tuple[list[str], list[str]]:
    """(modules the zygote imports, fork-unsafe ones) from the set-up cells' imports."""
    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    unsafe = sorted({m for m in imports if m.split(".")[0] in FORK_UNSAFE})
    chosen = [m for m in imports if m.split(".")[0] in FORK_SAFE
              or (m.split(".")[0] in stdlib and m.split(".")[0] not in FORK_UNSAFE)]
    return list(dict.fromkeys([*chosen, *KERNEL_MODULES])), unsafe


class Zygote:
    """The sandboxed zygote process of one grading worker, and its slot folder."""

    def __init__(self, modules: list[str], env: dict[str, str] | None = None):
        self.base = Path(tempfile.mkdtemp(prefix="agz-"))
        self.spool = self.base / "spool"
        self.spool.mkdir()
        os.chmod(self.base, 0o755)
        os.chmod(self.spool, 0o755)
        self.log_path = self.base / "zygote.log"
        self.modules = list(modules)
        self.info: dict | None = None
        self.own: set[int] = set()
        self.cpu = CpuSplit(self._own, self.alive)  # bwrap's and its own, not the kernels'
        self._buffer = b""
        self._log = open(self.log_path, "wb")
        env = confinement.kernel_env(True, Path(confinement.SANDBOX_WORKDIR), "/tmp", env)
        argv = confinement.zygote_command(str(self.spool), PROGRAM.read_text(), json.dumps(
            {"modules": self.modules, "entry": confinement.ENTRY.read_text()}))
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env, **die_with_grader())

    # ------------------------------------------------------------------ protocol
    def _read_line(self, timeout: float) -> dict:
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WarmUnavailable(f"the zygote did not answer in {timeout:g} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise WarmUnavailable(f"the zygote died ({self.log_tail()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> dict:
        """Wait until the zygote has imported its modules; its report."""
        if self.info is None:
            self.info = self._read_line(timeout)
            # bwrap and the zygote: any other process below it is a kernel's
            self.own = {self.proc.pid} | descendants(self.proc.pid)
            self.cpu.split()
        return self.info

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _own(self) -> set[int]:
        return self.own or {self.proc.pid} | descendants(self.proc.pid)

    def log_tail(self, n: int = 600) -> str:
        self._log.flush()
        text = self.log_path.read_bytes()[-n:].decode("utf-8", "replace").strip()
        return text.replace("\n", " | ") or "no log"

    def fork(self, request: dict, timeout: float = 30.0) -> int:
        """Ask for one launcher; its pid on the host."""
        if not self.alive():
            raise WarmUnavailable(f"the zygote is not running ({self.log_tail()})")
        self.wait_ready()
        try:
            self.reap_strays()
        except WarmUnavailable:
            self.proc.kill()  # not to be trusted again: WarmKernels starts another
            raise
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise WarmUnavailable(f"the zygote does not listen: {exc}") from None
        answer = self._read_line(timeout)
        if "pid" not in answer:
            raise WarmUnavailable(f"fork failed in the zygote: {answer.get('error')}")
        return self._host_pid(answer["pid"])

    def _host_pid(self, inner: int) -> int:
        """The host pid of the zygote's child whose pid in the sandbox is ``inner``."""
        for pid in descendants(self.proc.pid):
            with contextlib.suppress(OSError, ValueError, IndexError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("NSpid:") and int(line.split()[-1]) == inner:
                        return pid
        raise WarmUnavailable(f"the forked launcher {inner} is gone already")

    def reap_strays(self, patience: float = 10.0) -> None:
        """Kill whatever an earlier submission left below the zygote, and wait till it
        is gone: no process of one submission meets the next."""
        end = time.monotonic() + patience
        while True:
            strays = descendants(self.proc.pid) - self.own
            if not strays:
                return
            for pid in strays:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > end:
                raise WarmUnavailable(f"processes of an earlier kernel outlive it: "
                                      f"{sorted(strays)}")
            time.sleep(0.02)

    # ------------------------------------------------------------------ slots
    @contextlib.contextmanager
    def slot(self) -> Iterator[Path]:
        """A new empty work folder for one submission (``<slot>/work``, which the
        kernel's launcher copies), visible to the zygote; removed, with the slot's run
        folder (the kernel's log), afterwards."""
        slot = Path(tempfile.mkdtemp(prefix="s", dir=self.spool))
        os.chmod(slot, 0o755)
        try:
            (slot / "work").mkdir()
            (slot / "run").mkdir()
            # the kernel's stderr: root's (the zygote has no CAP_DAC_OVERRIDE)
            (slot / "run" / "kernel.log").touch(mode=0o644)
            yield slot / "work"
        finally:
            shutil.rmtree(slot, ignore_errors=True)

    def close(self) -> None:
        """Kill the zygote at once (its interpreter's exit, TensorFlow's included, can
        outlast the pool's patience with a worker) and delete its folders."""
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.proc.kill()  # bubblewrap: --die-with-parent takes the sandbox down
            self.proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
            self.proc.stdout.close()
        self._log.close()
        shutil.rmtree(self.base, ignore_errors=True)



# ---------------------------------------------------------------------- the kernel
class WarmKernel(Kernel):
    """A kernel forked from the zygote, with the interface of a fresh one (kernel.py):
    ``launcher_pid`` is its launcher on the host, whose descendants are the kernel's
    namespace init, the kernel and whatever it starts."""

    def __init__(self, client, limits: Limits, uid: int, launcher: int,
                 connection_file: str):
        self.manager = None
        self.client, self.limits, self.sandboxed, self.uid = client, limits, True, uid
        self._launcher, self._connection_file = launcher, connection_file
        self._started = _start_time(launcher)
        self.iopub = IOPub(client)
        self.processes = KernelProcesses(self.launcher_pid, uid)
        self.clock = NotebookClock(limits.notebook_timeout)

    @property
    def connection_file(self) -> str:
        return self._connection_file

    def launcher_pid(self) -> int | None:
        return self._launcher if self.alive() else None

    def alive(self) -> bool:
        # the launcher exits when the kernel does, and the zygote reaps it at once
        return self._started is not None and _start_time(self._launcher) == self._started

    def kill(self) -> None:
        """SIGKILL the namespace's init (the kernel then kills all its processes) and
        the launcher."""
        if not self.alive():
            return
        for pid in [*descendants(self._launcher), self._launcher]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def interrupt(self) -> None:
        """As a fresh kernel's ``interrupt_mode="message"``: ipykernel signals its group."""
        with contextlib.suppress(Exception):
            msg = self.client.session.msg("interrupt_request", content={})
            self.client.control_channel.send(msg)


def _start_time(pid: int) -> int | None:
    """The process's start time (against pid reuse), None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    return None if fields[0] == b"Z" else int(fields[19])


def _connection(run: Path) -> dict:
    """A new connection for one kernel (a new key; ipc sockets), as the kernel sees it:
    its sockets in its own /run/kernel."""
    from jupyter_client.connect import write_connection_file

    _, info = write_connection_file(str(run / "k.json"), transport="ipc",
                                    ip=f"{confinement.KERNEL_RUN}/ipc")
    key = info["key"]
    return dict(info, key=key.decode() if isinstance(key, bytes) else key)


def _run_folder(launcher: int, timeout: float) -> int:
    """An O_PATH handle on the kernel's /run/kernel, a tmpfs in its mount namespace,
    once its launcher has written the connection file there. The grader reaches the
    kernel's sockets through it (``/proc/self/fd/N/``), so no folder of the host is
    mounted in the kernel's sandbox."""
    started = _start_time(launcher)
    folder = f"/proc/{launcher}/root{confinement.KERNEL_RUN}"
    end = time.monotonic() + timeout
    while not os.path.exists(f"{folder}/kernel.json"):
        if _start_time(launcher) != started or time.monotonic() > end:
            raise WarmUnavailable("the forked launcher did not make the kernel's folders")
        time.sleep(0.01)
    fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    if _start_time(launcher) != started:  # the pid was another process's by then
        os.close(fd)
        raise WarmUnavailable("the forked launcher died while it started")
    return fd


@contextlib.contextmanager
def start_warm_kernel(zygote: Zygote, workdir: Path | str, limits: Limits | None = None,
                      env: dict[str, str] | None = None) -> Iterator[WarmKernel]:
    """Fork a kernel for the submission in ``workdir`` (a ``zygote.slot()``); yield it
    when it is ready. Raises ``WarmUnavailable`` (before yielding) when the zygote
    cannot give one. On exit the kernel's namespace is killed and waited for."""
    import zmq
    from jupyter_client import BlockingKernelClient

    limits = limits or Limits()
    workdir = Path(workdir).resolve()
    if workdir.name != "work" or workdir.parent.parent != zygote.spool.resolve():
        raise ValueError(f"{workdir} is not a slot of this zygote (Zygote.slot())")
    uid = uids.allocate()
    run, slot = workdir.parent / "run", workdir.parent.name
    inside = _connection(run)
    request = dict(
        confinement.kernel_request(limits, uid, f"{confinement.KERNEL_RUN}/kernel.json",
                                   f"/spool/{slot}/work", ["/spool"]),
        slot=slot, connection=inside,
        # bwrap --chdir sets PWD for a fresh kernel
        env=dict(confinement.kernel_env(True, workdir, "/tmp", env),
                 PWD=confinement.SANDBOX_WORKDIR))
    context = zmq.Context()
    context.setsockopt(zmq.MAXMSGSIZE, max(MAX_MESSAGE_BYTES, 4 * int(limits.max_output_bytes)))
    context.setsockopt(zmq.RCVHWM, MAX_QUEUED_MESSAGES)
    client = kernel = folder = None
    try:
        launcher = zygote.fork(request)
        folder = _run_folder(launcher, limits.startup_timeout)
        host_file = run / "k.json"
        host_file.write_text(json.dumps(dict(inside, ip=f"/proc/self/fd/{folder}/ipc")))
        client = BlockingKernelClient(context=context, connection_file=str(host_file))
        client.load_connection_file()
        client.start_channels()
        kernel = WarmKernel(client, limits, uid, launcher, str(host_file))
        _wait_ready(kernel, run / "kernel.log")
        confinement.lock_folder(f"/proc/self/fd/{folder}")
        yield kernel
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.stop_channels()
        if kernel is not None:
            kernel.kill()
        context.destroy(linger=0)
        if folder is not None:
            os.close(folder)
        zygote.reap_strays()


def _wait_ready(kernel: WarmKernel, log: Path) -> None:
    try:
        kernel.client.wait_for_ready(timeout=kernel.limits.startup_timeout)
    except RuntimeError as exc:
        tail = log.read_bytes()[-1500:].decode("utf-8", "replace") if log.exists() else ""
        raise WarmUnavailable(f"the forked kernel did not start: {exc} {tail}") from None
    kernel.ready()


class WarmKernels:
    """A grading worker's warm kernels: its zygote, started at once (it imports while
    the worker waits for work), replaced when it died (at most ``MAX_RESTARTS``
    times, between two submissions)."""

    MAX_RESTARTS = 3

    def __init__(self, modules: list[str], env: dict[str, str] | None = None):
        self.modules, self.env = modules, env
        self.zygote = Zygote(modules, env)
        self.restarts = 0
        self._cpu_before = (0.0, 0.0)  # of the zygotes replaced

    def cpu_seconds(self, since_ready: bool) -> float:
        """CPU seconds of this worker's zygotes so far: importing, or forking kernels."""
        return self._cpu_before[since_ready] + self.zygote.cpu.read()[since_ready]

    def ready(self) -> bool:
        """Wait for the zygote's imports (or ``WarmUnavailable``); whether it had to."""
        return self.zygote.info is None and self.zygote.wait_ready() is not None

    @contextlib.contextmanager
    def slot(self) -> Iterator[Path]:
        """A work folder for one submission (a fresh kernel can use it too)."""
        if not self.zygote.alive() and self.restarts < self.MAX_RESTARTS:
            self.restarts += 1
            self._cpu_before = tuple(map(sum, zip(self._cpu_before, self.zygote.cpu.read())))
            self.zygote.close()
            self.zygote = Zygote(self.modules, self.env)
        with self.zygote.slot() as work:
            yield work

    def kernel(self, workdir: Path, limits: Limits | None = None):
        """``start_warm_kernel`` on this worker's zygote (a context manager)."""
        return start_warm_kernel(self.zygote, workdir, limits, self.env)

    def close(self) -> None:
        self.zygote.close()
