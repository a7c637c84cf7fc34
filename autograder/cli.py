"""``python -m autograder {collect,grade,feedback,export,report}``: grade a class.

The workspace folder (``--workspace``) holds the instructor's working data, in nbgrader's
layout so that nbgrader's own commands work there too::

    <workspace>/submitted/<student>/<assignment>/<assignment>.ipynb   (collect)
    <workspace>/gradebook.db              nbgrader's gradebook (or --db URL)
    <workspace>/results/<assignment>/<student>.json   one result per submission
    <workspace>/autograded/<student>/<assignment>/<assignment>.ipynb   as it ran (for
                                          nbgrader's formgrader; no hidden tests)
    <workspace>/feedback/<student>/<assignment>/<assignment>.html
    <workspace>/export/<assignment>.csv, <workspace>/report.html
    <workspace>/logs/                     the grading workers' logs

It must live outside version control (it holds students' work and grades).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import gradebook as gbook
from autograder import grade_one
from autograder.scheduler import (
    KERNEL_THREAD_ENV, Pool, PoolConfig, Progress, Task, default_workers,
)


class UsageError(Exception):
    """A problem the instructor can fix; printed without a traceback."""


# ----------------------------------------------------------------------------- workspace
def check_workspace(workspace: Path, create: bool = True) -> Path:
    """The workspace, refused if git would track it (students' work and grades must
    never be committed)."""
    workspace = Path(workspace).expanduser().resolve()
    if create:
        workspace.mkdir(parents=True, exist_ok=True)
    elif not workspace.is_dir():
        raise UsageError(f"no workspace folder {workspace}")
    try:
        inside = subprocess.run(["git", "-C", str(workspace), "rev-parse",
                                 "--is-inside-work-tree"], capture_output=True, text=True)
        if inside.returncode == 0 and inside.stdout.strip() == "true":
            ignored = subprocess.run(["git", "-C", str(workspace), "check-ignore", "-q",
                                      "."], capture_output=True)
            if ignored.returncode != 0:
                raise UsageError(
                    f"the workspace {workspace} is inside a git repository and not "
                    "ignored: students' work and grades must stay out of version "
                    "control (choose a folder outside the repository, or one that "
                    ".gitignore lists, such as workspace/)")
    except FileNotFoundError:  # no git on this machine: nothing can track it
        pass
    return workspace


def atomic_write_text(path: Path, text: str) -> None:
    """Write a whole file or nothing (a kill mid-write leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def submission_dirs(workspace: Path, assignment: str) -> dict[str, Path]:
    """{student: <workspace>/submitted/<student>/<assignment>} for every student."""
    root = workspace / "submitted"
    out = {}
    for student_dir in sorted(root.iterdir()) if root.is_dir() else []:
        sub = student_dir / assignment
        if not student_dir.name.startswith(".") and sub.is_dir():
            out[student_dir.name] = sub
    return out


def folder_sha256(folder: Path) -> str:
    """Content hash of a submission folder (every file, names included)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(p.startswith(".") for p in rel.parts):
            digest.update(str(rel).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def notebook_in(folder: Path, notebook: str) -> tuple[Path, str | None]:
    """The notebook to grade in a submission folder: ``<notebook>.ipynb``, else the
    only notebook there (with a note saying so)."""
    path = folder / f"{notebook}.ipynb"
    if not path.exists():
        others = sorted(folder.glob("*.ipynb"))
        if len(others) == 1:
            return others[0], f"graded {others[0].name} (no {notebook}.ipynb)"
    return path, None


def results_dir(workspace: Path, assignment: str) -> Path:
    return workspace / "results" / assignment


def load_results(workspace: Path, assignment: str) -> dict[str, dict]:
    out = {}
    folder = results_dir(workspace, assignment)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = read_json(path)
        if isinstance(data, dict) and "status" in data:
            out[path.stem] = data
    return out


def roster_names(workspace: Path) -> dict[str, str]:
    """Student names that ``collect`` found in LMS file names (students.csv)."""
    path = workspace / "students.csv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["student_id"]: row.get("name", "") for row in csv.DictReader(fh)}


# ----------------------------------------------------------------------------- grade
def complete_result(result: dict, assignment: grade_one.Assignment) -> dict:
    """A worker failure has no parts: give every auto part 0 so that the gradebook,
    feedback and export see the same parts for every student."""
    if "parts" not in result:
        parts = {}
        for part in grade_one.graded_parts(assignment.template):
            parts[part["grade_id"]] = {
                "title": part["title"], "max_points": part["max_points"],
                "auto": part["auto"], "points": 0.0 if part["auto"] else None,
                "passed": False if part["auto"] else None,
                "messages": ["not graded: " + result.get("reason", "")], "notes": []}
        result = dict(result, parts=parts, notes=[],
                      score=0.0, max_score=sum(p["max_points"] for p in parts.values()))
    return result


def grade(workspace, assignments, *, workers: int | None = None, force: bool = False,
          db: str | None = None, limits=None, sandbox: bool | None = None,
          source: str | None = None, checks: str | None = None,
          references: str | None = None, students: list[str] | None = None,
          out=None, err=None) -> dict[str, dict[str, dict]]:
    """Grade every new or changed submission of one or more assignments in one pool of
    workers; returns {assignment: {student: result}} for every submission (graded now
    or earlier)."""
    out, err = out or sys.stdout, err or sys.stderr
    names = [assignments] if isinstance(assignments, str) else list(assignments)
    if (checks or references) and len(names) > 1:
        raise UsageError("--checks and --references apply to one assignment at a time")
    workspace = check_workspace(workspace)
    limits = limits or grade_one.kernels.Limits()
    loaded = {}
    for name in names:
        loaded[name] = grade_one.load_assignment(name, source, checks, references)
        missing = grade_one.missing_checks(loaded[name])
        if missing:
            raise UsageError(f"{name}: no check or reference for the graded part(s) "
                             f"{', '.join(missing)} (run python -m autograder.references?)")
    if sandbox and not grade_one.kernels.sandbox_available():
        raise UsageError(f"--sandbox: {grade_one.kernels.sandbox_status()}")
    if sandbox is False:
        print("sandbox off (--no-sandbox): student code runs with your permissions",
              file=err)
    elif sandbox is None:
        sandbox = grade_one.kernels.sandbox_available()
        if not sandbox:
            grade_one.kernels.warn_unsandboxed()  # once, here; workers inherit the flag

    # What to grade: every submission whose content or grading inputs changed.
    found, hashes, results, renamed, todo = {}, {}, {}, {}, []
    for name, assignment in loaded.items():
        found[name] = submission_dirs(workspace, name)
        if students:
            found[name] = {s: d for s, d in found[name].items() if s in set(students)}
        if not found[name]:
            raise UsageError(f"no submissions in {workspace}/submitted/*/{name}/ "
                             "(run collect first)")
        previous = load_results(workspace, name)
        results[name] = {}
        for student, folder in found[name].items():
            hashes[name, student] = folder_sha256(folder)
            old = previous.get(student)
            fresh = (old is not None and old.get("submission_sha256") == hashes[name, student]
                     and old.get("grader_sha256") == assignment.fingerprint
                     and old.get("final", True))
            if fresh and not force:
                results[name][student] = old
            else:
                path, renamed[name, student] = notebook_in(folder, assignment.notebook)
                graded = (workspace / "autograded" / student / name
                          / f"{assignment.notebook}.ipynb")
                todo.append(Task(f"{name}/{student}", str(path), name, str(graded)))
        print(f"{name}: {len(found[name])} submissions, "
              f"{sum(t.assignment == name for t in todo)} to grade "
              f"({len(results[name])} unchanged)", file=err)

    n_workers = max(1, min(workers or default_workers(), len(todo) or 1))
    pool = Pool(PoolConfig(
        spec={"assignments": {name: {"source": source, "checks": checks,
                                     "references": references} for name in names},
              "limits": dataclasses.asdict(limits), "sandbox": sandbox},
        workers=n_workers,
        task_timeout=limits.notebook_timeout + getattr(limits, "startup_timeout", 60) + 60,
        log_dir=workspace / "logs" / "+".join(names),
        env=KERNEL_THREAD_ENV))
    names_csv = roster_names(workspace)
    url = gbook.db_url(workspace, db)
    try:
        if todo:
            pool.start(n_workers)  # workers load while the gradebook is prepared
            print(f"{len(todo)} notebooks, {n_workers} workers", file=err)
        for name, assignment in loaded.items():
            try:
                gbook.ensure_assignment(url, name, assignment.template_path)
            except RuntimeError as error:  # nbgrader: graded cells changed after submissions
                raise UsageError(f"gradebook {url}: {error}") from None
        with gbook.open_gradebook(url) as gb:
            # Results saved before an interruption reach the gradebook now (idempotent).
            for name, by_student in results.items():
                for student, result in by_student.items():
                    gbook.record(gb, name, loaded[name].notebook, student, result,
                                 gbook.read_timestamp(found[name][student]),
                                 names_csv.get(student))

            def on_result(task_id: str, result: dict) -> None:
                name, student = task_id.split("/", 1)
                assignment = loaded[name]
                result = complete_result(result, assignment)
                if renamed.get((name, student)):
                    result.setdefault("notes", []).insert(0, renamed[name, student])
                result.update(student=student, assignment=name,
                              submission_sha256=hashes[name, student],
                              grader_sha256=assignment.fingerprint,
                              final=result.get("final", True), sandboxed=sandbox,
                              graded_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
                atomic_write_text(results_dir(workspace, name) / f"{student}.json",
                                  json.dumps(result, indent=1))
                gbook.record(gb, name, assignment.notebook, student, result,
                             gbook.read_timestamp(found[name][student]),
                             names_csv.get(student))
                results[name][student] = result
                progress.advance(failed=result["status"] != "graded")

            progress = Progress(len(todo), f"grading {', '.join(names)}", stream=err)
            if todo:
                progress.start()
                try:
                    pool.run(todo, on_result, progress.tick)
                except RuntimeError as error:  # a worker could not load an assignment
                    raise UsageError(str(error)) from None
                finally:
                    progress.close()
    except BaseException:
        pool.shutdown(kill=True)
        raise
    graded_now = {t.id for t in todo}
    for name in names:
        if len(names) > 1:
            print(f"\n{name}", file=out)
        print_table(results[name], {s for s in results[name]
                                    if f"{name}/{s}" in graded_now}, out)
    return results


def print_table(results: dict[str, dict], graded_now: set[str], out) -> None:
    """One line per student: status, score, why."""
    rows = [("student", "status", "score", "", "why / notes")]
    for student in sorted(results):
        r = results[student]
        why = r.get("reason") or "; ".join(r.get("notes", [])[:2])
        when = "" if student in graded_now else "(unchanged)"
        rows.append((student, r["status"], f"{r.get('score', 0):g}/{r.get('max_score', 0):g}",
                     when, why if len(why) <= 100 else why[:99] + "…"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4],
              file=out)
    failed = sum(r["status"] != "graded" for r in results.values())
    summary = f"{len(results)} submissions: {len(results) - failed} graded, {failed} failed"
    # the score column counts automatic points only; say what is left for the formgrader
    parts = next((r["parts"] for r in results.values() if r.get("parts")), {})
    by_hand = sum(part["max_points"] for part in parts.values() if not part["auto"])
    if by_hand:
        total = sum(part["max_points"] for part in parts.values())
        summary += (f"; {by_hand:g} of the {total:g} points are written answers, to "
                    "grade by hand in nbgrader's formgrader")
    print(summary, file=out)


# ----------------------------------------------------------------------------- main
def _limits(args):
    fields = {"cell_timeout": args.cell_timeout, "notebook_timeout": args.notebook_timeout}
    if args.memory_gb is not None:
        fields["memory_bytes"] = int(args.memory_gb * 2**30)
    return grade_one.kernels.Limits(**{k: v for k, v in fields.items() if v is not None})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Grade a class: collect, grade, feedback, export, report.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, db=True):
        p.add_argument("-w", "--workspace", default=os.environ.get("COURSE_WORKSPACE"),
                       required="COURSE_WORKSPACE" not in os.environ,
                       help="the instructor's working folder, outside version control "
                            "(default: $COURSE_WORKSPACE)")
        if db:
            p.add_argument("--db", help="gradebook SQLAlchemy URL "
                                        "(default: sqlite:///<workspace>/gradebook.db)")

    p = sub.add_parser("collect", help="submissions (folder or LMS zip) -> submitted/")
    p.add_argument("source", help="a folder or a .zip of files named by student")
    p.add_argument("-a", "--assignment", required=True)
    p.add_argument("--pattern", help="regular expression with a (?P<student>...) group "
                                     "(and optional (?P<name>...), (?P<timestamp>...)), "
                                     "matched against each file's path in the source")
    common(p, db=False)

    p = sub.add_parser("grade", help="autograde every new or changed submission")
    p.add_argument("assignment", nargs="+", help="one or more assignments, one pool")
    p.add_argument("-j", "--workers", type=int, help="parallel workers (default: cores)")
    p.add_argument("--force", action="store_true", help="grade unchanged ones again")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--cell-timeout", type=float, help="seconds per cell (default 60)")
    p.add_argument("--notebook-timeout", type=float,
                   help="seconds per notebook (default 300)")
    p.add_argument("--memory-gb", type=float, help="memory per kernel (default 4)")
    box = p.add_mutually_exclusive_group()
    box.add_argument("--sandbox", dest="sandbox", action="store_true", default=None,
                     help="require the sandbox (default: use it when available)")
    box.add_argument("--no-sandbox", dest="sandbox", action="store_false")
    p.add_argument("--source", help="folder of instructor notebooks (default solutions/)")
    p.add_argument("--checks", help="checks module (default autograder.checks.<name>)")
    p.add_argument("--references", help="references JSON (default "
                                        "autograder/references/<name>.json)")
    common(p)

    p = sub.add_parser("feedback", help="an HTML page per student")
    p.add_argument("assignment", nargs="*", help="default: every graded assignment")
    common(p)

    p = sub.add_parser("export", help="grades as CSV, one column per part")
    p.add_argument("assignment", nargs="*", help="default: every graded assignment")
    common(p)

    p = sub.add_parser("report", help="an HTML report with plots")
    p.add_argument("assignment", nargs="*", help="default: every graded assignment")
    common(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "collect":
            from autograder.collect import collect, print_report

            report = collect(args.source, args.assignment, check_workspace(args.workspace),
                             pattern=args.pattern)
            print_report(report)
            return 0 if report.collected else 1
        if args.command == "grade":
            grade(args.workspace, args.assignment, workers=args.workers, force=args.force,
                  db=args.db, limits=_limits(args), sandbox=args.sandbox,
                  source=args.source, checks=args.checks, references=args.references,
                  students=args.student)
            return 0
        workspace = check_workspace(args.workspace, create=False)
        if args.command == "feedback":
            from autograder.feedback import write_feedback

            from autograder.export import assignments_in

            for assignment in args.assignment or assignments_in(workspace):
                paths = write_feedback(workspace, assignment, db=args.db)
                print(f"{assignment}: {len(paths)} pages in {workspace / 'feedback'}")
            return 0
        if args.command == "export":
            from autograder.export import export

            for path in export(workspace, args.assignment, db=args.db):
                print(path)
            return 0
        if args.command == "report":
            from autograder.report import write_report

            print(write_report(workspace, args.assignment, db=args.db))
            return 0
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: results so far are saved; run the same command again to "
              "grade the rest", file=sys.stderr)
        return 130
    return 1
