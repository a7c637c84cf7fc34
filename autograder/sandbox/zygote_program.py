"""The zygote: the program that runs INSIDE the sandbox (zygote.py starts it there with
``python -c`` and this file's text; it imports nothing from ``autograder``, which the
sandbox does not show).

It imports the modules its argument names (what the assignments' set-up cells import,
and ipykernel) without running a TensorFlow op, then reads one JSON request a line on
stdin and answers one JSON line on the protocol channel. For each request
(``{"slot", "uid", "env", "rlimits", "tmp_bytes"}``) it forks a *launcher* that:

1. leaves every namespace it can share: new mount, PID, IPC, network and UTS ones;
2. mounts the submission's own folders (``/spool/<slot>/work`` at ``/submission``,
   ``/spool/<slot>/run`` at ``/run/kernel``), detaches ``/spool`` (no other slot is
   visible), and mounts fresh tmpfs on ``/tmp`` and ``/dev/shm`` (read-only for the
   kernel's uid, as bubblewrap's ``/dev/shm`` is for a fresh kernel);
3. forks the namespace's init (PID 1: mounts its own ``/proc``, drops to uid 65534,
   reaps; when it dies the kernel kills every process of the namespace), which forks
   the kernel: rlimits, then the submission's own unprivileged uid (no capability
   left), a clean environment, cwd ``/submission``, new random seeds, and ipykernel's
   ``IPKernelApp`` in-process with the connection file the grader wrote.

The zygote itself is root in the sandbox (it needs CAP_SYS_ADMIN for the mounts): a
kernel, under another uid and in another PID namespace, can neither see, signal,
trace nor read its memory.
"""

import ctypes
import importlib
import json
import os
import signal
import sys
import time

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_BIND, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 4096, 16384, 1 << 18, 2, 4
MS_RDONLY, MS_REMOUNT = 1, 32
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
INIT_UID = 65534  # the namespace's init: not root, not the kernel's uid
LIBC = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target: str, fstype, flags: int, data=None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(LIBC.mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
           f"mount {target}")


def preload(modules: list) -> dict:
    """Import ``modules``; returns {module: error} for those that failed."""
    failed = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - the child imports it again, and fails there
            failed[name] = f"{type(exc).__name__}: {exc}"
    return failed


def private_folders(slot: str, tmp_bytes: int) -> None:
    """The launcher's mounts (it is in its own mount namespace already)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount(f"/spool/{slot}/work", "/submission", None, MS_BIND | MS_REC)
    _mount(f"/spool/{slot}/run", "/run/kernel", None, MS_BIND | MS_REC)
    _check(LIBC.umount2(b"/spool", MNT_DETACH), "umount /spool")
    # Python's folders that live under /tmp (a checkout or venv there: a CI clone) are
    # bound into the sandbox below /tmp: keep a handle on each, then bind them back
    # (read-only) into the fresh /tmp, as bubblewrap does for a fresh kernel.
    kept = {path: os.open(path, os.O_PATH) for path in _mounts_below("/tmp/")}
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(tmp_bytes)},mode=1777")
    for path, fd in sorted(kept.items()):
        _make_dirs(path)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        os.close(fd)
    # as in a fresh kernel's sandbox (bubblewrap's /dev): there, but not writable
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")


def _mounts_below(prefix: str) -> list:
    """Mount points under ``prefix`` (outermost first), from this mount namespace."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix) and not any(
                    point.startswith(p.rstrip("/") + "/") for p in points):
                points.append(point)
    return points


def _make_dirs(path: str) -> None:
    """``path`` and its missing parents, traversable by the kernel's uid."""
    parts = path.strip("/").split("/")
    for i in range(1, len(parts) + 1):
        folder = "/" + "/".join(parts[:i])
        if not os.path.isdir(folder):
            os.mkdir(folder)
            os.chmod(folder, 0o755)


def become_kernel(request: dict) -> None:
    """In the kernel's process: limits, uid, environment, then ipykernel (never returns)."""
    import resource

    os.setsid()  # its own process group: ipykernel's interrupt signals the group
    for name, value in request["rlimits"].items():
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError) as exc:
            print("rlimit", name, exc, file=sys.stderr)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    uid = request["uid"]
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)  # from root to another uid: every capability is gone
    # setuid made it undumpable (its /proc files root's); a fresh kernel's exec undoes it
    LIBC.prctl(PR_SET_DUMPABLE, 1)
    os.umask(0o077)
    os.chdir("/submission")
    os.environ.clear()
    os.environ.update(request["env"])
    _fresh_state()
    sys.argv = ["ipykernel_launcher", "-f", "/run/kernel/kernel.json",
                "--HistoryManager.enabled=False"]
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])
    app.start()
    os._exit(0)


def _fresh_state() -> None:
    """What a fresh interpreter would not share with its siblings: random seeds, the
    import path's first entry (python -m puts the cwd there), the importers' caches."""
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    sys.path.insert(0, "/submission")
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


def run_init(request: dict) -> None:
    """PID 1 of the kernel's namespace: /proc, then the kernel, then reap (never returns)."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    kernel = os.fork()
    if kernel == 0:
        try:
            become_kernel(request)
        finally:
            os._exit(70)
    os.setgroups([])
    os.setgid(INIT_UID)
    os.setuid(INIT_UID)
    # dies with its launcher (set after setuid, which clears it); the grader kills both
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == kernel:
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def run_launcher(request: dict) -> None:
    """The forked child: namespaces and mounts, then the init (never returns)."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(f"/spool/{request['slot']}/run/kernel.log",
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1 << 16)  # the zygote's protocol channel above all
        _check(LIBC.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET
                            | CLONE_NEWUTS), "unshare")
        private_folders(request["slot"], request["tmp_bytes"])
        LIBC.sethostname(b"sandbox", 7)
        init = os.fork()
        if init == 0:
            run_init(request)
        _, status = os.waitpid(init, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    except BaseException as exc:  # noqa: BLE001 - say why in the kernel's log
        print(f"zygote launcher: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        os._exit(71)


def serve(channel) -> None:
    """Fork one launcher per request line until end of input."""
    for line in sys.stdin:
        try:
            request = json.loads(line)
            pid = os.fork()
        except (ValueError, OSError) as exc:
            channel.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
            continue
        if pid == 0:
            run_launcher(request)
        channel.write(json.dumps({"pid": pid}) + "\n")


def main() -> None:
    args = json.loads(sys.argv[1])
    # the protocol channel is a copy of stdout; stdout itself goes to the log
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # launchers are reaped at once
    started = time.monotonic()
    failed = preload(args["modules"])
    channel.write(json.dumps({
        "ready": True, "seconds": round(time.monotonic() - started, 3), "failed": failed,
        "threads": len(os.listdir("/proc/self/task"))}) + "\n")
    serve(channel)


if __name__ == "__main__":
    main()
