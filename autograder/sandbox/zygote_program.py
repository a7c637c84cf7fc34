"""The zygote: the program that runs INSIDE the sandbox (zygote.py starts it there with
``python -c`` and this file's text; it imports nothing from ``autograder``, which the
sandbox does not show; kernel_entry.py's text comes in its argument).

It imports the modules its argument names (what the assignments' set-up cells import,
and ipykernel) without running a TensorFlow op, then reads one JSON request a line on
stdin and answers one JSON line on the protocol channel. For each request
(kernel_entry.py's, plus ``"slot"``, ``"env"`` and ``"connection"``) it forks a
*launcher* that:

1. leaves every namespace it can share: new mount, PID, IPC, network and UTS ones;
2. makes the kernel's folders as a fresh kernel does (kernel_entry.private_folders: a
   copy of ``/spool/<slot>/work`` at /submission and /tmp on one tmpfs with size and
   inode limits, /dev/shm read-only), with ``/spool`` detached (no slot is visible,
   nor the folder's place on the host), and a small tmpfs at ``/run/kernel`` holding
   the connection file (the grader reaches its sockets through the launcher's root);
3. forks the namespace's init (PID 1: mounts its own ``/proc``, drops to uid 65534,
   reaps; when it dies the kernel kills every process of the namespace), which forks
   the kernel: kernel_entry.drop_privileges (rlimits, no keyrings, the submission's own
   unprivileged uid: no capability left), a clean environment, cwd ``/submission``,
   new random seeds, and ipykernel's ``IPKernelApp`` in-process.

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
import types

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV = 2, 4
PR_SET_PDEATHSIG = 1
INIT_UID = 65534  # the namespace's init: not root, not the kernel's uid
LIBC = ctypes.CDLL(None, use_errno=True)
#: kernel_entry.py, loaded by main() from the text in the zygote's argument
entry = None


def preload(modules: list) -> dict:
    """Import ``modules``; returns {module: error} for those that failed."""
    failed = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - the child imports it again, and fails there
            failed[name] = f"{type(exc).__name__}: {exc}"
    return failed


def load_entry(text: str):
    """kernel_entry.py's text as a module (the sandbox shows no file of the grader)."""
    module = types.ModuleType("kernel_entry")
    exec(compile(text, "kernel_entry.py", "exec"), module.__dict__)  # noqa: S102 - our own text
    return module


def run_folder(request: dict) -> None:
    """/run/kernel: a small tmpfs of the kernel's, holding its connection file; its
    sockets go there too (ipykernel makes them; the grader then locks the folder)."""
    uid = request["uid"]
    entry.mount("tmpfs", "/run/kernel", "tmpfs", MS_NOSUID | MS_NODEV,
                f"size=64k,nr_inodes=16,mode=0700,uid={uid},gid={uid}")
    path = "/run/kernel/kernel.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(request["connection"], fh)
    os.chown(path, uid, uid)


def become_kernel(request: dict) -> None:
    """In the kernel's process: the drop, environment, then ipykernel (never returns)."""
    entry.drop_privileges(request)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir("/submission")
    os.environ.clear()
    os.environ.update(request["env"])
    _fresh_state()
    sys.argv = ["ipykernel_launcher", "-f", request["conn"], "--HistoryManager.enabled=False"]
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
    entry.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
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
        entry.check(LIBC.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET
                                 | CLONE_NEWUTS), "unshare")
        entry.private_folders(dict(request, work=f"/spool/{request['slot']}/work",
                                   hide=["/spool"]))
        run_folder(request)
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
    global entry
    args = json.loads(sys.argv[1])
    entry = load_entry(args["entry"])
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
