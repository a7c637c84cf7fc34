"""``grade``: grade every new or changed submission of one or more assignments.

Orchestration only: given the run (``grading/run.py``: assignments, limits, sandbox,
kernels) and the command's options (``GradeOptions``), which submissions need grading
(content and grading inputs unchanged since the last result means nothing to do), one
pool of workers for all of them, each result saved as it arrives
(``results/<assignment>/<student>.json``, written atomically) and recorded in
nbgrader's gradebook, then a table per assignment. An interrupted run loses nothing:
the next run grades what is left. The workers grade with ``grading.grader``; this
module never runs student code.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from autograder import gradebook as gbook
from autograder import sandbox as kernels
from autograder.checks import ASSIGNMENTS
from autograder.errors import UsageError
from autograder.commands.progress import Progress
from autograder.commands.recording import Recorder, recorded, stamp
from autograder.grading import submission
from autograder.grading.assignment import Assignment, load_assignment, missing_checks
from autograder.grading.result import Result, load_results
from autograder.grading.run import AssignmentSource, Run, Submission
from autograder.grading.stopwatch import Stopwatch
from autograder.notebook.nbgrader_cells import graded_parts
from autograder.pool import KERNEL_THREAD_ENV, Pool, PoolConfig, default_workers
from autograder.queue.instructor import QueueConfig, QueuePool, limits_problem
from autograder.queue.tables import JobKey
from autograder.workspace import (
    Writes, check_workspace, folder_sha256, notebook_in, roster_names, submission_dirs,
)


@dataclass
class GradeOptions:
    """Which submissions a ``grade`` command grades and who grades them: the workspace
    and its gradebook (``db``), some ``students`` only, unchanged ones again
    (``force``), ``workers`` on this machine or the task queue's at ``broker``."""

    workspace: Path
    db: str | None = None
    students: list[str] | None = None
    force: bool = False
    workers: int | None = None  # default: the cores
    broker: str | None = None
    requeue: bool = False  # with broker: queue again what is queued or running
    retry_dead: bool = False  # with broker: queue again the queue's final failures
    keep_graded_days: float = 0.0  # with broker: graded notebooks kept in the database


@dataclass
class Plan:
    """What one ``grade`` command grades, and what it keeps from earlier runs."""

    workspace: Path
    loaded: dict[str, Assignment]
    found: dict[str, dict[str, Path]] = field(default_factory=dict)
    hashes: dict[tuple[str, str], str] = field(default_factory=dict)
    results: dict[str, dict[str, Result]] = field(default_factory=dict)
    renamed: dict[tuple[str, str], str | None] = field(default_factory=dict)
    todo: list[Submission] = field(default_factory=list)
    parts: dict[str, list[dict]] = field(default_factory=dict)  # graded_parts of each


def grade(run: Run, options: GradeOptions, out=None, err=None
          ) -> dict[str, dict[str, Result]]:
    """Grade every new or changed submission of the run's assignments in one pool of
    workers (with ``options.broker``: on the task queue's workers, results through
    ``options.db``); returns {assignment: {student: result}} for every submission
    (graded now or earlier)."""
    out, err = out or sys.stdout, err or sys.stderr
    if options.broker:
        check_queue_run(run, options)
    options = dataclasses.replace(options, workspace=check_workspace(options.workspace))
    loaded = {name: load(name, where) for name, where in run.assignments.items()}
    if not options.broker:  # the queue's workers grade in their own sandbox
        run = dataclasses.replace(run, sandbox=choose_sandbox(run.sandbox, err))
    plan = plan_run(options, loaded, err)
    if options.retry_dead:
        add_dead_letters(plan, options.db)
    pool, n_workers = make_pool(run, options, plan, err)
    try:
        run_pool(plan, pool, n_workers, gbook.db_url(options.workspace, options.db),
                 run.sandbox, err)
    except BaseException:
        pool.shutdown(kill=True)
        raise
    graded_now = {t.id for t in plan.todo}
    for name in loaded:
        if len(loaded) > 1:
            print(f"\n{name}", file=out)
        print_table(plan.results[name], {s for s in plan.results[name]
                                         if f"{name}/{s}" in graded_now}, out)
    return plan.results


def check_queue_run(run: Run, options: GradeOptions) -> None:
    """What ``grade --broker`` cannot ask: the workers own the rules (their checkout's
    assignments, their sandbox, limits within their maxima)."""
    if not options.db:
        raise UsageError("--broker needs --db: the workers store their results in a "
                         "database they can reach (postgresql://...)")
    if any(where != AssignmentSource() for where in run.assignments.values()):
        raise UsageError("--source, --checks and --references grade on this machine only: "
                         "the queue's workers grade the assignments of their own checkout")
    if run.sandbox is not None:
        raise UsageError("--sandbox and --no-sandbox choose for this machine only: each "
                         "queue worker grades in its sandbox (unless started with "
                         "--unsandboxed)")
    problem = limits_problem(run.limits)
    if problem:
        raise UsageError(problem)


def add_dead_letters(plan: Plan, db: str | None) -> None:
    """``--retry-dead``: the queue's dead letters of the plan's submissions are graded
    again, even though their failure is final."""
    from autograder.queue import tables

    engine = tables.connect(db)
    try:
        with engine.connect() as conn:
            dead = {(a, s) for a, s, _, _ in tables.dead_letters(conn)}
    finally:
        engine.dispose()
    queued = {t.id for t in plan.todo}
    for name, found in plan.found.items():
        assignment = plan.loaded[name]
        for student, folder in found.items():
            if (name, student) in dead and f"{name}/{student}" not in queued:
                path, plan.renamed[name, student] = notebook_in(folder, assignment.notebook)
                graded = (plan.workspace / "autograded" / student / name
                          / f"{assignment.notebook}.ipynb")
                plan.todo.append(Submission(student, name, path, graded))
                plan.results[name].pop(student, None)
    print(f"--retry-dead: {len(plan.todo) - len(queued)} dead letters queued again",
          file=sys.stderr)


def make_pool(run: Run, options: GradeOptions, plan: Plan, err):
    """(the pool that grades ``plan.todo``, its number of local workers): the task
    queue's (0 local workers: they run wherever they run) or worker processes here."""
    backstop = submission.task_backstop(run.limits)  # for a stuck worker
    if options.broker:
        return QueuePool(QueueConfig(
            options.broker, gbook.db_url(options.workspace, options.db), run, backstop,
            job_keys(plan), force=options.force, requeue=options.requeue,
            retry_dead=options.retry_dead, keep_graded_days=options.keep_graded_days,
            err=err)), 0
    n_workers = max(1, min(options.workers or default_workers(), len(plan.todo) or 1))
    log_dir = options.workspace / "logs" / "+".join(run.assignments)
    return Pool(PoolConfig(run=run, workers=n_workers, task_timeout=backstop,
                           log_dir=log_dir, env=KERNEL_THREAD_ENV)), n_workers


def job_keys(plan: Plan) -> dict[str, JobKey]:
    """The task queue's key of every submission to grade: student, content, grader."""
    return {task.id: JobKey(task.student, plan.hashes[task.assignment, task.student],
                            plan.loaded[task.assignment].fingerprint)
            for task in plan.todo}


def load(name: str, where: AssignmentSource) -> Assignment:
    """The assignment, refused with one line when it has no notebook, checks or
    references, or when a graded part has no check."""
    module = where.checks or f"autograder.checks.{name}"
    try:
        assignment = load_assignment(name, where)
    except FileNotFoundError as error:
        known = "" if where.source else f" (the course's: {', '.join(ASSIGNMENTS)})"
        detail = error.strerror and f"no file {error.filename}" or str(error)
        raise UsageError(f"unknown assignment {name!r}: {detail}{known}") from None
    except ModuleNotFoundError as error:
        if error.name != module:
            raise
        raise UsageError(f"{name}: no checks module {module}") from None
    missing = missing_checks(assignment)
    if missing:
        raise UsageError(f"{name}: no check or reference for the graded part(s) "
                         f"{', '.join(missing)} (run python -m autograder references?)")
    return assignment


def choose_sandbox(sandbox: bool | None, err) -> bool:
    """``--sandbox`` requires it, ``--no-sandbox`` refuses it, else: when available."""
    if sandbox and not kernels.sandbox_available():
        raise UsageError(f"--sandbox: {kernels.sandbox_status()}")
    if sandbox is False:
        print("sandbox off (--no-sandbox): student code runs with your permissions",
              file=err)
        return False
    if sandbox is None:
        sandbox = kernels.sandbox_available()
        if not sandbox:
            kernels.warn_unsandboxed()  # once, here; workers inherit the flag
    return sandbox


def plan_run(options: GradeOptions, loaded: dict[str, Assignment], err) -> Plan:
    """Every submission whose content or grading inputs changed goes to ``todo``."""
    workspace = options.workspace
    plan = Plan(workspace, loaded)
    for name, assignment in loaded.items():
        found = submission_dirs(workspace, name)
        if options.students:
            found = {s: d for s, d in found.items() if s in set(options.students)}
        if not found:
            raise UsageError(f"no submissions in {workspace}/submitted/*/{name}/ "
                             "(run collect first)")
        plan.found[name] = found
        previous = load_results(workspace, name)
        plan.results[name] = {}
        for student, folder in found.items():
            digest = plan.hashes[name, student] = folder_sha256(folder)
            old = previous.get(student)
            fresh = (old is not None and old.submission_sha256 == digest
                     and old.grader_sha256 == assignment.fingerprint and old.final)
            if fresh and not options.force:
                plan.results[name][student] = old
                continue
            path, plan.renamed[name, student] = notebook_in(folder, assignment.notebook)
            graded = (workspace / "autograded" / student / name
                      / f"{assignment.notebook}.ipynb")
            plan.todo.append(Submission(student, name, path, graded))
        print(f"{name}: {len(found)} submissions, "
              f"{sum(t.assignment == name for t in plan.todo)} to grade "
              f"({len(plan.results[name])} unchanged)", file=err)
    return plan


def run_pool(plan: Plan, pool: Pool, n_workers: int, url: str, sandbox: bool, err) -> None:
    """Start the workers, prepare the gradebook meanwhile, grade, record the results
    in batches (``recording.py``)."""
    names_csv = roster_names(plan.workspace)
    if plan.todo:
        pool.start(n_workers)  # workers load while the gradebook is prepared
        print(f"{len(plan.todo)} notebooks, " + (f"{n_workers} workers" if n_workers
              else "graded by the task queue's workers"), file=err)
    for name, assignment in plan.loaded.items():
        try:
            gbook.ensure_assignment(url, name, assignment.template_path)
        except RuntimeError as error:  # nbgrader: graded cells changed after submissions
            raise UsageError(f"gradebook {url}: {error}") from None

    def details(result: Result) -> tuple[str, str | None, str | None]:
        folder = plan.found[result.assignment][result.student]
        return (plan.loaded[result.assignment].notebook, gbook.read_timestamp(folder),
                names_csv.get(result.student))

    with gbook.open_gradebook(url) as gb, Writes() as writes:
        recorder = Recorder(gb, url, plan.workspace, details, err)
        # Results saved before an interruption, or for another gradebook, reach it now
        for name, by_student in plan.results.items():
            done = recorded(plan.workspace, name, url)
            for student, result in by_student.items():
                if (student, stamp(result)) not in done:
                    recorder.add(result)
        recorder.flush()
        if not plan.todo:
            return
        progress = Progress(len(plan.todo), f"grading {', '.join(plan.loaded)}", stream=err)

        def on_result(task: Submission, result: Result) -> None:
            watch = Stopwatch()
            result = complete_result(plan, task, result, sandbox)
            recorder.add(result)  # recorded in batches (recording.py)
            # saved after it is recorded, with what recording it cost (an interruption
            # between the two grades it again: recording is idempotent)
            watch.lap("record result")
            result.profile = (result.profile or []) + watch.take()
            save_result(plan, result, writes)  # written by writes' threads meanwhile
            progress.advance(failed=result.status != "graded")

        progress.start()
        try:
            # the pool waits for the writes before it forgets anything it handed over
            pool.run(plan.todo, on_result, progress.tick, writes.wait)
            writes.wait()
        except RuntimeError as error:  # a worker could not load an assignment
            raise UsageError(str(error)) from None
        finally:
            progress.close()
            writes.close()  # what was handed over is written, even after a failure
            recorder.flush()


def complete_result(plan: Plan, task: Submission, result: Result, sandbox: bool
                    ) -> Result:
    """Complete a worker's result with what identifies it."""
    name, student = task.assignment, task.student
    assignment = plan.loaded[name]
    if name not in plan.parts:  # read once per assignment, not once per result
        plan.parts[name] = graded_parts(assignment.template)
    result.with_every_part(plan.parts[name])
    if plan.renamed.get((name, student)):
        result.notes.insert(0, plan.renamed[name, student])
    result.student, result.assignment = student, name
    result.submission_sha256 = plan.hashes[name, student]
    result.grader_sha256 = assignment.fingerprint
    if result.sandboxed is None:  # a queue worker says for itself
        result.sandboxed = sandbox
    result.graded_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return result


def save_result(plan: Plan, result: Result, writes: Writes | None = None) -> None:
    """Save a completed result (by ``writes``' threads when given); later steps of
    the run see it."""
    result.save(plan.workspace, writes)
    plan.results[result.assignment][result.student] = result


def print_table(results: dict[str, Result], graded_now: set[str], out) -> None:
    """One line per student: status, score, why; then a summary line."""
    rows = []
    for student in sorted(results):
        r = results[student]
        why = r.reason or "; ".join(r.notes[:2])
        rows.append((student, r.status, f"{r.score:g}/{r.max_score:g}",
                     "" if student in graded_now else "(unchanged)",
                     why if len(why) <= 100 else why[:99] + "…"))
    print(tabulate(rows, headers=("student", "status", "score", "", "why / notes"),
                   tablefmt="plain", disable_numparse=True), file=out)
    failed = sum(r.status != "graded" for r in results.values())
    summary = f"{len(results)} submissions: {len(results) - failed} graded, {failed} failed"
    # the score column counts automatic points only; say what is left for the formgrader
    parts = next((r.parts for r in results.values() if r.parts), {})
    by_hand = sum(part.max_points for part in parts.values() if not part.auto)
    if by_hand:
        total = sum(part.max_points for part in parts.values())
        summary += (f"; {by_hand:g} of the {total:g} points are written answers, to "
                    "grade by hand in nbgrader's formgrader")
    review = sum(len(r.held_for_review()) for r in results.values())
    if review:  # the grader failed there (a judge error, a probe timeout): not a 0
        parts_held = "1 part" if review == 1 else f"{review} parts"
        summary += f"; {parts_held} held for your review (their messages say why)"
    print(summary, file=out)
