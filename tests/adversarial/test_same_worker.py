"""Attacks on the NEXT submission a grading worker grades. One worker
(``grading.grader.Grader``: with warm kernels, one zygote) grades an honest notebook, then,
for each attack, the attacking notebook and the same honest notebook again: the honest
one must score exactly as the first time, and a probe cell in it must see exactly what
it saw the first time (files in its folder, /tmp and /dev/shm, its environment, cwd,
umask, processes, NumPy, the keys listed in /proc/keys). Runs with warm kernels and
with fresh ones.

Needs bubblewrap (and root for warm kernels; CI runs as root).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import adversarial_cases as adversarial
import keyring_attacks
from autograder import sandbox
from autograder.grading.assignment import REPO
from autograder.grading.grader import Grader
from autograder.grading.run import Run, Submission
from machine_load import slowness
from skip_policy import no_warm_kernels

ASSIGNMENT = adversarial.ASSIGNMENT
NO_WARM_KERNELS = no_warm_kernels()
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.skipif(
    not sandbox.sandbox_available(), reason=f"no sandbox here: {sandbox.sandbox_status()}")]

PROBE = """import json as _j, os as _o, sys as _s, numpy as _np
def _ls(path):  # a fresh kernel's /tmp shows its (per-kernel) runtime folder agk-*
    try:
        return sorted("agk-*" if n.startswith("agk-") else n for n in _o.listdir(path))
    except OSError as e:
        return type(e).__name__
_m = _o.umask(0o077); _o.umask(_m)
def _keys():  # what /proc/keys lists, without the serial numbers (new for each kernel)
    with open("/proc/keys") as fh:
        return sorted(" ".join(line.split()[7:]) for line in fh)
print("AG-PROBE " + _j.dumps({
    "work": _ls("."), "tmp": _ls("/tmp"), "shm": _ls("/dev/shm"),
    "startup": _ls(_o.path.expanduser("~/.ipython/profile_default/startup")),
    "env": dict(_o.environ), "cwd": _o.getcwd(), "umask": _m, "path": _s.path,
    "procs": len([p for p in _o.listdir("/proc") if p.isdigit()]),
    "allclose": [_np.allclose.__module__, bool(_np.allclose([0.0], [1.0]))],
    "planted": sorted(m for m in _s.modules if m.startswith(("evil", "planted"))),
    "keys": _keys()}))"""

ATTACKS = {
    "planted_modules": """import os, site, sys
for folder in [".", "/tmp", *sys.path, site.getusersitepackages()]:
    for name, text in (("numpy.py", "raise SystemExit"), ("evil.pth", "import evil"),
                       ("evil.py", "X = 1"), ("sitecustomize.py", "import evil")):
        try:
            os.makedirs(folder or ".", exist_ok=True)
            open(os.path.join(folder or ".", name), "w").write(text)
        except OSError:
            pass""",
    "files_in_tmp_and_shm": """import os
open("/tmp/left.txt", "w").write("x")
try:
    open("/dev/shm/left", "w").write("x")
except OSError:  # not writable: bubblewrap's /dev/shm, and a warm kernel's
    pass
startup = os.path.expanduser("~/.ipython/profile_default/startup")
os.makedirs(startup, exist_ok=True)
open(os.path.join(startup, "00-evil.py"), "w").write("import numpy; numpy.allclose = None")""",
    "process_left_running": """import os, subprocess, time
subprocess.Popen(["sleep", "600"], start_new_session=True)
if os.fork() == 0:  # a daemon: double fork, new session, keeps writing into /tmp
    os.setsid()
    if os.fork() == 0:
        while True:
            open("/tmp/daemon.txt", "a").write("x"); time.sleep(0.05)
    os._exit(0)
time.sleep(0.3)""",
    "trace_and_write_the_zygote": """import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
for pid in {1, os.getppid(), *(int(p) for p in os.listdir("/proc") if p.isdigit())}:
    if pid == os.getpid():
        continue
    libc.ptrace(16, pid, 0, 0)  # PTRACE_ATTACH
    try:
        with open(f"/proc/{pid}/mem", "r+b") as mem:
            mem.seek(0x400000); mem.write(b"\\xcc" * 64)
    except OSError:
        pass
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError:
            pass""",
    "keyrings": "_attack_report = print\n" + keyring_attacks.PLANT,
    "many_files": """import os
try:
    for folder in ("/tmp/many", "many"):
        os.makedirs(folder, exist_ok=True)
        for i in range(250_000):
            open(f"{folder}/{i}", "w").close()
except OSError as e:
    print(e)""",
    "environment_and_cwd": """import os
os.environ.update(AG_PLANTED="1", PYTHONPATH="/tmp", PYTHONSTARTUP="/tmp/s.py")
os.chdir("/tmp"); os.umask(0)""",
    "monkeypatched_modules": """import builtins, numpy, tensorflow as tf
numpy.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
tf.Variable.assign_sub = lambda self, *a, **k: self
builtins.abs = lambda x: 0""",
}


def notebook(path, extra_cell: str) -> str:
    right = adversarial.answers(REPO)
    nb = adversarial.fill(REPO, {**right, "iris_training_answer":
                                           adversarial.SKIP_IRIS})
    nb = adversarial.insert_after(nb, "sgd_answer", extra_cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return str(path)


def printed(graded_path, marker: str) -> str:
    nb = nbformat.read(str(graded_path), 4)
    return "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])
                   if marker in out.get("text", ""))


@pytest.fixture(scope="module", params=["warm", "fresh"])
def worker(request, tmp_path_factory, tensorflow_import_seconds):
    """One grading worker of the given kernel mode, and its first honest result."""
    if request.param == "warm" and NO_WARM_KERNELS:
        pytest.skip(NO_WARM_KERNELS)
    slower = slowness(tensorflow_import_seconds)
    limits = sandbox.Limits(cell_timeout=20 * slower, notebook_timeout=150 * slower,
                            setup_timeout=max(60.0, 10 * tensorflow_import_seconds))
    grader = Grader(Run.of([ASSIGNMENT], limits, sandbox=True,
                           fresh_kernels=request.param == "fresh"))
    root = tmp_path_factory.mktemp(f"same-worker-{request.param}")
    honest = notebook(root / "honest" / f"{ASSIGNMENT}.ipynb", PROBE)
    first = grade(grader, honest, root / "first.ipynb")
    try:
        yield grader, root, honest, first, printed(root / "first.ipynb", "AG-PROBE")
    finally:
        grader.close()


def grade(grader: Grader, path: str, graded: Path) -> dict:
    """The worker's result for the notebook at ``path``, as grade saves it."""
    return grader.grade(Submission("s1", ASSIGNMENT, Path(path), graded)).to_json()


def verdict(result: dict) -> tuple:
    return (result["status"], result["reason"], result["score"],
            {g: (p["points"], p["messages"]) for g, p in result["parts"].items()})


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_does_not_reach_the_next_submission(worker, attack):
    grader, root, honest, first, first_probe = worker
    assert first["status"] == "graded" and first["score"] == sum(adversarial.RULES_ONLY.values())
    assert first["kernel"] == ("fresh" if grader.run.fresh_kernels else "warm")
    attacker = notebook(root / attack / f"{ASSIGNMENT}.ipynb",
                        ATTACKS[attack] + "\nprint('AG-ATTACKED', flush=True)")
    attacked = grade(grader, attacker, root / f"{attack}-graded.ipynb")
    assert "AG-ATTACKED" in printed(root / f"{attack}-graded.ipynb", "AG-ATTACKED"), \
        attacked  # the attack ran to its end
    after = grade(grader, honest, root / f"after-{attack}.ipynb")
    assert after["kernel"] == first["kernel"] and not after.get("kernel_note")
    assert verdict(after) == verdict(first)
    probe = json.loads(printed(root / f"after-{attack}.ipynb", "AG-PROBE").split(" ", 1)[1])
    assert probe == json.loads(first_probe.split(" ", 1)[1])
