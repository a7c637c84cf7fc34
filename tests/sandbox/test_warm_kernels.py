"""Warm kernels (autograder/sandbox/zygote.py): a kernel forked from a sandboxed zygote
behaves as a fresh one, and nothing one kernel does reaches the next one forked from
the same zygote.

The zygote here preloads NumPy only (a few seconds to start, no TensorFlow); the
grading tests (tests/grader/test_autograder.py) and the adversarial suite run the real
assignments in both kernel modes. Needs bubblewrap and root (CI runs as root).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from autograder.sandbox import Limits, run_cell, start_kernel, zygote
from skip_policy import no_warm_kernels

QUICK = Limits(cell_timeout=5, notebook_timeout=60, memory_bytes=2 * 2**30,
               max_output_bytes=10_000, max_processes=16, max_file_bytes=2**20)
NO_WARM_KERNELS = no_warm_kernels()
pytestmark = [pytest.mark.sandbox, pytest.mark.slow,
              pytest.mark.skipif(NO_WARM_KERNELS is not None, reason=str(NO_WARM_KERNELS))]


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
                              "open('data.txt').read(), os.getuid() >= 0x70000000, "
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

    return sorted({Path(inside).relative_to("/tmp").parts[0]
                   for _, inside in confinement._python_roots() if inside.startswith("/tmp/")})


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


HASH_PROBE = "import numpy\nprint(hash('course'), id(numpy))"
NEW_HASH_SECRET = """import ctypes
secret = (ctypes.c_ubyte * 24).in_dll(ctypes.pythonapi, "_Py_HashSecret")
ctypes.memset(ctypes.addressof(secret), 7, 24)
print(hash("course"), flush=True)"""


def test_what_warm_kernels_of_one_worker_share(zyg):
    """Python's hash secret and memory layout are the zygote's, in each of its kernels
    (fork copies them): measured here, with what that means (the security page). A new
    secret cannot be given to a forked interpreter: a kernel that rewrites its copy
    dies (the strings in its dicts keep their old hashes), and the next kernel has the
    zygote's again. Another worker's kernels, and the grader, have secrets of their own."""
    first = text(run_in_warm(zyg, [HASH_PROBE])[0])
    assert text(run_in_warm(zyg, [HASH_PROBE])[0]) == first  # hash("course"), id(numpy)
    [rewritten] = run_in_warm(zyg, [NEW_HASH_SECRET])
    assert rewritten.kernel_dead, rewritten
    assert text(run_in_warm(zyg, [HASH_PROBE])[0]) == first
    other = zygote.Zygote(zygote.preload_list(["numpy"])[0])
    try:
        other.wait_ready()
        elsewhere = text(run_in_warm(other, [HASH_PROBE])[0])
    finally:
        other.close()
    assert elsewhere.split()[0] != first.split()[0]
    assert str(hash("course")) != first.split()[0]


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
    from autograder.checks.probe import Probe
    from toy_notebook import nbgrader_cell, python_notebook
    from toy_probes import probe_squares

    nb = python_notebook()
    nb.cells = [nbgrader_cell("import numpy as np", grade_id="setup", locked=True),
                nbgrader_cell("def square(x):\n    return x * x", grade_id="square",
                              solution=True),
                nbgrader_cell("assert square(2) == 4", grade_id="square_test", grade=True,
                              points=2, locked=True)]
    path = tmp_path / "toy.ipynb"
    nbformat.write(nb, str(path))
    checks = {"square_test": Check(Probe(probe_squares, {"inputs": [1.5, -3.0]}),
                                   lambda got, ref: [] if got == ref else ["wrong"])}
    return path, nb, checks, {"square_test": {"values": [2.25, 9.0]}}


def verdict(result: dict) -> dict:
    """A result without what the machine's speed decides (times and the profile)."""
    timed = {"seconds", "profile"}
    return {k: ({gid: {f: v for f, v in part.items() if f != "check_seconds"}
                 for gid, part in v.items()} if k == "parts" else v)
            for k, v in result.items() if k not in timed}


def test_a_dead_zygote_is_replaced_or_costs_a_fresh_kernel(tmp_path, capfd):
    """The zygote dies: the next submission gets a new zygote; once restarts are used
    up, a fresh kernel (same verdict), which the log and the result say (not the
    student's notes)."""
    from autograder.grading.assignment import Assignment
    from autograder.grading.submission import Kernels, grade_submission

    path, nb, checks, references = toy_assignment(tmp_path)
    toy = Assignment("toy", path, nb, None, checks, references, "x")
    warm = zygote.WarmKernels(zygote.preload_list(["numpy"])[0])

    def grade():
        return grade_submission(path, toy, Kernels(QUICK, True, warm)).to_json()

    def kill_the_zygote():
        warm.zygote.proc.kill()
        warm.zygote.proc.wait()

    try:
        first = grade()
        assert (first["kernel"], first["score"]) == ("warm", 2.0)
        kill_the_zygote()
        again = grade()
        assert (again["kernel"], again["score"], warm.restarts) == ("warm", 2.0, 1)
        assert verdict(again) == verdict(first)
        warm.restarts = warm.MAX_RESTARTS
        kill_the_zygote()
        fallback = grade()
        assert (fallback["kernel"], fallback["score"]) == ("fresh", 2.0)
        assert "no warm kernel (the zygote is not running" in fallback["kernel_note"]
        assert fallback["notes"] == first["notes"]
        assert "fresh kernel: no warm kernel" in capfd.readouterr().err
    finally:
        warm.close()


@pytest.mark.parametrize("mode", ["warm", "fresh"])
def test_what_a_cell_printed_before_its_kernel_was_killed_stays(mode, tmp_path):
    """A student's cell prints, then ignores the interrupt and is killed: its output is
    in the autograded notebook (the formgrader shows it), with the grader's reason."""
    import nbformat

    from autograder.grading.assignment import Assignment
    from autograder.grading.submission import Kernels, grade_submission
    from toy_notebook import nbgrader_cell

    path, nb, checks, references = toy_assignment(tmp_path)
    toy = Assignment("toy", path, nb, None, checks, references, "x")
    student = nbformat.read(str(path), 4)
    student.cells.insert(2, nbgrader_cell(
        "import time\nprint('printed before the kill', flush=True)\nwhile True:\n"
        "    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n        pass",
        grade_id="stubborn"))
    submitted = tmp_path / "submitted.ipynb"
    nbformat.write(student, str(submitted))
    warm = zygote.WarmKernels(zygote.preload_list(["numpy"])[0]) if mode == "warm" else None
    limits = Limits(**{**QUICK.__dict__, "cell_timeout": 2})
    try:
        result = grade_submission(submitted, toy, Kernels(limits, True, warm),
                                  graded=tmp_path / "graded.ipynb")
    finally:
        if warm is not None:
            warm.close()
    assert result.kernel == mode and "cell time limit (2 s)" in result.reason
    graded = nbformat.read(str(tmp_path / "graded.ipynb"), 4)
    printed = [out.get("text", "") for cell in graded.cells for out in cell.get("outputs", [])]
    assert "printed before the kill\n" in printed, printed


def test_an_unsafe_set_up_import_means_fresh_kernels(tmp_path):
    """A set-up cell that imports a package not to be imported before fork: that
    assignment's kernels are fresh, and its results say why."""
    from autograder.grading.assignment import Assignment
    from autograder.grading.grader import Grader
    from autograder.grading.run import Run, Submission

    from autograder.grading.stopwatch import Stopwatch

    grader = Grader.__new__(Grader)  # with a toy assignment, not one of the course's
    grader.run, grader.warm, grader.cold = Run({}, QUICK, sandbox=True), None, {}
    grader.watch, grader.graded, grader.reference = Stopwatch(), 0, {}
    path, nb, checks, references = toy_assignment(tmp_path)
    nb.cells[0].source = "import multiprocessing\nimport numpy as np"
    grader.assignments = {"toy": Assignment("toy", path, nb, tmp_path, checks,
                                            references, "x")}
    grader._start_zygote()
    assert grader.warm is None and "multiprocessing" in grader.cold["toy"]
    result = grader.grade(Submission("s1", "toy", path))
    assert (result.kernel, result.score) == ("fresh", 2.0)
    assert "must not be imported before fork" in result.kernel_note


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
