"""``grade``: grade every new or changed submission of one or more assignments.

Orchestration only: which submissions need grading (content and grading inputs
unchanged since the last result means nothing to do), one pool of workers for all of
them, each result saved as it arrives (``results/<assignment>/<student>.json``, written
atomically) and recorded in nbgrader's gradebook, then a table per assignment. An
interrupted run loses nothing: the next run grades what is left. The workers grade with
``grade_one``; this module never runs student code.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from autograder import grade_one
from autograder import gradebook as gbook
from autograder import sandbox as kernels
from autograder.cells import graded_parts
from autograder.checks import ASSIGNMENTS
from autograder.errors import UsageError
from autograder.jobstore import JobKey
from autograder.progress import Progress
from autograder.queued import QueueConfig, QueuePool
from autograder.scheduler import KERNEL_THREAD_ENV, Pool, PoolConfig, Task, default_workers
from autograder.workspace import (
    atomic_write_text, check_workspace, folder_sha256, load_results, notebook_in,
    results_dir, roster_names, submission_dirs,
)


@dataclass
class Plan:
    """What one ``grade`` run grades, and what it keeps from earlier runs."""

    workspace: Path
    loaded: dict[str, grade_one.Assignment]
    found: dict[str, dict[str, Path]] = field(default_factory=dict)
    hashes: dict[tuple[str, str], str] = field(default_factory=dict)
    results: dict[str, dict[str, dict]] = field(default_factory=dict)
    renamed: dict[tuple[str, str], str | None] = field(default_factory=dict)
    todo: list[Task] = field(default_factory=list)


def grade(workspace, assignments, *, workers: int | None = None, force: bool = False,
          db: str | None = None, limits=None, sandbox: bool | None = None,
          source: str | None = None, checks: str | None = None,
          references: str | None = None, students: list[str] | None = None,
          broker: str | None = None, requeue: bool = False,
          fresh_kernels: bool = False, out=None, err=None) -> dict[str, dict[str, dict]]:
    """Grade every new or changed submission of one or more assignments in one pool of
    workers (with ``broker``: on the task queue's workers, results through ``db``);
    returns {assignment: {student: result}} for every submission (graded now or
    earlier)."""
    out, err = out or sys.stdout, err or sys.stderr
    names = [assignments] if isinstance(assignments, str) else list(assignments)
    if (checks or references) and len(names) > 1:
        raise UsageError("--checks and --references apply to one assignment at a time")
    if broker and not db:
        raise UsageError("--broker needs --db: the workers store their results in a "
                         "database they can reach (postgresql://...)")
    workspace = check_workspace(workspace)
    limits = limits or kernels.Limits()
    loaded = {name: load(name, source, checks, references) for name in names}
    sandbox = choose_sandbox(sandbox, err)
    plan = plan_run(workspace, loaded, students, force, err)
    spec = {"assignments": {name: {"source": source, "checks": checks,
                                   "references": references} for name in names},
            "limits": dataclasses.asdict(limits), "sandbox": sandbox,
            "fresh_kernels": fresh_kernels}  # else warm kernels (sandbox/zygote.py)
    if broker:
        n_workers = 0  # the queue's workers, wherever they run
        pool = QueuePool(QueueConfig(
            broker, gbook.db_url(workspace, db), spec, grade_one.task_backstop(limits),
            job_keys(plan), force=force, requeue=requeue, err=err))
    else:
        n_workers = max(1, min(workers or default_workers(), len(plan.todo) or 1))
        pool = Pool(PoolConfig(spec=spec, workers=n_workers,
                               # a backstop for a stuck worker
                               task_timeout=grade_one.task_backstop(limits),
                               log_dir=workspace / "logs" / "+".join(names),
                               env=KERNEL_THREAD_ENV))
    try:
        run_pool(plan, pool, n_workers, gbook.db_url(workspace, db), sandbox, err)
    except BaseException:
        pool.shutdown(kill=True)
        raise
    graded_now = {t.id for t in plan.todo}
    for name in names:
        if len(names) > 1:
            print(f"\n{name}", file=out)
        print_table(plan.results[name], {s for s in plan.results[name]
                                         if f"{name}/{s}" in graded_now}, out)
    return plan.results


def job_keys(plan: Plan) -> dict[str, JobKey]:
    """The task queue's key of every submission to grade: student, content, grader."""
    keys = {}
    for task in plan.todo:
        student = task.id.split("/", 1)[1]
        keys[task.id] = JobKey(student, plan.hashes[task.assignment, student],
                               plan.loaded[task.assignment].fingerprint)
    return keys


def load(name: str, source, checks, references) -> grade_one.Assignment:
    """The assignment, refused with one line when it has no notebook, checks or
    references, or when a graded part has no check."""
    module = checks or f"autograder.checks.{name}"
    try:
        assignment = grade_one.load_assignment(name, source, checks, references)
    except FileNotFoundError as error:
        known = "" if source else f" (the course's: {', '.join(ASSIGNMENTS)})"
        detail = error.strerror and f"no file {error.filename}" or str(error)
        raise UsageError(f"unknown assignment {name!r}: {detail}{known}") from None
    except ModuleNotFoundError as error:
        if error.name != module:
            raise
        raise UsageError(f"{name}: no checks module {module}") from None
    missing = grade_one.missing_checks(assignment)
    if missing:
        raise UsageError(f"{name}: no check or reference for the graded part(s) "
                         f"{', '.join(missing)} (run python -m autograder.references?)")
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


def plan_run(workspace: Path, loaded: dict, students, force: bool, err) -> Plan:
    """Every submission whose content or grading inputs changed goes to ``todo``."""
    plan = Plan(workspace, loaded)
    for name, assignment in loaded.items():
        found = submission_dirs(workspace, name)
        if students:
            found = {s: d for s, d in found.items() if s in set(students)}
        if not found:
            raise UsageError(f"no submissions in {workspace}/submitted/*/{name}/ "
                             "(run collect first)")
        plan.found[name] = found
        previous = load_results(workspace, name)
        plan.results[name] = {}
        for student, folder in found.items():
            digest = plan.hashes[name, student] = folder_sha256(folder)
            old = previous.get(student)
            fresh = (old is not None and old.get("submission_sha256") == digest
                     and old.get("grader_sha256") == assignment.fingerprint
                     and old.get("final", True))
            if fresh and not force:
                plan.results[name][student] = old
                continue
            path, plan.renamed[name, student] = notebook_in(folder, assignment.notebook)
            graded = (workspace / "autograded" / student / name
                      / f"{assignment.notebook}.ipynb")
            plan.todo.append(Task(f"{name}/{student}", str(path), name, str(graded)))
        print(f"{name}: {len(found)} submissions, "
              f"{sum(t.assignment == name for t in plan.todo)} to grade "
              f"({len(plan.results[name])} unchanged)", file=err)
    return plan


def run_pool(plan: Plan, pool: Pool, n_workers: int, url: str, sandbox: bool, err) -> None:
    """Start the workers, prepare the gradebook meanwhile, grade, record each result."""
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
    with gbook.open_gradebook(url) as gb:
        # Results saved before an interruption reach the gradebook now (idempotent).
        for name, by_student in plan.results.items():
            for student, result in by_student.items():
                gbook.record(gb, name, plan.loaded[name].notebook, student, result,
                             gbook.read_timestamp(plan.found[name][student]),
                             names_csv.get(student))
        if not plan.todo:
            return
        progress = Progress(len(plan.todo), f"grading {', '.join(plan.loaded)}", stream=err)

        def on_result(task_id: str, result: dict) -> None:
            name, student = task_id.split("/", 1)
            result = save_result(plan, name, student, result, sandbox)
            gbook.record(gb, name, plan.loaded[name].notebook, student, result,
                         gbook.read_timestamp(plan.found[name][student]),
                         names_csv.get(student))
            progress.advance(failed=result["status"] != "graded")

        progress.start()
        try:
            pool.run(plan.todo, on_result, progress.tick)
        except RuntimeError as error:  # a worker could not load an assignment
            raise UsageError(str(error)) from None
        finally:
            progress.close()


def save_result(plan: Plan, name: str, student: str, result: dict, sandbox: bool) -> dict:
    """Complete a worker's result with what identifies it, and write it atomically."""
    assignment = plan.loaded[name]
    result = complete_result(result, assignment)
    if plan.renamed.get((name, student)):
        result.setdefault("notes", []).insert(0, plan.renamed[name, student])
    result.update(student=student, assignment=name,
                  submission_sha256=plan.hashes[name, student],
                  grader_sha256=assignment.fingerprint,
                  final=result.get("final", True), sandboxed=sandbox,
                  graded_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    atomic_write_text(results_dir(plan.workspace, name) / f"{student}.json",
                      json.dumps(result, indent=1))
    plan.results[name][student] = result
    return result


def complete_result(result: dict, assignment: grade_one.Assignment) -> dict:
    """A worker failure has no parts: give every auto part 0 so that the gradebook,
    feedback and export see the same parts for every student."""
    if "parts" in result:
        return result
    parts = {}
    for part in graded_parts(assignment.template):
        parts[part["grade_id"]] = {
            "title": part["title"], "max_points": part["max_points"],
            "auto": part["auto"], "points": 0.0 if part["auto"] else None,
            "passed": False if part["auto"] else None,
            "messages": ["not graded: " + result.get("reason", "")], "notes": []}
    return dict(result, parts=parts, notes=[],
                score=0.0, max_score=sum(p["max_points"] for p in parts.values()))


def print_table(results: dict[str, dict], graded_now: set[str], out) -> None:
    """One line per student: status, score, why; then a summary line."""
    rows = []
    for student in sorted(results):
        r = results[student]
        why = r.get("reason") or "; ".join(r.get("notes", [])[:2])
        rows.append((student, r["status"],
                     f"{r.get('score', 0):g}/{r.get('max_score', 0):g}",
                     "" if student in graded_now else "(unchanged)",
                     why if len(why) <= 100 else why[:99] + "…"))
    print(tabulate(rows, headers=("student", "status", "score", "", "why / notes"),
                   tablefmt="plain", disable_numparse=True), file=out)
    failed = sum(r["status"] != "graded" for r in results.values())
    summary = f"{len(results)} submissions: {len(results) - failed} graded, {failed} failed"
    # the score column counts automatic points only; say what is left for the formgrader
    parts = next((r["parts"] for r in results.values() if r.get("parts")), {})
    by_hand = sum(part["max_points"] for part in parts.values() if not part["auto"])
    if by_hand:
        total = sum(part["max_points"] for part in parts.values())
        summary += (f"; {by_hand:g} of the {total:g} points are written answers, to "
                    "grade by hand in nbgrader's formgrader")
    review = sum(bool(p.get("review")) for r in results.values()
                 for p in (r.get("parts") or {}).values())
    if review:  # the grader failed there (a judge error, a probe timeout): not a 0
        parts_held = "1 part" if review == 1 else f"{review} parts"
        summary += f"; {parts_held} held for your review (their messages say why)"
    print(summary, file=out)
