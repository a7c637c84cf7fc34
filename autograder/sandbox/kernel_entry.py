"""The one program every graded kernel's process runs first, in its sandbox and as
root there: the kernel's own writable folders, then the one privilege drop.

A fresh kernel runs this file's text (``python -c TEXT REQUEST``, confinement.py) and
then becomes ipykernel; the zygote loads the same text as a module and calls the same
two functions in every kernel it forks (zygote_program.py). It imports nothing from
``autograder``, which the sandbox does not show. The request (JSON) holds:

* ``uid``: the kernel's own user and group id; None when the grader is not root (the
  kernel then keeps the grader's, and bubblewrap's folders: no ``private_folders``);
* ``work``: the folder with the submission's files, copied into the kernel's memory at
  /submission; ``hide``: mounts to remove once copied (the host's folders);
* ``writable_bytes``, ``max_files``: the size and the inode limit of that memory: one
  tmpfs holds /submission and /tmp, so what the kernel writes, and how many files and
  folders it makes (each costs the host about 1 KB of kernel memory outside every
  rlimit), is bounded in all;
* ``anonymous``: read-only binds of host folders (the virtual environment) to show
  as overlays whose layers are named by file descriptors: in /proc/self/mountinfo a
  bind shows its folder's path on the host, an overlay does not;
* ``rlimits``: {"RLIMIT_AS": bytes, ...};
* ``conn``: the connection file (a fresh kernel's ipykernel reads it).
"""

import ctypes
import json
import os
import platform
import resource
import shutil
import signal
import struct
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 4096, 8192, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 4, 22, 38
SECCOMP_MODE_FILTER = 2
KEYCTL_JOIN_SESSION_KEYRING = 1
#: where the kernel's tmpfs is made before /tmp and /submission are bound from it
STAGE = "/run/writable"
#: the tmpfs's own root and its tmp/ and submission/ folders are inodes too
OWN_INODES = 3
#: per architecture: the audit arch seccomp reports, then add_key, request_key, keyctl
KEYRING_SYSCALLS = {
    "x86_64": (0xC000003E, (248, 249, 250)),
    "aarch64": (0xC00000B7, (217, 218, 219)),
}
LIBC = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source, target: str, fstype, flags: int, data=None) -> None:
    def encode(text):
        return None if text is None else text.encode()

    check(LIBC.mount(encode(source), encode(target), encode(fstype), flags,
                     encode(data)), f"mount {target}")


def unmount(target: str) -> None:
    check(LIBC.umount2(target.encode(), MNT_DETACH), f"umount {target}")


# ---------------------------------------------------------------------- folders
def private_folders(request: dict) -> None:
    """/submission (a copy of ``work``) and /tmp on one tmpfs of the kernel's own, with
    its size and inode limits; a read-only /dev/shm; ``hide`` unmounted. Needs
    CAP_SYS_ADMIN in the process's own mount namespace."""
    uid = request["uid"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    anonymous(request["anonymous"])
    inodes = int(request["max_files"]) + OWN_INODES
    mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={int(request['writable_bytes'])},nr_inodes={inodes},mode=0755")
    tmp, home = f"{STAGE}/tmp", f"{STAGE}/submission"
    os.mkdir(tmp)
    os.chmod(tmp, 0o1777)
    shutil.copytree(request["work"], home, symlinks=True)
    os.chmod(home, 0o700)
    _give(home, uid)
    for point in request["hide"]:
        unmount(point)
    _bind_tmp(tmp)
    mount(home, "/submission", None, MS_BIND)
    unmount(STAGE)
    # as bubblewrap's /dev/shm for an unprivileged grader: there, not writable
    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
          "size=64k,nr_inodes=16,mode=0755")
    os.chdir("/submission")
    os.environ["PWD"] = "/submission"  # as bubblewrap's --chdir would say


def anonymous(points: list) -> None:
    """Each bind in ``points`` replaced by a read-only overlay of the same folder, its
    layers named ``/proc/self/fd/N`` (the bind, and an empty folder: an overlay needs
    two layers without an upper one)."""
    if not points:
        return
    mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,nr_inodes=16,mode=0700")
    os.mkdir(f"{STAGE}/empty")
    empty = os.open(f"{STAGE}/empty", os.O_PATH | os.O_DIRECTORY)
    for number, point in enumerate(points):
        layer = os.open(point, os.O_PATH | os.O_DIRECTORY)
        staged = f"{STAGE}/{number}"
        os.mkdir(staged)
        mount("overlay", staged, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV,
              f"lowerdir=/proc/self/fd/{layer}:/proc/self/fd/{empty}")
        os.close(layer)
        unmount(point)  # the bind: the overlay holds on to it
        mount(staged, point, None, MS_MOVE)
    os.close(empty)
    unmount(STAGE)


def _give(root: str, uid: int) -> None:
    os.chown(root, uid, uid)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


def _bind_tmp(tmp: str) -> None:
    """``tmp`` at /tmp. A Python installation that lives under /tmp is bound in the
    sandbox below /tmp: keep a handle on each such bind, then bind it back, read-only,
    on top."""
    kept = {path: os.open(path, os.O_PATH) for path in _mounts_below("/tmp/")}
    mount(tmp, "/tmp", None, MS_BIND)
    for path, fd in sorted(kept.items()):
        _make_dirs(path)
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)


def _mounts_below(prefix: str) -> list:
    """Mount points under ``prefix`` (outermost first), in this mount namespace."""
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


# ---------------------------------------------------------------------- the drop
def drop_privileges(request: dict) -> None:
    """Limits, then the kernel's own uid: what both kinds of kernel run, in this order."""
    try:
        os.setsid()  # a session of its own: no terminal, and interrupts reach its group
    except OSError:
        pass  # already a session leader
    for name, value in request["rlimits"].items():
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError) as exc:
            print("rlimit", name, exc, file=sys.stderr)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past RLIMIT_FSIZE: EFBIG
    if sys.platform.startswith("linux"):
        # a session keyring of its own, empty (not the grader's, which it would
        # possess), then no keyring system call at all
        LIBC.syscall(_keyctl_number(), KEYCTL_JOIN_SESSION_KEYRING, None)
        refuse_keyrings()
    uid = request["uid"]
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # from root to another uid: every capability is gone
        # setuid made it undumpable (its /proc files root's); an exec would undo it
        LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    os.umask(0o077)


def _keyctl_number() -> int:
    return KEYRING_SYSCALLS.get(platform.machine(), (0, (-1, -1, -1)))[1][2]


def keyring_filter() -> bytes | None:
    """A seccomp program (classic BPF) that refuses add_key, request_key and keyctl with
    EPERM, and every system call of another architecture's ABI (x32, i386); None on a
    machine whose numbers this file does not know."""
    if platform.machine() not in KEYRING_SYSCALLS:
        return None
    arch, numbers = KEYRING_SYSCALLS[platform.machine()]
    load, equal, at_least, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, JEQ, JGE, RET
    allow, refuse = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, _ERRNO | EPERM

    def op(code, k, jump_true=0, jump_false=0):
        return struct.pack("HBBI", code, jump_true, jump_false, k)

    count = len(numbers)
    program = [op(load, 4), op(equal, arch, 1, 0), op(ret, refuse), op(load, 0),
               op(at_least, 0x40000000, count + 1, 0)]  # x32's numbers
    program += [op(equal, nr, count - i, 0) for i, nr in enumerate(numbers)]
    return b"".join(program + [op(ret, allow), op(ret, refuse)])


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def refuse_keyrings() -> None:
    """Install ``keyring_filter`` on this process and all it starts (for good)."""
    program = keyring_filter()
    if program is None:
        print(f"no keyring filter for {platform.machine()}", file=sys.stderr)
        return
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    check(LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
          "seccomp")


def main() -> None:
    """A fresh kernel: folders (as root), the drop, then ipykernel."""
    request = json.loads(sys.argv[1])
    if request["uid"] is not None:
        private_folders(request)
    drop_privileges(request)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f",
                              request["conn"], "--HistoryManager.enabled=False"])


if __name__ == "__main__":
    main()
