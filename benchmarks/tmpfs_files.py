"""What an empty file in a tmpfs costs the host: kernel memory (slab), outside every
rlimit of the process that makes it. The reason a kernel's /submission and /tmp have a
file count limit (``Limits.max_files``, book/instructor/security.md).

    python benchmarks/tmpfs_files.py [--files 200000] [--repeats 3]

Linux only. As root it makes a tmpfs of its own in a private mount namespace; otherwise
it writes into a temporary folder of /dev/shm (a tmpfs on most systems). Each repeat
creates ``--files`` empty files and prints the growth of the ``Slab`` line of
/proc/meminfo per file; other work on the machine moves that line too, so compare
repeats (and the load average, printed beside them).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import tempfile

CLONE_NEWNS, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 0x00020000, 16384, 1 << 18, 2, 4


def slab_bytes() -> int:
    with open("/proc/meminfo") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    return int(fields["Slab"].split()[0]) * 1024


def scratch_tmpfs() -> str:
    """A folder on a tmpfs: a new one as root, else one in /dev/shm."""
    if os.geteuid() != 0:
        return tempfile.mkdtemp(dir="/dev/shm")
    libc = ctypes.CDLL(None, use_errno=True)
    folder = tempfile.mkdtemp()
    if (libc.unshare(CLONE_NEWNS) or libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
            or libc.mount(b"tmpfs", folder.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                          b"size=64m")):
        raise OSError(ctypes.get_errno(), "could not mount a tmpfs")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = scratch_tmpfs()
    try:
        for repeat in range(args.repeats):
            before, load = slab_bytes(), os.getloadavg()[0]
            for i in range(args.files):
                open(os.path.join(folder, f"{repeat}-{i}"), "w").close()
            grown = slab_bytes() - before
            print(f"{args.files} empty files: slab +{grown / 2**20:.0f} MiB, "
                  f"{grown / args.files:.0f} bytes a file (load {load:.1f})", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
