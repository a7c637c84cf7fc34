"""End to end: a class of adversarial submissions graded in the sandbox.

``adversarial_cases.build`` writes 40+ submissions against the real sgd_momentum assignment; ONE
``python -m autograder grade`` run (``commands.grade.grade``, 2 workers, sandbox on) grades them
all. Each case is then checked for its status and reason, its points per part in the
results AND in nbgrader's gradebook (so no student's grades are changed by another),
its notes, and its attack report; and globally: canary files outside the sandbox were
neither read (atime) nor written, no marker file appeared, no connection reached a
port the test opened on the host, the gradebook holds one submission per student,
no process of the sandbox outlived the run, and no kernel left a key on the host.

Needs bubblewrap (Linux; .ci/run installs it): skipped with the reason otherwise.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest

import adversarial_cases as adversarial
import keyring_attacks
from autograder import gradebook, sandbox
from autograder.commands import grade as grading
from autograder.grading.result import Result
from autograder.grading.run import Run
from autograder.pages import feedback
from machine_load import import_seconds, slowness

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = adversarial.ASSIGNMENT


#: A fork bomb's cell lasts from its start until the kernel's own error gets through,
#: after its 30-odd copies of the TensorFlow kernel have each reported theirs: measured
#: (a sandboxed kernel, process limit 24) 19-26 s while ``import tensorflow`` took
#: 17-20 s (load 10-18 on 2 cores), about 1.3 imports. Its cell gets 4, so that it
#: still ends on the process limit, not the time limit, when the load triples after
#: the measurement (another grading run starting beside this one).
FORK_BOMB_IMPORTS = 4


def machine_limits(seconds: float) -> sandbox.Limits:
    """The suite's limits for a machine whose ``import tensorflow`` took ``seconds``:
    the student's cells get 12 s (150 s for the notebook) on a quiet machine, more on
    a busy one, and at least the time a fork bomb needs (``FORK_BOMB_IMPORTS``); the
    set-up cell is the grader's and has its own limit. Fewer processes than the
    default so that the fork bomb is stopped sooner (forking a TensorFlow kernel is
    slow); the TensorFlow kernel itself uses about 15 tasks."""
    slower = slowness(seconds)
    return sandbox.Limits(cell_timeout=max(12 * slower, FORK_BOMB_IMPORTS * seconds),
                          notebook_timeout=150 * slower,
                          setup_timeout=max(60.0, 10 * seconds), max_processes=24)


pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.skipif(
    not sandbox.sandbox_available(), reason=f"no sandbox here: {sandbox.sandbox_status()}")]


class Listener:
    """A TCP port on the host's loopback that records every connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                continue
            self.connections.append(addr)
            conn.close()

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def orphaned_sandboxes() -> list[int]:
    """bubblewrap processes whose grader is gone (reparented to init): a sandbox that
    outlived its run. Other graders running at the same time keep their parents."""
    orphans = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        comm = stat[stat.find(b"(") + 1:stat.rfind(b")")]
        state, ppid = stat[stat.rfind(b")") + 2:].split()[:2]
        if comm == b"bwrap" and int(ppid) == 1 and state != b"Z":  # zombies are dead
            orphans.append(int(entry))
    return orphans


@pytest.fixture(scope="module", params=["warm", "fresh"])
def graded(request, tmp_path_factory, tensorflow_import_seconds):
    """The whole class graded once per kernel mode: warm kernels (forked from each
    worker's zygote, the default) and fresh ones (``--fresh-kernels``); every test of
    this module runs against both, so each verdict holds in both."""
    mode = request.param
    root = tmp_path_factory.mktemp(f"adversarial-{mode}")
    workspace, outside = root / "workspace", root / "outside"
    listener = Listener()
    orphans_before = set(orphaned_sandboxes())  # other graders' (this machine is shared)
    key_owners = keyring_attacks.key_owners()
    try:
        built = adversarial.build(workspace, REPO, listener.port, outside)
        canaries = adversarial.canary_paths(workspace, outside)
        before = [(p.stat().st_mtime, p.stat().st_atime, p.stat().st_size)
                  for p in canaries]
        # measured again now: the load may have changed since the session began
        measured = max(tensorflow_import_seconds, import_seconds())
        limits = machine_limits(measured)
        load = os.getloadavg()[0]
        started = time.monotonic()
        run = Run.of([ASSIGNMENT], limits, sandbox=True, fresh_kernels=mode == "fresh")
        graded_now = grading.grade(run, grading.GradeOptions(workspace, workers=2),
                                   io.StringIO(), io.StringIO())[ASSIGNMENT]
        results = {student: r.to_json() for student, r in graded_now.items()}  # as saved
        seconds = time.monotonic() - started
        after = [(p.stat().st_mtime, p.stat().st_atime, p.stat().st_size)
                 for p in canaries]
    finally:
        listener.close()
    with gradebook.open_gradebook(gradebook.db_url(workspace)) as gb:
        scores = gradebook.notebook_scores(gb, ASSIGNMENT, ASSIGNMENT)
        counts = gradebook.submitted_notebook_counts(gb, ASSIGNMENT)
        manual = {(student, gid): gb.find_grade(gid, ASSIGNMENT, ASSIGNMENT,
                                                student).needs_manual_grade
                  for student in scores for gid in adversarial.POINTS}
    return {"cases": built, "results": results, "scores": scores, "counts": counts,
            "manual": manual, "orphans_before": orphans_before,
            "kernel_keys": keyring_attacks.kernel_keys_left(key_owners),
            "canaries": canaries, "before": before, "after": after,
            "connections": list(listener.connections), "seconds": seconds,
            "workspace": workspace, "import_seconds": measured, "limits": limits,
            "load": (load, os.getloadavg()[0]), "mode": mode}


def test_the_class_covers_every_class_of_attack(graded):
    print(f"{graded['mode']} kernels: graded {len(graded['cases'])} adversarial "
          f"submissions in "
          f"{graded['seconds']:.0f} s with 2 workers; import tensorflow "
          f"{graded['import_seconds']:.1f} s, so cell limit "
          f"{graded['limits'].cell_timeout:.0f} s; load average "
          f"{graded['load'][0]:.1f} before, {graded['load'][1]:.1f} after")
    kinds = {}
    for case in graded["cases"].values():
        kinds.setdefault(case.kind, []).append(case.name)
    assert len(graded["cases"]) >= 25
    assert set(kinds) == {"control", "isolation", "judgement", "limits", "tampered",
                          "malformed"}
    assert set(graded["results"]) == set(graded["cases"])  # the batch never stopped


def pytest_generate_tests(metafunc):
    if "case_name" in metafunc.fixturenames:
        names = sorted(adversarial.case_names())
        metafunc.parametrize("case_name", names)


def test_case_outcome(graded, case_name):
    if case_name == "limit_fork_bomb" and os.geteuid() != 0:
        pytest.skip("the process limit needs a grader running as root (own uid per kernel)")
    case = graded["cases"][case_name]
    result = graded["results"][case_name]
    assert result["status"] == case.status, (result["status"], result.get("reason"))
    if case.reason:
        assert case.reason in (result.get("reason") or ""), result.get("reason")
    else:
        assert not result.get("reason"), result.get("reason")
    auto = {gid: part["points"] for gid, part in result["parts"].items() if part["auto"]}
    expected = case.parts if case.parts is not None else adversarial.ZERO
    assert auto == expected, {g: result["parts"][g]["messages"] for g in auto}
    assert result["score"] == sum(expected.values())
    # the gradebook agrees, part by part, and nothing waits for manual grading
    book = graded["scores"][case_name]
    assert {g: book["parts"][g] for g in expected} == expected
    assert not any(graded["manual"][case_name, g] for g in expected)  # scored, not pending
    for gid, wanted in case.messages.items():
        assert any(wanted in m for m in result["parts"][gid]["messages"]), \
            result["parts"][gid]["messages"]
    notes = result.get("notes", [])
    for wanted in case.notes:
        assert any(wanted in note for note in notes), (wanted, notes)
    if case.report:
        reports = [n for n in notes if "ATTACK-REPORT" in n]
        assert reports, notes  # the attack ran ...
        assert not any("LEAKED" in n for n in reports), reports  # ... and got nothing
    for marker in case.markers:
        assert not Path(marker).exists(), marker
    if case.secret:
        assert case.secret not in what_the_student_can_see(graded, case_name)
    if case.forged:
        assert_only_the_grader_says_passed(graded, case_name)


def autograded(graded, student: str) -> Path:
    return graded["workspace"] / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def what_the_student_can_see(graded, student: str) -> str:
    """The result, the feedback page, the autograded notebook (nbgrader's feedback is
    made from it) and the grading logs."""
    result = graded["results"][student]
    logs = [p.read_text(errors="replace")
            for p in (graded["workspace"] / "logs").rglob("*") if p.is_file()]
    return "\n".join([json.dumps(result), feedback.render(Result.from_json(result), None),
                      autograded(graded, student).read_text(), *logs])


def assert_only_the_grader_says_passed(graded, student: str) -> None:
    """Each test cell: one line starting "[hidden checks]", the grader's, agreeing with
    the cell's metadata; student lines that read so are marked as the notebook's."""
    import nbformat

    nb = nbformat.read(str(autograded(graded, student)), 4)
    result = graded["results"][student]
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        lines = [line for out in cell.get("outputs", []) for line in
                 out.get("text", "").splitlines() if re.match(r"\[hidden checks\]", line)]
        if gid not in adversarial.POINTS:
            assert lines == [], (gid, lines)
            continue
        verdict = cell.metadata["autograder"]["hidden_checks"]
        assert len(lines) == 1 and lines[0].endswith("passed") == verdict["passed"], lines
        assert verdict["passed"] == result["parts"][gid]["passed"]
    assert "(printed by the notebook, not the grader) [hidden checks] passed" in \
        nbformat.writes(nb)


def test_no_file_outside_the_sandbox_was_read_or_written(graded):
    for path, before, after in zip(graded["canaries"], graded["before"], graded["after"]):
        assert path.read_text() == adversarial.CANARY_TEXT
        assert after == before, path  # mtime, atime (a read would move it), size


def test_no_connection_reached_the_host(graded):
    assert graded["connections"] == []


def test_one_gradebook_entry_per_student(graded):
    assert set(graded["scores"]) == set(graded["cases"])
    assert all(n == 1 for n in graded["counts"].values()), graded["counts"]


def test_no_sandbox_outlived_the_run(graded):
    deadline = time.monotonic() + 10  # a sandbox being torn down right now may linger
    while set(orphaned_sandboxes()) - graded["orphans_before"]:
        assert time.monotonic() < deadline, orphaned_sandboxes()
        time.sleep(0.5)


def test_no_kernel_left_a_key_on_the_host(graded):
    """Linux's keyrings outlive the sandbox: after the run, no uid that is not an account
    of the host (a kernel's) owns a key that it did not own before."""
    assert graded["kernel_keys"] == set()


def test_every_kernel_was_of_the_run_s_mode(graded):
    """Warm means warm: no submission fell back to a fresh kernel unnoticed."""
    kinds = {name: r.get("kernel") for name, r in graded["results"].items()
             if r.get("kernel")}
    assert kinds and set(kinds.values()) == {graded["mode"]}, kinds
    assert not any(r.get("kernel_note") for r in graded["results"].values())
