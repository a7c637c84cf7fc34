"""A worker checks itself before it takes any message: ``check_worker``.

A worker that cannot grade as the instructor's machine would must not take messages:
each one it took would be refused in milliseconds, and one bad machine would drain the
queue. So before consuming, ``python -m autograder worker`` checks:

1. its sandbox: bubblewrap works, unless it was started with ``--unsandboxed``;
2. its environment: every package the lock (``requirements.txt``) pins for this
   platform is installed at that version;
3. its checkout: every assignment of the course loads (notebook, checks, references),
   and its fingerprint (which covers the grading code and the lock) is computed;
4. its grading: a known submission, the solution of ``KNOWN_ASSIGNMENT``, is graded,
   in the sandbox, to full marks.

Any failure: the worker exits with the reason, before touching the queue.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from autograder import sandbox as kernels
from autograder.checks import ASSIGNMENTS
from autograder.grading.assignment import REPO, load_assignment
from autograder.grading.fingerprint import code_fingerprint
from autograder.grading.grader import Grader
from autograder.grading.run import Run, Submission
from autograder.queue.settings import patience_problem

#: the assignment whose solution a worker grades at start (its cheapest to grade)
KNOWN_ASSIGNMENT = "adaptive"
LOCK = REPO / "requirements.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*(.+))?$")


@dataclass
class Check:
    problem: str | None = None  # why this worker must not start
    fingerprint: str = ""  # of its grading code and lock
    notes: list[str] = field(default_factory=list)  # what it says in its log


def lock_mismatches(lock: Path = LOCK) -> list[str]:
    """Each package the lock pins for this platform that is missing or at another
    version, as "name: installed X, locked Y"."""
    from packaging.markers import Marker
    from packaging.utils import canonicalize_name

    wrong = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if not match:
            continue
        name, version, marker = match.groups()
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = metadata.version(canonicalize_name(name))
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong.append(f"{name}: installed {installed or 'nothing'}, locked {version}")
    return wrong


def known_submission_problem(unsandboxed: bool) -> str | None:
    """Grade the solution of ``KNOWN_ASSIGNMENT`` as a worker grades (the sandbox, warm
    kernels); why it did not get full marks, or None."""
    run = Run.of([KNOWN_ASSIGNMENT], sandbox=None if unsandboxed else True)
    grader = Grader(run)
    try:
        notebook = grader.assignments[KNOWN_ASSIGNMENT].template_path
        with tempfile.TemporaryDirectory(prefix="autograder-selfcheck-") as tmp:
            result = grader.grade(Submission("self-check", KNOWN_ASSIGNMENT, notebook,
                                             Path(tmp) / "graded.ipynb"))
    finally:
        grader.close()
    full = sum(p.max_points for p in result.parts.values() if p.auto)
    got = sum(p.points or 0.0 for p in result.parts.values() if p.auto)
    if result.status != "graded" or got != full:
        return (f"the solution of {KNOWN_ASSIGNMENT} graded {result.status}, {got:g} of "
                f"{full:g} points ({result.reason or 'no reason given'})")
    return None


def check_worker(unsandboxed: bool, broker: str, grading_limit: float,
                 visibility_timeout: float, consumer_timeout: float) -> Check:
    """The checks above, in order; the first problem stops them."""
    check = Check(fingerprint=code_fingerprint())
    if not kernels.sandbox_available():
        if not unsandboxed:
            check.problem = (f"no sandbox ({kernels.sandbox_status()}); install bubblewrap, "
                             "or start the worker with --unsandboxed to grade without one "
                             "(student code then runs with the worker's permissions)")
            return check
        check.notes.append(f"WARNING: --unsandboxed, and {kernels.sandbox_status()}: "
                           "student code runs with this worker's permissions")
    elif unsandboxed:
        check.notes.append("--unsandboxed given, but bubblewrap works: grading sandboxed")
    wrong = lock_mismatches()
    if wrong:
        check.problem = (f"{len(wrong)} installed package(s) differ from requirements.txt "
                         f"({'; '.join(wrong[:3])}): pip install -r requirements.txt")
        return check
    try:
        for name in ASSIGNMENTS:
            load_assignment(name)
    except Exception as error:  # noqa: BLE001 - any failure to load: say which and why
        check.problem = (f"the assignment {name} does not load: "
                         f"{type(error).__name__}: {error}")
        return check
    check.problem = known_submission_problem(unsandboxed)
    if check.problem:
        return check
    check.notes.append(f"self-check: the solution of {KNOWN_ASSIGNMENT} graded to full "
                       "marks")
    why = patience_problem(broker, grading_limit, visibility_timeout, consumer_timeout)
    if why:
        check.notes.append(f"warning: {why}")
    check.notes.append(f"fingerprint of the grading code and lock: {check.fingerprint[:12]}")
    return check
