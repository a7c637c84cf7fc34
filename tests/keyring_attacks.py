"""Two programs that a submission can run against Linux's kernel keyrings, which belong
to no namespace a sandbox makes: PLANT tries to leave a key that anyone may read (in
every keyring a process can reach, the persistent one included, and linked into its
session keyring); LOOK tries to find such a key (listed in /proc/keys, read by serial,
searched for, requested). Each calls ``_attack_report(items)`` at its end, which the
caller defines: an item starting "LEAKED" is an attack that worked.

Used by the kernel tests (tests/sandbox/test_kernel_isolation.py) and the adversarial class
(tests/adversarial/adversarial_cases.py), with ``kernel_keys_left`` on the host's side.
"""

from autograder.sandbox.uids import is_account

MARK = "ag-planted"
SECRET = "AG-KEY-" + "SECRET"  # spelled in two halves: only a read key holds it whole

_SYSCALLS = """
import ctypes as _ct, errno as _errno, os as _os
_libc = _ct.CDLL(None, use_errno=True)
_ADD_KEY, _REQUEST_KEY, _KEYCTL = {"x86_64": (248, 249, 250),
                                   "aarch64": (217, 218, 219)}[_os.uname().machine]
def _why():  # short: the grader quotes 300 characters of a cell's error
    return _errno.errorcode.get(_ct.get_errno(), "?")
found = ["uid %d" % _os.getuid()]
"""

PLANT = _SYSCALLS + f"""
_rings = {{-1: "thread", -2: "process", -3: "session", -4: "user", -5: "user session"}}
_persistent = _libc.syscall(_KEYCTL, 22, -1, -2)  # KEYCTL_GET_PERSISTENT, linked in @p
if _persistent >= 0:
    found.append("LEAKED got the persistent keyring")
    _rings[_persistent] = "persistent"
else:
    found.append("blocked persistent: " + _why())
_data = b"AG-KEY-" + b"SECRET"
for _ring, _name in _rings.items():
    _key = _libc.syscall(_ADD_KEY, b"user", ("{MARK}-" + _name).encode(), _data,
                         len(_data), _ring)
    if _key < 0:
        found.append("blocked add_key " + _name + ": " + _why())
        continue
    found.append("LEAKED added a key to the " + _name + " keyring")
    _libc.syscall(_KEYCTL, 5, _key, 0x3f3f3f3f)  # KEYCTL_SETPERM: everything, for all
    if _libc.syscall(_KEYCTL, 8, _key, -3) == 0:  # KEYCTL_LINK into the session keyring
        found.append("LEAKED linked a key into the session keyring")
_attack_report(found)
"""

LOOK = _SYSCALLS + f"""
try:
    with open("/proc/keys") as _fh:
        _lines = _fh.read().splitlines()
except OSError as _e:
    _lines = []
    found.append("no /proc/keys: " + type(_e).__name__)
_buffer = _ct.create_string_buffer(4096)
_read = 0
for _line in _lines:
    if "{MARK}" in _line:
        found.append("LEAKED /proc/keys lists " + _line.split()[-2])
    _n = _libc.syscall(_KEYCTL, 11, int(_line.split()[0], 16), _buffer, 4096)  # READ
    _read += _n >= 0
    if _n > 0 and b"AG-KEY-" + b"SECRET" in _buffer.raw[:_n]:
        found.append("LEAKED read a planted key")
found.append("read %d of %d keys listed" % (_read, len(_lines)))
for _ring, _name in ((-3, "session"), (-4, "user"), (-5, "user session")):
    for _kind in ("thread", "process", "session", "user", "user session", "persistent"):
        _key = _libc.syscall(_KEYCTL, 10, _ring, b"user",  # KEYCTL_SEARCH
                             ("{MARK}-" + _kind).encode(), 0)
        if _key >= 0:
            found.append("LEAKED found a planted key in the " + _name + " keyring")
_key = _libc.syscall(_REQUEST_KEY, b"user", b"{MARK}-user", None, 0)
found.append(("LEAKED requested a planted key" if _key >= 0 else
              "blocked request_key: " + _why()))
_attack_report(found)
"""


def key_owners() -> set[int]:
    """The uids that own keys on the host now (root sees every user's line)."""
    with open("/proc/key-users") as fh:
        return {int(line.split(":")[0]) for line in fh}


def kernel_keys_left(owners_before: set[int]) -> set[int]:
    """The uids that own a key now, did not before, and are no account: kernels'."""
    return {uid for uid in key_owners() - owners_before if not is_account(uid)}
