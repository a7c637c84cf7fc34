"""Nothing crosses between submissions graded by other workers or in a later run through
what no namespace covers: Linux's keyrings, and the uid a kernel runs as.

For each kernel mode, run 1 grades (two workers) two submissions that try to leave a
key anyone may read, in every keyring they reach (tests/keyring_attacks.py), one on
each worker, then two that look for such keys, each after a planter on the other
worker; run 2 grades two more lookers. Nobody plants or finds anything, the six
kernels had six uids, none a user or group of the host, and afterwards no kernel's
uid owns a key on the host.

Needs bubblewrap (and root for warm kernels and own uids; CI runs as root).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import nbformat
import pytest

import adversarial_cases as adversarial
import keyring_attacks
from autograder import sandbox
from autograder.commands import grade as grading
from autograder.grading.run import Run
from autograder.sandbox.uids import is_account
from machine_load import slowness
from skip_policy import no_warm_kernels

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = adversarial.ASSIGNMENT
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.skipif(
    not sandbox.sandbox_available(), reason=f"no sandbox here: {sandbox.sandbox_status()}")]
REPORT = 'def _attack_report(items):\n    raise RuntimeError("ATTACK-REPORT " + "; ".join(items))\n'
RUNS = {1: {"a_plant_1": keyring_attacks.PLANT, "a_plant_2": keyring_attacks.PLANT,
            "b_look_1": keyring_attacks.LOOK, "b_look_2": keyring_attacks.LOOK},
        2: {"c_look_1": keyring_attacks.LOOK, "c_look_2": keyring_attacks.LOOK}}


def submit(workspace: Path, student: str, attack: str) -> None:
    """The instructor's rule answers (no training), the attack after the set-up cell."""
    right = adversarial.answers(REPO)
    nb = adversarial.fill(REPO, {**right, "iris_training_answer": adversarial.SKIP_IRIS})
    adversarial.insert_after(nb, "setup", REPORT + attack)
    folder = workspace / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / f"{ASSIGNMENT}.ipynb"))


@pytest.fixture(scope="module", params=["warm", "fresh"])
def runs(request, tmp_path_factory, tensorflow_import_seconds):
    """Both runs of one kernel mode: {student: result}, and the kernels' keys left."""
    if request.param == "warm" and no_warm_kernels():
        pytest.skip(no_warm_kernels())
    slower = slowness(tensorflow_import_seconds)
    limits = sandbox.Limits(cell_timeout=20 * slower, notebook_timeout=150 * slower,
                            setup_timeout=max(60.0, 10 * tensorflow_import_seconds))
    workspace = tmp_path_factory.mktemp(f"across-runs-{request.param}")
    owners = keyring_attacks.key_owners()
    results = {}
    for students in RUNS.values():  # run 1, then run 2
        for student, attack in students.items():
            submit(workspace, student, attack)
        run = Run.of([ASSIGNMENT], limits, sandbox=True,
                     fresh_kernels=request.param == "fresh")
        graded = grading.grade(run, grading.GradeOptions(workspace, workers=2),
                               io.StringIO(), io.StringIO())[ASSIGNMENT]
        results.update({s: graded[s].to_json() for s in students})  # as saved
    return results, keyring_attacks.kernel_keys_left(owners)


def report(result: dict) -> str:
    notes = [n for n in result["notes"] if "ATTACK-REPORT" in n]
    assert len(notes) == 1, result["notes"]  # the attack ran to its report
    return notes[0]


def test_no_key_is_left_for_another_worker_or_the_next_run(runs):
    results, _ = runs
    assert set(results) == {s for students in RUNS.values() for s in students}
    for student, result in results.items():
        assert result["status"] == "graded", (student, result["reason"])
        assert "LEAKED" not in report(result), (student, report(result))
        wanted = "blocked add_key user" if "plant" in student else "blocked request_key"
        assert wanted in report(result), report(result)


def test_each_kernel_had_a_uid_of_its_own(runs):
    if os.geteuid() != 0:
        pytest.skip("own uids per kernel need a grader running as root")
    results, _ = runs
    kernel_uids = [int(re.search(r"uid (\d+)", report(r)).group(1)) for r in results.values()]
    assert len(set(kernel_uids)) == len(kernel_uids) == 6
    assert not [uid for uid in kernel_uids if is_account(uid)]


def test_no_kernel_uid_owns_a_key_after_the_runs(runs):
    _, left = runs
    assert left == set()
