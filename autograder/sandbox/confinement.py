"""Where the kernel runs: whether bubblewrap works here (``probe_bwrap``), and the command
that starts the kernel inside it (file system, namespaces, environment, rlimits, user id)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from autograder.sandbox.limits import Limits

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

#: A few /etc files a Python kernel needs; the rest of /etc stays hidden.
ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/etc/nsswitch.conf", "/etc/host.conf", "/etc/hosts", "/etc/mime.types",
    "/etc/fonts", "/etc/matplotlibrc",
)


def probe_bwrap() -> tuple[bool, str]:
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
    here = Path(__file__).resolve().parent.parent  # autograder/
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
_uid_lock = threading.Lock()


def pick_uid() -> int:
    """An unprivileged uid for one kernel, distinct per concurrent kernel.

    RLIMIT_NPROC counts every task of a real uid, so parallel kernels must not share
    one; uids 200000-299999 are far from the system's and users' ids.
    """
    global _uid_counter
    with _uid_lock:
        _uid_counter += 1
        n = _uid_counter
    return 200000 + (os.getpid() * 64 + n) % 100000


def rlimits(limits: Limits, sandboxed_uid: bool) -> dict[str, int]:
    r = {"RLIMIT_AS": int(limits.memory_bytes), "RLIMIT_FSIZE": int(limits.max_file_bytes),
         "RLIMIT_CORE": 0}
    if sandboxed_uid:
        # RLIMIT_NPROC counts all processes of the uid: only meaningful with a private uid
        r["RLIMIT_NPROC"] = limits.effective_max_processes()
    return r


def kernel_command(limits: Limits, sandboxed: bool, uid: int | None, runtime: str,
                   workdir: Path) -> list[str]:
    """The kernel's launch command; jupyter_client fills in ``{connection_file}``."""
    wrapper_args = {"conn": "{connection_file}", "rlimits": rlimits(limits, uid is not None),
                    "uid": uid, "gid": uid}
    inner = [sys.executable, "-c", _WRAPPER, json.dumps(wrapper_args)]
    if not sandboxed:
        return inner
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
    return argv + ["--", *inner]


def zygote_command(spool: str, program: str, args: str) -> list[str]:
    """The zygote's launch command (zygote.py): the kernel's sandbox, with the worker's
    slot folder at ``/spool`` in place of one submission, and the capabilities the
    zygote needs to give each kernel its own mounts and uid (each kernel loses them)."""
    return [shutil.which("bwrap"), "--perms", "1777", "--tmpfs", "/tmp",
            *_bwrap_fs_args(_python_roots()), "--proc", "/proc", "--dev", "/dev",
            "--bind", spool, "/spool", "--perms", "0755", "--dir", SANDBOX_WORKDIR,
            "--perms", "0755", "--dir", "/run", "--perms", "0755", "--dir", "/run/kernel",
            "--chdir", "/", *_bwrap_ns_args(), "--hostname", "sandbox",
            "--unsetenv", "JPY_PARENT_PID", "--cap-add", "CAP_SYS_ADMIN",
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            "--", sys.executable, "-c", program, args]


def kernel_env(sandboxed: bool, workdir: Path, runtime: str,
               extra: dict[str, str] | None) -> dict[str, str]:
    env = _kernel_env(SANDBOX_WORKDIR if sandboxed else str(workdir), extra)
    env["TMPDIR"] = "/tmp" if sandboxed else runtime
    return env
