"""Nothing crosses from one kernel to the next through what the sandbox's namespaces do
not cover: Linux's kernel keyrings, user ids, the memory of the kernel's writable
folders; and the host's folders stay out of a kernel's sight (its mount table).

Kernels here run plain Python (a warm one from a zygote that preloads NumPy only); the
adversarial suite (tests/adversarial/) runs the same attacks in graded notebooks, in
both kernel modes. Needs bubblewrap; warm kernels and own uids need root (CI runs as
root).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import keyring_attacks
from autograder import sandbox
from autograder.sandbox import Limits, run_cell, start_kernel, zygote
from autograder.sandbox.uids import is_account
from skip_policy import no_warm_kernels

REPO = Path(__file__).resolve().parents[2]
QUICK = Limits(cell_timeout=20, notebook_timeout=120, memory_bytes=2 * 2**30,
               max_output_bytes=100_000, max_processes=16, max_file_bytes=2**20)
WHY_NOT_WARM = no_warm_kernels()
MODES = ["fresh", pytest.param("warm", marks=pytest.mark.skipif(
    WHY_NOT_WARM is not None, reason=str(WHY_NOT_WARM)))]
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.skipif(
    not sandbox.sandbox_available(), reason=f"no sandbox here: {sandbox.sandbox_status()}")]
REPORT = "import json as _json\n_attack_report = lambda items: print(_json.dumps(items))\n"


def text(result) -> str:
    return "".join(o.get("text", "") for o in result.outputs if o["output_type"] == "stream")


@pytest.fixture(scope="module")
def zyg():
    if WHY_NOT_WARM:
        yield None
        return
    one = zygote.Zygote(zygote.preload_list(["numpy"])[0])
    assert one.wait_ready()["failed"] == {}
    yield one
    one.close()


@contextlib.contextmanager
def kernel_of(mode: str, zyg, tmp_path: Path, limits: Limits = QUICK):
    """A new kernel of the mode: fresh (its own sandbox) or warm (forked from ``zyg``)."""
    if mode == "fresh":
        work = tmp_path / f"work-{time.monotonic_ns()}"
        work.mkdir()
        with start_kernel(work, limits, sandbox=True) as kernel:
            yield kernel
        return
    with zyg.slot() as work, zygote.start_warm_kernel(zyg, work, limits) as kernel:
        yield kernel


def attack(kernel, program: str) -> list[str]:
    res = run_cell(kernel, REPORT + program)
    assert res.error is None, (res.error, res.traceback)
    return json.loads(text(res).strip().splitlines()[-1])


# ------------------------------------------------------------------ keyrings
@pytest.mark.parametrize("mode", MODES)
def test_a_kernel_can_neither_leave_nor_find_a_key(mode, zyg, tmp_path):
    """A kernel plants world-readable keys in every keyring it can reach; the next
    kernel looks for them everywhere; neither gets anywhere, and no kernel's uid owns a
    key on the host afterwards."""
    owners = keyring_attacks.key_owners()
    with kernel_of(mode, zyg, tmp_path) as kernel:
        planted = attack(kernel, keyring_attacks.PLANT)
    with kernel_of(mode, zyg, tmp_path) as kernel:
        looked = attack(kernel, keyring_attacks.LOOK)
    assert not [item for item in planted + looked if item.startswith("LEAKED")], \
        (planted, looked)
    assert "blocked add_key user: EPERM" in planted
    assert "blocked request_key: EPERM" in looked
    # nothing of the grader's own keyrings is in sight: the kernel holds a session
    # keyring of its own, empty, and reads no key
    assert "read 0 of 1 keys listed" in looked, looked
    assert keyring_attacks.kernel_keys_left(owners) == set()


# ------------------------------------------------------------------ uids
PICK_UIDS = """import sys
from autograder.sandbox import uids
sys.stdin.readline()  # start together
print(*[uids.allocate() for _ in range(500)])"""


def two_workers_pick_uids() -> list[list[int]]:
    """Two worker processes started together (as the grader's pool starts them), each
    allocating the uids of 500 kernels at the same time."""
    workers = [subprocess.Popen([sys.executable, "-c", PICK_UIDS], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=REPO)
               for _ in range(2)]
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    return [[int(uid) for uid in worker.communicate(timeout=120)[0].split()]
            for worker in workers]


def test_two_workers_started_together_never_share_a_uid():
    """1,000 kernels of two workers, then 1,000 more of the next run's two workers: 2,000
    different uids, none of them a user or group of the host."""
    if os.geteuid() != 0:
        pytest.skip("own uids per kernel need a grader running as root")
    first, second = two_workers_pick_uids(), two_workers_pick_uids()
    uids = [uid for worker in first + second for uid in worker]
    assert [len(worker) for worker in first + second] == [500] * 4
    assert len(set(uids)) == len(uids) == 2000
    assert not [uid for uid in uids if is_account(uid)]


# ------------------------------------------------------------------ writable space
MANY_FILES = """import os
made = 0
try:
    for folder in ("/tmp", "/submission"):
        os.makedirs(f"{folder}/many", exist_ok=True)
        for i in range(250_000):
            open(f"{folder}/many/{i}", "w").close()
            made += 1
finally:
    print("made", made, flush=True)"""


@pytest.mark.parametrize("mode", MODES)
def test_a_kernel_is_stopped_at_its_file_limit(mode, zyg, tmp_path):
    """500,000 empty files (each costs the host about 1 KB of kernel memory, outside
    every rlimit): the kernel stops at its file limit, with that reason; the next
    kernel starts with nothing of them."""
    limits = Limits(**{**QUICK.__dict__, "max_files": 2000})
    with kernel_of(mode, zyg, tmp_path, limits) as kernel:
        res = run_cell(kernel, MANY_FILES)
        assert res.limit == "files", (res.error, text(res))
        assert "file count limit of 2000 files and folders" in res.error, res.error
        made = int(text(res).split()[-1])
        assert 1900 < made < 2000, made  # the kernel's own files count too
        assert text(run_cell(kernel, "print('alive')")) == "alive\n"
    with kernel_of(mode, zyg, tmp_path, limits) as kernel:
        res = run_cell(kernel, "import os\nprint(os.listdir('/tmp'), 'many' in os.listdir())")
        assert text(res).endswith("False\n"), res.error
        assert "many" not in text(res)


@pytest.mark.parametrize("mode", MODES)
def test_a_kernel_s_writable_folders_are_limited_in_size(mode, zyg, tmp_path):
    limits = Limits(**{**QUICK.__dict__, "writable_bytes": 8 * 2**20})
    fill = ("for i in range(16):\n"
            "    open(f'/tmp/part{i}', 'wb').write(b'0' * 2**20)")
    with kernel_of(mode, zyg, tmp_path, limits) as kernel:
        res = run_cell(kernel, fill)
        assert res.limit == "space", res.error
        assert "8 MiB" in res.error, res.error


# ------------------------------------------------------------------ the mount table
@pytest.mark.parametrize("mode", MODES)
def test_the_kernel_s_mount_table_names_no_folder_of_the_host(mode, zyg, tmp_path):
    """Neither the submission's folder on the host, nor the zygote's, nor the course's
    repository appears in the kernel's /proc/self/mountinfo."""
    with kernel_of(mode, zyg, tmp_path) as kernel:
        res = run_cell(kernel, "print(open('/proc/self/mountinfo').read())")
    table = text(res)
    assert " /submission " in table, table
    hidden = [str(tmp_path), str(REPO), "/agz-", "/spool"]
    if zyg is not None:
        hidden.append(str(zyg.base))
    assert [path for path in hidden if path in table] == [], table
