"""Warm kernels (autograder/sandbox/zygote.py): a kernel forked from a sandboxed zygote
behaves as a fresh one, and nothing one kernel does reaches the next one forked from
the same zygote.

The zygote here preloads NumPy only (a few seconds to start, no TensorFlow); the
grading tests (tests/test_autograder.py) and the adversarial suite run the real
assignments in both kernel modes. Needs bubblewrap and root (CI runs as root).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.sandbox import Limits, run_cell, start_kernel, zygote

QUICK = Limits(cell_timeout=5, notebook_timeout=60, memory_bytes=2 * 2**30,
               max_output_bytes=10_000, max_processes=16, max_file_bytes=2**20)
WHY_NOT = zygote.why_not_warm(sandbox.sandbox_available())
pytestmark = [pytest.mark.sandbox, pytest.mark.slow,
              pytest.mark.skipif(WHY_NOT is not None, reason=f"no warm kernels: {WHY_NOT}")]


def text(result) -> str:
    assert result.error is None, result.error
    return "".join(o.get("text", "") for o in result.outputs if o["output_type"] == "stream")


@pytest.fixture(scope="module")
def zyg():
    one = zygote.Zygote(zygote.preload_list(["numpy"])[0])
    assert one.wait_ready()["failed"] == {}
    yield one
    one.close()


def run_in_warm(zyg, cells: list[str], files: dict[str, str] | None = None) -> list:
    """Run ``cells`` in a new warm kernel of ``zyg``; their results."""
    with zyg.slot() as work:
        for name, content in (files or {}).items():
            (work / name).write_text(content)
        with zygote.start_warm_kernel(zyg, work, QUICK) as kernel:
            return [run_cell(kernel, cell) for cell in cells]


def test_a_warm_kernel_runs_in_its_own_folder_with_its_own_uid(zyg):
    [res] = run_in_warm(zyg, ["import os, sys\nprint(os.getcwd(), os.environ['HOME'], "
                              "open('data.txt').read(), os.getuid() >= 200000, "
                              "os.getpid(), sys.path[0], 'numpy' in sys.modules)"],
                        {"data.txt": "mine"})
    assert text(res) == "/submission /submission mine True 2 /submission True\n"


PROBE = """import json, os, sys
def _ls(path):
    try:
        return sorted(os.listdir(path))
    except OSError as e:
        return type(e).__name__
print(json.dumps({"work": _ls("."), "tmp": _ls("/tmp"), "shm": _ls("/dev/shm"),
    "spool": _ls("/spool"), "procs": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "env": os.environ.get("AG_PLANTED"), "cwd": os.getcwd(),
    "allclose": __import__("numpy").allclose([0.0], [1.0]),
    "planted": "planted" in sys.modules, "uid": os.getuid()}))"""

ATTACK = """import os, subprocess, numpy
open("/tmp/left", "w").write("x")
open("planted.py", "w").write("X = 1"); open("numpy.py", "w").write("raise SystemExit")
os.environ["AG_PLANTED"] = "1"; os.chdir("/tmp")
numpy.allclose = lambda *a, **k: True
subprocess.Popen(["sleep", "300"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        import time; time.sleep(300)
    os._exit(0)
print("attacked")"""


def python_roots_in_tmp() -> list[str]:
    """What a kernel's /tmp shows before anything is written: the folders of Python's
    installation or the course that live under /tmp (a checkout there, as in CI), bound
    back read-only, as in a fresh kernel's sandbox."""
    from autograder.sandbox import confinement

    return sorted({Path(root).relative_to("/tmp").parts[0]
                   for root in confinement._python_roots() if root.startswith("/tmp/")})


def test_nothing_of_one_kernel_reaches_the_next(zyg):
    """Files in the work folder and /tmp, processes (daemonized too), the
    environment, the cwd and a monkeypatched module: the next kernel sees none."""
    clean = json.loads(text(run_in_warm(zyg, [PROBE])[0]))
    attacked = run_in_warm(zyg, [ATTACK, PROBE])
    assert text(attacked[0]) == "attacked\n"
    during = json.loads(text(attacked[1]))
    assert during["tmp"] == sorted(["left", *python_roots_in_tmp()])  # the attack worked
    assert during["allclose"] is True
    after = json.loads(text(run_in_warm(zyg, [PROBE])[0]))
    assert after == dict(clean, uid=after["uid"])
    assert after["uid"] != clean["uid"]  # a new uid per kernel
    assert clean["work"] == [".ipython"] and clean["tmp"] == python_roots_in_tmp()
    assert clean["shm"] == []
    assert clean["spool"] == [] and clean["procs"] == [1, 2]
    assert clean["allclose"] is False and clean["env"] is None and clean["cwd"] == "/submission"


def test_the_zygote_cannot_be_traced_read_or_signalled(zyg):
    """The kernel's parent is its namespace's init (uid 65534); the zygote (root) is in
    no namespace the kernel sees. Reading the init's memory, tracing it, signalling it
    all fail; after that the zygote still forks kernels."""
    attack = """import ctypes, os, signal
out = []
try:
    open(f"/proc/{os.getppid()}/mem", "rb").read(1); out.append("read")
except OSError as e:
    out.append(type(e).__name__)
libc = ctypes.CDLL(None, use_errno=True)
out.append(libc.ptrace(16, os.getppid(), 0, 0))  # PTRACE_ATTACH
for pid in (1, os.getppid()):
    try:
        os.kill(pid, signal.SIGKILL); out.append("killed")
    except OSError as e:
        out.append(type(e).__name__)
print(os.getppid(), out)"""
    [res] = run_in_warm(zyg, [attack])
    assert text(res) == "1 ['PermissionError', -1, 'PermissionError', 'PermissionError']\n"
    assert zyg.alive()
    [again] = run_in_warm(zyg, ["print('still forking')"])
    assert text(again) == "still forking\n"


def test_a_warm_kernel_has_the_environment_and_limits_of_a_fresh_one(zyg, tmp_path):
    probe = ("import os, resource, json\nprint(json.dumps({'env': dict(os.environ), "
             "'limits': [resource.getrlimit(getattr(resource, n)) for n in "
             "('RLIMIT_AS', 'RLIMIT_FSIZE', 'RLIMIT_NPROC', 'RLIMIT_CORE')], "
             "'umask': os.umask(0o077), 'hostname': os.uname().nodename, "
             "'writable': [os.access(p, os.W_OK) for p in ('/tmp', '/dev/shm', '/', "
             "'/submission')]}))")
    [warm] = run_in_warm(zyg, [probe])
    with start_kernel(tmp_path, QUICK, sandbox=True) as kernel:
        fresh = run_cell(kernel, probe)
    warm, fresh = json.loads(text(warm)), json.loads(text(fresh))
    # what ipykernel and jupyter_client add to a launched kernel's environment
    launched = {"JPY_SESSION_NAME", "PYDEVD_USE_FRAME_EVAL", "JPY_PARENT_PID"}
    for side in (warm, fresh):
        for key in launched:
            side["env"].pop(key, None)
    assert set(warm["env"].items()) ^ set(fresh["env"].items()) == set()
    assert warm == fresh


def test_a_slot_is_only_for_its_zygote(zyg, tmp_path):
    with pytest.raises(ValueError, match="not a slot"):
        with zygote.start_warm_kernel(zyg, tmp_path, QUICK):
            pass


def test_a_dead_zygote_says_so(tmp_path):
    dead = zygote.Zygote(["json"])
    dead.wait_ready()
    dead.proc.kill()
    dead.proc.wait()
    with dead.slot() as work, pytest.raises(zygote.WarmUnavailable, match="not running"):
        with zygote.start_warm_kernel(dead, work, QUICK):
            pass
    dead.close()


def test_set_up_imports_choose_what_is_preloaded():
    modules, unsafe = zygote.preload_list(["os", "numpy", "matplotlib.pyplot",
                                           "tensorflow", "somepkg", "torch"])
    assert modules[:4] == ["os", "numpy", "matplotlib.pyplot", "tensorflow"]
    assert "somepkg" not in modules and "torch" not in modules
    assert unsafe == ["torch"] and "ipykernel.kernelapp" in modules


def test_kernel_folders_are_gone_after_the_slot(zyg):
    with zyg.slot() as work:
        slot = work.parent
        assert sorted(p.name for p in slot.iterdir()) == ["run", "work"]
    assert not slot.exists()
    assert Path(zyg.spool).is_dir() and os.listdir(zyg.spool) == []


# ------------------------------------------------------------------ the grader's fallback
def toy_assignment(tmp_path: Path) -> tuple[Path, object, dict, dict]:
    """A one-part notebook (square), its instructor copy, checks and references."""
    import nbformat

    from autograder.checks import Check
    from toy_notebook import nbgrader_cell, python_notebook

    nb = python_notebook()
    nb.cells = [nbgrader_cell("import numpy as np", grade_id="setup", locked=True),
                nbgrader_cell("def square(x):\n    return x * x", grade_id="square",
                              solution=True),
                nbgrader_cell("assert square(2) == 4", grade_id="square_test", grade=True,
                              points=2, locked=True)]
    path = tmp_path / "toy.ipynb"
    nbformat.write(nb, str(path))
    checks = {"square_test": Check("[square(1.5), square(-3.0)]",
                                   lambda got, ref: [] if got == ref else ["wrong"])}
    return path, nb, checks, {"square_test": [2.25, 9.0]}


def test_a_dead_zygote_is_replaced_or_costs_a_fresh_kernel(tmp_path, capfd):
    """The zygote dies: the next submission gets a new zygote; once restarts are used
    up, a fresh kernel (same verdict), which the log and the result say (not the
    student's notes)."""
    from autograder import grade_one

    path, nb, checks, references = toy_assignment(tmp_path)
    warm = zygote.WarmKernels(zygote.preload_list(["numpy"])[0])

    def grade():
        return grade_one.grade_submission(path, "toy", nb, checks, references, QUICK,
                                          True, warm=warm)

    def kill_the_zygote():
        warm.zygote.proc.kill()
        warm.zygote.proc.wait()

    try:
        first = grade()
        assert (first["kernel"], first["score"]) == ("warm", 2.0)
        kill_the_zygote()
        again = grade()
        assert (again["kernel"], again["score"], warm.restarts) == ("warm", 2.0, 1)
        assert {k: v for k, v in again.items() if k != "seconds"} == \
            {k: v for k, v in first.items() if k != "seconds"}
        warm.restarts = warm.MAX_RESTARTS
        kill_the_zygote()
        fallback = grade()
        assert (fallback["kernel"], fallback["score"]) == ("fresh", 2.0)
        assert "no warm kernel (the zygote is not running" in fallback["kernel_note"]
        assert fallback["notes"] == first["notes"]
        assert "fresh kernel: no warm kernel" in capfd.readouterr().err
    finally:
        warm.close()


def test_an_unsafe_set_up_import_means_fresh_kernels(tmp_path):
    """A set-up cell that imports a package not to be imported before fork: that
    assignment's kernels are fresh, and its results say why."""
    from autograder import grade_one

    grader = grade_one.Grader.__new__(grade_one.Grader)
    grader.spec, grader.limits, grader.warm, grader.cold = {"sandbox": True}, QUICK, None, {}
    path, nb, checks, references = toy_assignment(tmp_path)
    nb.cells[0].source = "import multiprocessing\nimport numpy as np"
    grader.assignments = {"toy": grade_one.Assignment("toy", path, nb, tmp_path, checks,
                                                      references, "x")}
    grader._start_zygote()
    assert grader.warm is None and "multiprocessing" in grader.cold["toy"]
    result = grader.grade(str(path), "toy")
    assert (result["kernel"], result["score"]) == ("fresh", 2.0)
    assert "must not be imported before fork" in result["kernel_note"]


def test_closing_a_zygote_leaves_no_process_or_folder():
    one = zygote.Zygote(["json"])
    one.wait_ready()
    sandbox_pids = {one.proc.pid} | zygote.descendants(one.proc.pid)
    one.close()
    assert not one.base.exists()
    deadline = time.monotonic() + 10  # bubblewrap's inner processes die just after it
    while [pid for pid in sandbox_pids if zygote._start_time(pid) is not None]:
        assert time.monotonic() < deadline, sandbox_pids
        time.sleep(0.05)
