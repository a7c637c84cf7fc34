"""Run one submission's kernel in a sandbox, with limits (see book/instructor/security.md).

The grader runs student code; this module decides where and how:

* ``start_kernel(workdir, limits, sandbox=None)`` starts an IPython kernel whose working
  folder is ``workdir`` (a private copy of one submission) and yields a ready, blocking
  jupyter_client ``KernelClient``. It always shuts the kernel down on exit.
* ``run_cell(client, source, limits)`` executes one cell and returns a ``CellResult``
  (outputs as nbformat dicts, error, timed_out, truncated), enforcing the per-cell and
  per-notebook time limits and the output-size cap (stream text, images and HTML count).

With bubblewrap (``bwrap``, Linux) the kernel runs in new PID, network, IPC and UTS
namespaces, sees a read-only minimal file system (``/usr``, a few ``/etc`` files, the
Python installation and the virtual environment, the ``course`` package), a private
``/tmp``, and ``workdir`` as its only writable folder (mounted at ``/submission``, which is
also its ``HOME``). It never sees the repository root, ``solutions/``,
``autograder/references``, the gradebook or other students' folders. When the grader runs
as root, the kernel drops to an unprivileged user id of its own, so that the process
limit (``RLIMIT_NPROC``) is enforced. Memory, file size and process limits are
``setrlimit`` limits set by a tiny wrapper just before the kernel starts; no cgroups.
``run_cell`` adds what rlimits cannot do: it sums the memory (PSS) of all the kernel's
processes twice a second, and kills whatever a cell started once the cell ends.
The sandbox dies with the grader (``--die-with-parent`` and a parent-death signal).

Without bubblewrap (macOS, a machine without ``bwrap``) the same interface runs the kernel
as a plain local process with the same rlimits, and says so loudly, once.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

GIB = 2**30
MIB = 2**20

#: Where the submission's private copy appears inside the sandbox (cwd and HOME).
SANDBOX_WORKDIR = "/submission"

#: Environment variables passed from the grader to the kernel (everything else is dropped,
#: so that an instructor's tokens or paths never reach student code).
ENV_PASSTHROUGH_PREFIXES = ("OMP_", "MKL_", "OPENBLAS_", "LC_")
ENV_PASSTHROUGH = {
    "LANG", "LANGUAGE", "TZ", "PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES", "KERAS_BACKEND",
    "TF_CPP_MIN_LOG_LEVEL", "TF_DETERMINISTIC_OPS", "TF_ENABLE_ONEDNN_OPTS",
    "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_USE_LEGACY_KERAS",
}

#: Largest single message the grader accepts from a kernel; ZeroMQ drops the
#: connection for a larger one (so a 2 GB print never lands in the grader's memory).
MAX_MESSAGE_BYTES = 16 * MIB
#: Messages the grader queues per connection before ZeroMQ drops newer ones: with the
#: cap above, a kernel flooding the grader holds at most about 1 GiB of its memory.
MAX_QUEUED_MESSAGES = 64

#: A few /etc files a Python kernel needs; the rest of /etc stays hidden.
ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/etc/nsswitch.conf", "/etc/host.conf", "/etc/hosts", "/etc/mime.types",
    "/etc/fonts", "/etc/matplotlibrc",
)

_UNSANDBOXED_WARNING = (
    "WARNING: grading runs UNSANDBOXED ({why}). Student code "
    "runs with your permissions and can read your files, including solutions and the "
    "gradebook. Grade untrusted submissions on Linux with bubblewrap installed."
)


@dataclass
class Limits:
    """Resource limits for one submission's kernel.

    ``max_processes`` counts tasks (Linux counts threads as processes): the kernel,
    its threads (TensorFlow starts a few dozen on a small machine; see
    ``effective_max_processes``) and anything it forks.
    """

    cell_timeout: float = 60
    notebook_timeout: float = 300
    memory_bytes: int = 4 * GIB
    max_output_bytes: int = 1 * MIB
    max_processes: int = 64
    # Extensions beyond the contract (defaults keep the contract's behaviour):
    max_file_bytes: int = 256 * MIB  # largest file the kernel may write (RLIMIT_FSIZE)
    startup_timeout: float = 60  # kernel start-up, not counted in notebook_timeout
    #: each of the instructor's locked set-up cells (``import tensorflow`` and the
    #: like): its own wall-clock limit, not counted in the student's time
    setup_timeout: float = 300
    tmp_bytes: int = 256 * MIB  # size of the sandbox's private /tmp (tmpfs)

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
    #: "memory", "processes", "file size"; None when it breached none
    limit: str | None = None


# ----------------------------------------------------------------------------------
# Availability and the one loud warning
# ----------------------------------------------------------------------------------

_available: tuple[bool, str] | None = None
_lock = threading.Lock()


def _probe_bwrap() -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"{platform.system()} has no bubblewrap"
    if os.environ.get("AUTOGRADER_NO_SANDBOX"):
        return False, "AUTOGRADER_NO_SANDBOX is set"
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False, "no bwrap on PATH (Debian/Ubuntu: apt-get install bubblewrap)"
    cmd = [bwrap, *_bwrap_fs_args(_python_roots()), "--proc", "/proc", "--dev", "/dev",
           *_bwrap_ns_args(), "--", "/bin/sh", "-c", "true"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=30, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap does not run: {exc}"
    if proc.returncode != 0:
        return False, f"bwrap fails here: {proc.stderr.strip()[:200]}"
    return True, "bubblewrap works"


def sandbox_available() -> bool:
    """True when bubblewrap is installed and can create the sandbox on this machine."""
    global _available
    with _lock:
        if _available is None:
            _available = _probe_bwrap()
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


# ----------------------------------------------------------------------------------
# Building the sandbox command
# ----------------------------------------------------------------------------------

def _python_roots() -> list[str]:
    """Read-only folders the kernel's Python needs: installation, venv, course package."""
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix),
             os.path.realpath(os.path.dirname(sys.executable)),
             os.path.realpath(os.path.dirname(os.path.realpath(sys.executable)))}
    try:  # editable install: the course package lives in the repository; bind it alone
        import course

        roots.add(os.path.realpath(os.path.dirname(course.__file__)))
    except ImportError:
        pass
    # keep only outermost folders, never / or a folder that holds the course's secrets
    out: list[str] = []
    for root in sorted(roots, key=len):
        if root in ("/", "") or any(root == o or root.startswith(o + "/") for o in out):
            continue
        if root.startswith("/usr/") or root == "/usr":
            continue  # already bound as a whole
        out.append(root)
    for secret in _protected_paths():
        for root in out:
            if secret == root or secret.startswith(root + "/"):
                raise RuntimeError(f"refusing to expose {root} to student code: it "
                                   f"contains {secret}")
    return out


def _protected_paths() -> list[str]:
    """Folders student code must never see (used as a safety check on the binds)."""
    here = Path(__file__).resolve().parent  # autograder/
    repo = here.parent
    return [str(repo / "solutions"), str(here / "references"), str(here)]


def _bwrap_ns_args() -> list[str]:
    return ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent"]


def _bwrap_fs_args(python_roots: list[str]) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--perms", "0755", "--dir", "/etc"]  # else 0700: unreadable after setuid
    for path in ETC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    made: set[str] = set()
    for root in python_roots:
        args += _parent_dirs(root, made)
        args += ["--ro-bind", root, root]
    return args


def _parent_dirs(path: str, made: set[str]) -> list[str]:
    """bwrap creates missing parents of a mount point with mode 0700, which the
    kernel's unprivileged user cannot traverse: create them 0755 first."""
    args: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        parent = "/" + "/".join(parts[: i + 1])
        if parent not in made and parent not in ("/usr", "/etc", "/tmp"):
            made.add(parent)
            args += ["--perms", "0755", "--dir", parent]
    return args


def _kernel_env(home: str, extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k in ENV_PASSTHROUGH or k.startswith(ENV_PASSTHROUGH_PREFIXES)}
    bindir = os.path.dirname(sys.executable)
    env.update({
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "USER": "student",
        "LOGNAME": "student",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": os.path.join(home, ".config", "matplotlib"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "MALLOC_ARENA_MAX": "2",  # fewer 64 MiB arenas: fits RLIMIT_AS better
    })
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("LANG", "C.UTF-8")
    if extra:
        env.update(extra)
    return env


# Runs inside the sandbox just before the kernel: rlimits, then (as root) drop to the
# kernel's own unprivileged uid, then exec ipykernel. argv[1] is a JSON dict.
_WRAPPER = r"""
import json, os, resource, signal, sys
a = json.loads(sys.argv[1])
for name, value in a["rlimits"].items():
    try:
        resource.setrlimit(getattr(resource, name), (value, value))
    except (ValueError, OSError) as e:
        print("rlimit", name, e, file=sys.stderr)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
if a.get("uid") is not None:
    os.setgroups([])
    os.setgid(a["gid"])
    os.setuid(a["uid"])
os.umask(0o077)
os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", a["conn"],
                          "--HistoryManager.enabled=False"])
"""

_uid_counter = 0


def _pick_uid() -> int:
    """An unprivileged uid for one kernel, distinct per concurrent kernel.

    RLIMIT_NPROC counts every task of a real uid, so parallel kernels must not share
    one; uids 200000-299999 are far from the system's and users' ids.
    """
    global _uid_counter
    with _lock:
        _uid_counter += 1
        n = _uid_counter
    return 200000 + (os.getpid() * 64 + n) % 100000


def _rlimits(limits: Limits, sandboxed_uid: bool) -> dict[str, int]:
    r = {"RLIMIT_AS": int(limits.memory_bytes), "RLIMIT_FSIZE": int(limits.max_file_bytes),
         "RLIMIT_CORE": 0}
    if sandboxed_uid:
        # RLIMIT_NPROC counts all processes of the uid: only meaningful with a private uid
        r["RLIMIT_NPROC"] = limits.effective_max_processes()
    return r


# ----------------------------------------------------------------------------------
# Kernel start and stop
# ----------------------------------------------------------------------------------

def _make_manager_class():
    from jupyter_client import KernelManager

    class _WrappedKernelManager(KernelManager):
        """A KernelManager whose launch command is ours (sandbox + limits wrapper)."""

        ag_argv: list[str] = []
        ag_uid: int | None = None

        def format_kernel_cmd(self, extra_arguments=None):
            # called right after the connection file is written, before the launch
            conn = os.path.realpath(self.connection_file)
            if self.ag_uid is not None:
                os.chown(conn, self.ag_uid, self.ag_uid)
            return [a.replace("{connection_file}", conn) for a in self.ag_argv]

    return _WrappedKernelManager


@contextlib.contextmanager
def start_kernel(workdir: Path | str, limits: Limits | None = None,
                 sandbox: bool | None = None, env: dict[str, str] | None = None
                 ) -> Iterator[Any]:
    """Start a kernel for one submission; yield a ready blocking KernelClient.

    ``workdir`` is a private copy of one submission: the kernel's cwd and its only
    writable folder (with ``sandbox``). ``sandbox=None`` means "if available" (and warns
    once when it is not); True requires bubblewrap (RuntimeError if missing); False
    runs unsandboxed (warns once). ``env`` adds variables to the kernel's environment.
    On exit the kernel and everything it started are killed and temporary files
    removed, whatever happened.
    """
    from jupyter_client.kernelspec import KernelSpec

    limits = limits or Limits()
    workdir = Path(workdir).resolve()
    if not workdir.is_dir():
        raise FileNotFoundError(f"workdir {workdir} is not a folder")
    if sandbox is None:
        sandbox = sandbox_available()
    elif sandbox and not sandbox_available():
        raise RuntimeError(f"sandbox requested but not available: {_available[1]}")
    if not sandbox:
        warn_unsandboxed(None if sandbox_available() is False else
                         "the sandbox was turned off for this run")

    runtime = tempfile.mkdtemp(prefix="agk-", dir="/tmp" if os.path.isdir("/tmp") else None)
    conn_file = os.path.join(runtime, "k.json")
    as_root = os.geteuid() == 0 if hasattr(os, "geteuid") else False
    uid = _pick_uid() if (sandbox and as_root) else None
    if uid is not None:
        os.chown(runtime, uid, uid)
        _chown_tree(workdir, uid)
    home = SANDBOX_WORKDIR if sandbox else str(workdir)
    kernel_env = _kernel_env(home, env)
    wrapper_args = {"conn": "{connection_file}", "rlimits": _rlimits(limits, uid is not None),
                    "uid": uid, "gid": uid}
    inner = [sys.executable, "-c", _WRAPPER, json.dumps(wrapper_args)]
    if sandbox:
        # The private /tmp comes first: a venv or repository that lives under /tmp
        # (a CI clone, say) is bound back on top of it, not hidden by it.
        argv = [shutil.which("bwrap"),
                "--size", str(int(limits.tmp_bytes)), "--perms", "1777", "--tmpfs", "/tmp",
                *_bwrap_fs_args(_python_roots()),
                "--proc", "/proc", "--dev", "/dev",
                "--bind", runtime, runtime,
                "--bind", str(workdir), SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR,
                *_bwrap_ns_args(), "--hostname", "sandbox",
                "--unsetenv", "JPY_PARENT_PID"]
        if uid is not None:
            argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        argv += ["--", *inner]
        kernel_env["TMPDIR"] = "/tmp"
    else:
        argv = inner
        kernel_env["TMPDIR"] = runtime

    km = _make_manager_class()(
        transport="ipc" if sandbox else "tcp", connection_file=conn_file,
        kernel_name="python3")
    km.ag_argv = argv
    km.ag_uid = uid
    km._kernel_spec = KernelSpec(argv=argv, display_name="Python 3 (graded)",
                                 language="python", interrupt_mode="message", name="python3")
    import zmq

    client_context = zmq.Context()
    client_context.setsockopt(zmq.MAXMSGSIZE, max(MAX_MESSAGE_BYTES,
                                                  4 * int(limits.max_output_bytes)))
    client_context.setsockopt(zmq.RCVHWM, MAX_QUEUED_MESSAGES)
    client = None
    log_path = os.path.join(runtime, "kernel.log")
    log_file = open(log_path, "wb")
    try:
        km.start_kernel(env=kernel_env, cwd=str(workdir), stdout=subprocess.DEVNULL,
                        stderr=log_file, stdin=subprocess.DEVNULL,
                        **_die_with_grader())
        client = km.client(context=client_context)
        client.allow_stdin = False
        client.start_channels()
        _watch_iopub(client)
        try:
            client.wait_for_ready(timeout=limits.startup_timeout)
        except RuntimeError as exc:
            log_file.flush()
            tail = Path(log_path).read_bytes()[-2000:].decode("utf-8", "replace")
            raise RuntimeError(f"kernel did not start: {exc}\n{tail}") from None
        client.ag_limits = limits
        client.ag_deadline = time.monotonic() + limits.notebook_timeout
        client.ag_manager = km
        client.ag_sandboxed = bool(sandbox)
        client.ag_uid = uid
        # the launcher's processes when the kernel is ready: bwrap's init and the
        # kernel (or just the kernel, unsandboxed); anything else is the student's
        client.ag_kernel_pids = _descendants(_launcher_pid(client) or -1)
        yield client
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.stop_channels()
        with contextlib.suppress(Exception):
            km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            km.cleanup_resources()
        client_context.destroy(linger=0)
        log_file.close()
        shutil.rmtree(runtime, ignore_errors=True)
        if uid is not None:
            with contextlib.suppress(OSError):
                _chown_tree(workdir, os.geteuid())


def _die_with_grader() -> dict:
    """Popen arguments that make the launched process (bubblewrap, or the plain
    kernel) get SIGKILL when the grader dies, even by SIGKILL: no sandbox outlives
    its grader. (Linux's parent-death signal follows the thread that started the
    kernel: call start_kernel from a thread that lives as long as the kernel.)"""
    if not sys.platform.startswith("linux"):
        return {}
    try:
        import ctypes
        import signal

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return {}
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the grader died before prctl took effect
            os._exit(1)

    return {"preexec_fn": preexec}


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


# ----------------------------------------------------------------------------------
# Running cells
# ----------------------------------------------------------------------------------

def _output_size(content: dict[str, Any]) -> int:
    size = 0
    for key in ("text", "evalue", "ename"):
        if isinstance(content.get(key), str):
            size += len(content[key])
    for line in content.get("traceback") or []:
        size += len(line) if isinstance(line, str) else 0
    for value in (content.get("data") or {}).values():
        size += len(value) if isinstance(value, str) else len(json.dumps(value))
    return size


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


def kernel_alive(client) -> bool:
    """Whether the kernel behind ``client`` is still running."""
    km = getattr(client, "ag_manager", None)
    return bool(km and km.is_alive())


def kill_kernel(client) -> None:
    """Kill the kernel (and, in the sandbox, everything it started) at once."""
    km = getattr(client, "ag_manager", None)
    if km is not None:
        with contextlib.suppress(Exception):
            km.shutdown_kernel(now=True)


def run_cell(client, source: str, limits: Limits | None = None) -> CellResult:
    """Execute ``source`` in the kernel; never raises for anything the kernel does.

    Enforces ``limits.cell_timeout`` and the notebook deadline set by ``start_kernel``
    (on a cell timeout the kernel is interrupted; if it does not stop within 5 s it is
    killed, and on the notebook deadline it is killed at once; later cells then fail
    at once), and ``limits.max_output_bytes`` over all outputs of the cell (stream
    text, images, HTML, tracebacks): outputs beyond it are dropped and ``truncated``
    is set; a cell that keeps flooding output is interrupted. Processes the cell
    started are killed when it ends. ``CellResult.limit`` names the limit breached.
    """
    limits = limits or getattr(client, "ag_limits", None) or Limits()
    result = CellResult()
    if not kernel_alive(client):
        result.error = "kernel is not running (it died or was stopped earlier)"
        result.kernel_dead = True
        return result
    now = time.monotonic()
    deadline = getattr(client, "ag_deadline", now + limits.notebook_timeout)
    if deadline <= now:
        result.error = f"notebook time limit of {limits.notebook_timeout:g} s reached"
        result.timed_out, result.limit = True, "notebook time"
        kill_kernel(client)
        return result
    cell_deadline = min(now + limits.cell_timeout, deadline)
    notebook_limited = deadline < now + limits.cell_timeout
    try:
        _drain_shell(client)
        msg_id = client.execute(source, store_history=False, allow_stdin=False,
                                stop_on_error=False)
    except Exception as exc:  # noqa: BLE001 - channel closed, kernel gone
        result.error = f"could not send the cell to the kernel: {exc}"
        result.kernel_dead = True
        return result
    interrupted_at = None
    reply: dict | None = None
    reply_at = None
    lost = False
    flood_cap = 16 * limits.max_output_bytes
    next_memory_check = time.monotonic() + 0.5
    at_process_limit = False
    while True:
        now = time.monotonic()
        if now >= next_memory_check:
            # RLIMIT_AS bounds each process; this bounds them all together (a cell
            # that forks could otherwise hold max_processes x memory_bytes)
            next_memory_check = now + 0.5
            at_process_limit = at_process_limit or process_limit_reached(client, limits)
            rss = tree_memory(client)
            if rss > limits.memory_bytes:
                kill_kernel(client)
                result.kernel_dead = True
                result.limit = "memory"
                result.error = (f"the kernel's processes used {_human(rss)} together, over "
                                f"the memory limit of {_human(limits.memory_bytes)}: "
                                "killed")
                break
        if interrupted_at is None and now >= cell_deadline:
            result.timed_out = True
            if notebook_limited:
                result.error = (f"notebook time limit of {limits.notebook_timeout:g} s "
                                "reached")
                result.limit = "notebook time"
                kill_kernel(client)
                result.kernel_dead = True
                break
            result.error = f"cell time limit of {limits.cell_timeout:g} s exceeded"
            result.limit = "time"
            _interrupt(client)
            interrupted_at = now
        if interrupted_at is not None and now - interrupted_at > 5:
            kill_kernel(client)
            result.error = (result.error or "cell interrupted") + \
                "; the kernel ignored the interrupt and was killed"
            result.kernel_dead = True
            break
        cut = _iopub_cut(client)
        if cut and _dies_soon(client):  # its sockets closed as it died: nothing lost
            _died(result, client, limits)
            break
        if cut:
            # a message over MAX_MESSAGE_BYTES: lost with what followed it until now
            result.truncated = True
            result.limit = result.limit or "output"
            result.error = result.error or (
                f"output lost: a single output over {_human(MAX_MESSAGE_BYTES)} was "
                "discarded; cell interrupted")
            _reconnect_iopub(client)
            lost = True
            if interrupted_at is None:
                _interrupt(client)
                interrupted_at = time.monotonic()
        if lost and reply is not None:
            break  # the kernel finished; its "idle" may have been lost with the rest
        if reply_at is not None and now - reply_at > 5:
            # the kernel answered but its "idle" never came: ZeroMQ dropped a message
            # over MAX_MESSAGE_BYTES (and what followed it on the way)
            result.truncated = True
            result.limit = result.limit or "output"
            result.error = result.error or (
                f"output lost: a single output over {_human(MAX_MESSAGE_BYTES)} was "
                "discarded")
            _reconnect_iopub(client)
            break
        try:
            msg = client.get_iopub_msg(timeout=0.25)
        except queue.Empty:
            if not kernel_alive(client):
                _died(result, client, limits)
                break
            if reply is None:
                reply = _find_reply(client, msg_id)
                if reply is not None:
                    reply_at = time.monotonic()
            continue
        except Exception:  # noqa: BLE001 - a bad signature or garbled frames from
            continue  # student code (e.g. a forked kernel): ignore the message
        if not isinstance(msg, dict):
            continue
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        content = msg.get("content") or {}
        if not isinstance(content, dict):
            continue
        if msg_type == "status" and content.get("execution_state") == "idle":
            break
        out = _to_output(msg_type, content)
        if out is None:
            continue
        if msg_type == "error":
            result.ename = str(content.get("ename", ""))[:200]
            result.traceback = [str(x)[:10_000] for x in content.get("traceback", [])
                                if isinstance(x, str)][:200]
            if result.error is None:
                evalue = str(content.get("evalue", ""))
                result.error = _one_line(f"{result.ename}: {evalue}")
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
        if result.output_bytes > flood_cap and interrupted_at is None:
            result.error = (f"output flood: more than {flood_cap} bytes of output; "
                            "cell interrupted")
            _interrupt(client)
            interrupted_at = time.monotonic()
    if result.error is None and not result.kernel_dead:
        # a kernel whose traceback display was patched away still reports the error
        # in its execute_reply
        if reply is None:
            reply = _find_reply(client, msg_id, wait=1.0)
        content = (reply or {}).get("content") or {}
        if isinstance(content, dict) and content.get("status") == "error":
            result.ename = str(content.get("ename", ""))[:200]
            result.error = _one_line(f"{result.ename}: {content.get('evalue', '')}")
    _end_cell(client, result, limits, at_process_limit)
    return result


def _died(result: CellResult, client, limits: Limits) -> None:
    result.kernel_dead, result.error = True, result.error or _death_reason(client, limits)
    result.limit = result.limit or "memory or processes"


def _end_cell(client, result: CellResult, limits: Limits, at_process_limit: bool) -> None:
    """Kill what the cell left running; name the limit it breached. A fork bomb is
    the process limit whether the kernel's own fork failed or only its children's."""
    if kernel_alive(client):
        at_process_limit = at_process_limit or process_limit_reached(client, limits, 1.0)
        _clean_up_processes(client)
    if at_process_limit and result.limit is None:
        result.limit = "processes"
        result.error = (f"the cell's processes reached the process limit of "
                        f"{limits.max_processes}: they were killed")
    _classify(result, limits)


def run_instructor_cell(client, source: str, limits: Limits | None = None) -> CellResult:
    """Run an instructor's set-up cell under ``limits.setup_timeout`` alone, off the
    student's notebook time (a busy machine slows ``import tensorflow`` down)."""
    limits = limits or getattr(client, "ag_limits", None) or Limits()
    started = time.monotonic()
    saved = getattr(client, "ag_deadline", started + limits.notebook_timeout)
    client.ag_deadline = started + limits.setup_timeout
    try:
        return run_cell(client, source, replace(limits, cell_timeout=limits.setup_timeout))
    finally:
        client.ag_deadline = saved + (time.monotonic() - started)


def _uid_tasks(client) -> int:
    """Tasks (threads included) of the kernel's own user id: what RLIMIT_NPROC counts."""
    uid, root = getattr(client, "ag_uid", None), _launcher_pid(client)
    total = 0
    for pid in _descendants(root) if uid is not None and root is not None else ():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            total += int(fields["Threads"]) if int(fields["Uid"].split()[0]) == uid else 0
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return total


def process_limit_reached(client, limits: Limits, patience: float = 0.0) -> bool:
    """Whether the kernel's uid holds (nearly) all the tasks RLIMIT_NPROC allows, now or
    within ``patience`` s while the cell's processes live (a fork bomb still growing)."""
    root, keep = _launcher_pid(client), getattr(client, "ag_kernel_pids", set())
    end = time.monotonic() + patience
    while getattr(client, "ag_uid", None) is not None and root is not None:
        if _uid_tasks(client) >= limits.effective_max_processes() - 1:
            return True
        if time.monotonic() >= end or not _descendants(root) - keep:
            break
        time.sleep(0.05)
    return False


def _clean_up_processes(client, patience: float = 3.0) -> None:
    """Kill what the cell left running, and make the kernel reap it, until only the
    kernel is left (or ``patience`` seconds pass)."""
    end = time.monotonic() + patience
    while kill_strays(client):
        _reap(client)
        if time.monotonic() > end:
            break
        time.sleep(0.05)


_REAPER = """import os as _ag_os
try:
    while _ag_os.waitpid(-1, _ag_os.WNOHANG)[0]:
        pass
except ChildProcessError:
    pass
del _ag_os"""


def _reap(client) -> None:
    """Have the kernel collect its killed children: zombies still count against the
    process limit, and later cells (TensorFlow's threads) need that room."""
    with contextlib.suppress(Exception):
        msg_id = client.execute(_REAPER, silent=True, store_history=False,
                                allow_stdin=False)
        _find_reply(client, msg_id, wait=5.0)


def _classify(result: CellResult, limits: Limits) -> None:
    """Name the limit behind an error the kernel raised itself."""
    if result.limit or not result.error:
        return
    if result.ename == "MemoryError":
        result.limit = "memory"
        result.error = (f"MemoryError: the kernel hit the memory limit of "
                        f"{_human(limits.memory_bytes)}")
    elif "[Errno 11]" in result.error and result.ename in (
            "BlockingIOError", "OSError", "RuntimeError"):
        result.limit = "processes"
        result.error = (f"{result.error} (the process limit of "
                        f"{limits.max_processes} was reached)")
    elif "[Errno 27]" in result.error:  # EFBIG from RLIMIT_FSIZE
        result.limit = "file size"
        result.error = (f"{result.error} (files are limited to "
                        f"{_human(limits.max_file_bytes)})")


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _human(n: int) -> str:
    return f"{n / GIB:.3g} GiB" if n >= GIB else f"{n / MIB:.3g} MiB"


def _descendants(root: int) -> set[int]:
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


def tree_memory(client) -> int:
    """Memory of the kernel and everything it started, in bytes, once it started
    anything (0 before: one process is bounded by RLIMIT_AS already).

    Proportional set size: pages a fork shares with its parent count once, split
    between them, so a fork bomb is not mistaken for a memory bomb.
    """
    root = _launcher_pid(client)
    if root is None:
        return 0
    pids = _descendants(root)
    if not pids - getattr(client, "ag_kernel_pids", set()):
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


def _launcher_pid(client) -> int | None:
    km = getattr(client, "ag_manager", None)
    process = getattr(getattr(km, "provisioner", None), "process", None)
    return getattr(process, "pid", None)


def kill_strays(client) -> int:
    """Kill every process the kernel started (forks, subprocesses); keep the kernel.

    A cell's processes do not outlive it: this stops a fork bomb's survivors from
    burning CPU while later cells (and other submissions) run. In the sandbox,
    orphans stay below bubblewrap's init and are found too; unsandboxed, an orphan
    that left the kernel's process tree escapes. Returns how many were killed.
    """
    import signal

    root = _launcher_pid(client)
    if root is None:
        return 0
    keep = getattr(client, "ag_kernel_pids", set())
    found: set[int] = set()
    for _ in range(100):
        strays = _descendants(root) - keep - found
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


def _watch_iopub(client) -> None:
    """Watch the IOPub connection: ZeroMQ cuts it when a message is over
    MAX_MESSAGE_BYTES, and does not reconnect by itself."""
    import zmq

    client.ag_iopub_monitor = client.iopub_channel.socket.get_monitor_socket(
        zmq.EVENT_DISCONNECTED)


def _iopub_cut(client) -> bool:
    """Whether the IOPub connection was cut since the last look."""
    import zmq

    monitor = getattr(client, "ag_iopub_monitor", None)
    cut = False
    while monitor is not None:
        try:
            monitor.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            break
        except zmq.ZMQError:
            break
        cut = True
    return cut


def _dies_soon(client, patience: float = 0.5) -> bool:
    """After the IOPub connection was cut: whether the kernel is dying (its sockets
    closed with it: no message was lost), rather than alive after an oversized one."""
    end = time.monotonic() + patience
    while kernel_alive(client) and time.monotonic() < end:
        time.sleep(0.05)
    return not kernel_alive(client)


def _reconnect_iopub(client) -> None:
    """Open a fresh IOPub connection for what follows (the old one was cut)."""
    with contextlib.suppress(Exception):
        client.iopub_channel.socket.disable_monitor()
    with contextlib.suppress(Exception):
        client.ag_iopub_monitor.close(linger=0)
    with contextlib.suppress(Exception):
        client.iopub_channel.close()
    client._iopub_channel = None
    with contextlib.suppress(Exception):
        client.iopub_channel.start()
        _watch_iopub(client)
    time.sleep(0.2)  # let the subscription reach the kernel


def _interrupt(client) -> None:
    km = getattr(client, "ag_manager", None)
    if km is not None:
        with contextlib.suppress(Exception):
            km.interrupt_kernel()


def _death_reason(client, limits: Limits) -> str:
    return (f"the kernel died while running the cell (memory limit "
            f"{_human(limits.memory_bytes)}, process limit {limits.max_processes}, "
            "or a crash)")
