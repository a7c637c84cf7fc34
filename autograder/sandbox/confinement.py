"""Where the kernel runs: whether bubblewrap works here (``probe_bwrap``), and the command
that starts the kernel inside it (file system, namespaces, environment, rlimits, user id)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import autograder.sandbox.kernel_entry as kernel_entry
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

#: Where the sandbox shows the virtual environment and an editable install's course
#: package: both usually live in the repository, whose path no kernel is to see.
SANDBOX_VENV = "/opt/venv"
SANDBOX_COURSE = "/opt/course-package"


def _python_roots() -> list[tuple[str, str]]:
    """Read-only folders the kernel's Python needs, as (host path, path in the sandbox):
    the Python installation at its own path, the virtual environment at
    ``SANDBOX_VENV``, an editable course package at ``SANDBOX_COURSE``/course."""
    moved: dict[str, str] = {}
    if sys.prefix != sys.base_prefix:
        moved[os.path.realpath(sys.prefix)] = SANDBOX_VENV
    stay = {os.path.realpath(sys.base_prefix),
            os.path.dirname(os.path.realpath(sys.executable))}
    executable_dir = os.path.realpath(os.path.dirname(sys.executable))
    if not _below(executable_dir, moved):
        stay.add(executable_dir)
    try:  # editable install: the course package lives in the repository; bind it alone
        import course

        folder = os.path.realpath(os.path.dirname(course.__file__))
        if not _below(folder, moved):
            moved[folder] = f"{SANDBOX_COURSE}/course"
    except ImportError:
        pass
    # keep only outermost folders, never / or a folder that holds the course's secrets
    out: list[str] = []
    for root in sorted(stay, key=len):
        if root in ("/", "") or _below(root, out):
            continue
        if root.startswith("/usr/") or root == "/usr":
            continue  # already bound as a whole
        out.append(root)
    roots = [(root, root) for root in out]
    roots += [(host, inside) for host, inside in moved.items() if not _below(host, out)]
    for secret in _protected_paths():
        for host, _ in roots:
            if _below(secret, [host]):
                raise RuntimeError(f"refusing to expose {host} to student code: it "
                                   f"contains {secret}")
    return roots


def _below(path: str, folders) -> bool:
    """Whether ``path`` is one of ``folders`` or inside one."""
    return any(path == folder or path.startswith(folder.rstrip("/") + "/")
               for folder in folders)


def sandbox_python() -> str:
    """``sys.executable`` where the sandbox shows it."""
    for path in (os.path.abspath(sys.executable), os.path.realpath(sys.executable)):
        for host, inside in _python_roots():
            if _below(path, [host]):
                return inside + path[len(host):]
    return sys.executable


def _moved_roots() -> list[str]:
    """The sandbox's paths of the folders bound away from their host path."""
    return [inside for host, inside in _python_roots() if host != inside]


def _protected_paths() -> list[str]:
    """Folders student code must never see (used as a safety check on the binds)."""
    here = Path(__file__).resolve().parent.parent  # autograder/
    repo = here.parent
    return [str(repo / "solutions"), str(here / "references"), str(here)]


def _bwrap_ns_args() -> list[str]:
    return ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent"]


def _bwrap_fs_args(python_roots: list[tuple[str, str]]) -> list[str]:
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
    for host, inside in python_roots:
        args += _parent_dirs(inside, made)
        args += ["--ro-bind", host, inside]
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


def _kernel_env(home: str, sandboxed: bool, extra: dict[str, str] | None
                ) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k in ENV_PASSTHROUGH or k.startswith(ENV_PASSTHROUGH_PREFIXES)}
    bindir = os.path.dirname(sandbox_python() if sandboxed else sys.executable)
    if sandboxed and f"{SANDBOX_COURSE}/course" in _moved_roots():
        env["PYTHONPATH"] = SANDBOX_COURSE  # the editable install's path is the host's
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


def rlimits(limits: Limits, sandboxed_uid: bool) -> dict[str, int]:
    r = {"RLIMIT_AS": int(limits.memory_bytes), "RLIMIT_FSIZE": int(limits.max_file_bytes),
         "RLIMIT_CORE": 0}
    if sandboxed_uid:
        # RLIMIT_NPROC counts all processes of the uid: only meaningful with a private uid
        r["RLIMIT_NPROC"] = limits.effective_max_processes()
    return r


#: The one program every kernel runs first (kernel_entry.py): its folders, its drop.
ENTRY = Path(__file__).with_name("kernel_entry.py")
#: Where a sandboxed kernel sees its runtime folder (connection file and sockets).
KERNEL_RUN = "/run/kernel"


def kernel_request(limits: Limits, uid: int | None, conn: str, work: str,
                   hide: list[str]) -> dict:
    """kernel_entry.py's request: the kernel's folders, limits and uid."""
    return {"uid": uid, "rlimits": rlimits(limits, uid is not None), "conn": conn,
            "work": work, "hide": hide, "writable_bytes": int(limits.writable_bytes),
            "max_files": int(limits.max_files), "anonymous": _moved_roots()}


def kernel_command(limits: Limits, sandboxed: bool, uid: int | None, runtime: str,
                   workdir: Path) -> list[str]:
    """The kernel's launch command: kernel_entry.py, in bubblewrap when ``sandboxed``.
    As root (``uid``), the kernel copies ``workdir`` (bound read-only at /run/work)
    into a tmpfs of its own; otherwise ``workdir`` is bound at /submission."""
    if not sandboxed:
        request = kernel_request(limits, None, os.path.join(runtime, "kernel.json"),
                                 str(workdir), [])
        return [sys.executable, "-c", ENTRY.read_text(), json.dumps(request)]
    request = kernel_request(limits, uid, f"{KERNEL_RUN}/kernel.json", "/run/work",
                             ["/run/work"])
    # The private /tmp comes first: a Python installation that lives under /tmp is
    # bound on top of it, not hidden by it.
    argv = [shutil.which("bwrap"),
            "--size", str(int(limits.writable_bytes)), "--perms", "1777", "--tmpfs", "/tmp",
            *_bwrap_fs_args(_python_roots()),
            "--proc", "/proc", "--dev", "/dev",
            "--perms", "0755", "--dir", "/run", "--bind", runtime, KERNEL_RUN]
    if uid is None:  # no mounts of its own: the folder itself, writable
        argv += ["--bind", str(workdir), SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR]
    else:
        argv += ["--ro-bind", str(workdir), "/run/work", "--perms", "0755", "--dir",
                 SANDBOX_WORKDIR, "--perms", "0755", "--dir", kernel_entry.STAGE,
                 "--chdir", "/", "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETUID",
                 "--cap-add", "CAP_SETGID"]
    return argv + [*_bwrap_ns_args(), "--hostname", "sandbox", "--unsetenv",
                   "JPY_PARENT_PID", "--", sandbox_python(), "-c", ENTRY.read_text(),
                   json.dumps(request)]


def kernel_connection_file(host_file: str, owner: int | None, sandboxed: bool) -> str:
    """The kernel's copy of the connection file the grader wrote, beside it, naming the
    sockets where the kernel sees them (``KERNEL_RUN`` in the sandbox); readable by
    the kernel's ``owner`` alone. Returns its path on the host."""
    info = json.loads(Path(host_file).read_text())
    if sandboxed:
        info["ip"] = f"{KERNEL_RUN}/{os.path.basename(info['ip'])}"
    copy = os.path.join(os.path.dirname(host_file), "kernel.json")
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh)
    if owner is not None:
        os.chown(copy, owner, owner)
    return copy


def lock_folder(path: str) -> None:
    """A kernel's runtime folder once its sockets are made: root's and read-only for the
    kernel, which can then add nothing there (a file on the host's disk, or a symbolic
    link in place of a socket, which the grader would follow when it reconnects)."""
    os.chown(path, 0, 0)
    os.chmod(path, 0o755)


def zygote_command(spool: str, program: str, args: str) -> list[str]:
    """The zygote's launch command (zygote.py): the kernel's sandbox, with the worker's
    slot folder at ``/spool`` in place of one submission, and the capabilities the
    zygote needs to give each kernel its own mounts and uid (each kernel loses them)."""
    return [shutil.which("bwrap"), "--perms", "1777", "--tmpfs", "/tmp",
            *_bwrap_fs_args(_python_roots()), "--proc", "/proc", "--dev", "/dev",
            "--bind", spool, "/spool", "--perms", "0755", "--dir", SANDBOX_WORKDIR,
            "--perms", "0755", "--dir", "/run", "--perms", "0755", "--dir", KERNEL_RUN,
            "--perms", "0755", "--dir", kernel_entry.STAGE,
            "--chdir", "/", *_bwrap_ns_args(), "--hostname", "sandbox",
            "--unsetenv", "JPY_PARENT_PID", "--cap-add", "CAP_SYS_ADMIN",
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            "--", sandbox_python(), "-c", program, args]


def kernel_env(sandboxed: bool, workdir: Path, runtime: str,
               extra: dict[str, str] | None) -> dict[str, str]:
    env = _kernel_env(SANDBOX_WORKDIR if sandboxed else str(workdir), sandboxed, extra)
    env["TMPDIR"] = "/tmp" if sandboxed else runtime
    return env
