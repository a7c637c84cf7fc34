"""Kernel user ids: one per kernel, never given twice on this machine.

A grader running as root gives each kernel a user id of its own: RLIMIT_NPROC counts a
uid's tasks, and Linux keys many things by uid alone, in no namespace (keyrings, the
persistent keyring that outlives every process for three days, inotify and message
queue quotas, files left behind). So ``allocate`` hands out the next uid of one counter
for the whole machine, kept in ``STATE`` (every grading worker of every run takes its
turn under a file lock), and skips any uid that is a user or group of the host,
delegated to one (/etc/subuid, /etc/subgid), or still owns a process or a key. The
range is systemd's unused one (UIDS-GIDS.md: 0x70000000-0x7FFDFFFF), 268 million uids:
after the last it starts again from the first, skipping what is still in use.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
from pathlib import Path

FIRST, LAST = 0x70000000, 0x7FFDFFFF
STATE = Path("/var/lib/autograder/kernel-uids")


def allocate(state: Path = STATE) -> int:
    """The next free kernel uid (root only: the counter is root's)."""
    state.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(state, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        uid = int(text) if text.isdigit() and FIRST <= int(text) <= LAST else FIRST
        in_use, delegated = _in_use(), _delegated()
        for _ in range(LAST - FIRST + 1):
            if not (uid in in_use or is_account(uid)
                    or any(low <= uid < high for low, high in delegated)):
                break
            uid = _after(uid)
        else:
            raise RuntimeError("every kernel uid is in use")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{_after(uid)}\n".encode(), 0)
        return uid
    finally:
        os.close(fd)  # and with it the lock


def _after(uid: int) -> int:
    return FIRST if uid >= LAST else uid + 1


def is_account(uid: int) -> bool:
    """Whether ``uid`` is a user or a group of the host."""
    for lookup in (pwd.getpwuid, grp.getgrgid):
        with contextlib.suppress(KeyError):
            lookup(uid)
            return True
    return False


def _delegated() -> list[tuple[int, int]]:
    """[low, high) ranges of /etc/subuid and /etc/subgid (user namespaces' ids)."""
    ranges = []
    for path in ("/etc/subuid", "/etc/subgid"):
        with contextlib.suppress(OSError):
            for line in Path(path).read_text().splitlines():
                with contextlib.suppress(ValueError, IndexError):
                    _, start, count = line.split(":")[:3]
                    ranges.append((int(start), int(start) + int(count)))
    return ranges


def _in_use() -> set[int]:
    """Uids that own a process (real, effective, saved or file-system id) or a key."""
    used: set[int] = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, StopIteration):
                with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as fh:
                    line = next(line for line in fh if line.startswith("Uid:"))
                used.update(int(x) for x in line.split()[1:])
    with contextlib.suppress(OSError):
        with open("/proc/key-users", encoding="ascii") as fh:
            used.update(int(line.split(":")[0]) for line in fh if ":" in line)
    return used
