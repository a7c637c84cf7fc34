"""What one grading worker holds between submissions: ``Grader``.

The local pool's workers (``autograder/pool.py``) and the task queue's workers
(``autograder/queue/worker.py``) both grade through it, so both give the same verdicts.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

from autograder import sandbox as kernels
from autograder.grading.assignment import load_assignment
from autograder.grading.notebook_run import is_setup_cell
from autograder.grading.result import Result
from autograder.grading.run import Run, Submission
from autograder.grading.stopwatch import Stopwatch
from autograder.grading.submission import Kernels, grade_submission
from autograder.sandbox import zygote


class Grader:
    """What one grading worker holds between submissions: the run (``run.py``: its
    assignments, loaded once, its limits and sandbox choice) and its warm kernels.
    Kernels are warm (forked from the worker's zygote, sandbox/zygote.py) unless the run
    asks for fresh ones or the machine cannot (``cold`` says why, per assignment).
    It also keeps how long each part's hidden checks take on the reference answer on
    this worker, measured the first time a submission's checks time out
    (``reference_seconds``).
    """

    def __init__(self, run: Run):
        # times this worker from its start: the first result's profile shows what
        # starting it cost, each result what grading it cost
        self.watch = Stopwatch(since=0.0)
        self.watch.wall -= process_age()
        self.graded = 0
        self.run = run
        self.assignments = {name: load_assignment(name, where)
                            for name, where in run.assignments.items()}
        self.warm: zygote.WarmKernels | None = None
        self.cold: dict[str, str] = {}  # assignment -> why it gets fresh kernels
        self.reference: dict[str, dict[str, float]] = {}  # assignment -> {grade_id: s}
        self._start_zygote()

    @property
    def sandboxed(self) -> bool:
        """Whether its kernels run in the sandbox."""
        return bool(self.run.sandbox is not False and kernels.sandbox_available())

    def _start_zygote(self) -> None:
        sandboxed = self.sandboxed
        why = ("fresh kernels were asked for (--fresh-kernels)"
               if self.run.fresh_kernels else zygote.why_not_warm(sandboxed))
        imports = {name: setup_imports(a.template) for name, a in self.assignments.items()}
        for name, modules in imports.items():
            unsafe = zygote.preload_list(modules)[1]
            if why or unsafe:
                self.cold[name] = why or (f"its set-up imports {', '.join(unsafe)}, which "
                                          "must not be imported before fork")
        warm = [m for name, modules in imports.items() if name not in self.cold
                for m in modules]
        if warm:
            self.warm = zygote.WarmKernels(zygote.preload_list(warm)[0])
            # the zygote imports in the background: its time is its own step
            warm = self.warm
            self.watch.watch("zygote imports", lambda: warm.cpu_seconds(False),
                             step="zygote imports")
            self.watch.watch("zygote", lambda: warm.cpu_seconds(True))

    def _kernels(self, name: str) -> Kernels:
        return Kernels(self.run.limits, self.run.sandbox,
                       None if name in self.cold else self.warm)

    def grade(self, submission: Submission) -> Result:
        """Grade one submission of one of the run's assignments; never raises."""
        name = submission.assignment
        how = self._kernels(name)
        how.reference_seconds = lambda gid: self.reference_seconds(name, gid)
        self.watch.lap("between submissions" if self.graded else "worker start",
                       wall=not self.graded)  # waiting for work is no submission's
        self.graded += 1
        result = grade_submission(submission.notebook, self.assignments[name], how,
                                  submission.graded, self.watch)
        if name in self.cold:
            result.kernel = "fresh"
            if not self.run.fresh_kernels:  # a fallback, not the instructor's choice
                result.kernel_note = self.cold[name]
        return result

    def reference_seconds(self, name: str, gid: str) -> float | None:
        """How long the hidden checks of part ``gid`` take on the reference answer (the
        instructor's notebook) on this worker, with this run's kernels and limits; None
        when they did not pass there. The reference is graded once per worker and
        assignment, the first time it is asked (after a submission's checks timed out)."""
        if name not in self.reference:
            assignment = self.assignments[name]
            result = grade_submission(assignment.template_path, assignment,
                                      self._kernels(name))
            self.reference[name] = {g: part.check_seconds for g, part in result.parts.items()
                                    if part.passed and part.check_seconds is not None}
            print(f"autograder: hidden checks of {name} on the reference answer, on this "
                  f"worker: " + ", ".join(f"{g} {t:.1f} s" for g, t in
                                         self.reference[name].items()),
                  file=sys.stderr, flush=True)
        return self.reference[name].get(gid)

    def close(self) -> None:
        """Stop the worker's zygote, if any."""
        if self.warm is not None:
            self.warm.close()
            self.warm = None


def process_age() -> float:
    """Wall seconds since this process started (0 where /proc cannot say)."""
    try:
        stat = Path("/proc/self/stat").read_bytes()
        started = int(stat[stat.rfind(b")") + 2:].split()[19]) / os.sysconf("SC_CLK_TCK")
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - started)


def setup_imports(notebook) -> list[str]:
    """The modules the instructor's set-up cells import, in order (what a zygote
    preloads)."""
    modules: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or not is_setup_cell(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.append(node.module)
    return list(dict.fromkeys(modules))
