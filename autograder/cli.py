"""``python -m autograder {collect,grade,feedback,export,report,worker}``: grade a class.

The command line only: it parses arguments, calls the command's module
(``collect``, ``grading``, ``feedback``, ``export``, ``report``) and turns a
``UsageError`` (something the instructor can fix) into one line on stderr and exit
status 2. Nothing imports this module. The workspace layout is described in
``autograder/workspace.py``; it must live outside version control.
"""

from __future__ import annotations

import argparse
import os
import sys

from autograder import sandbox
from autograder.errors import UsageError

# ----------------------------------------------------------------------------- main
def _limits(args):
    fields = {"cell_timeout": args.cell_timeout, "notebook_timeout": args.notebook_timeout}
    if args.memory_gb is not None:
        fields["memory_bytes"] = int(args.memory_gb * 2**30)
    return sandbox.Limits(**{k: v for k, v in fields.items() if v is not None})


def add_worker_parser(sub) -> None:
    p = sub.add_parser("worker", help="a task-queue grading worker (Celery)")
    p.add_argument("--broker", required=True, help="broker URL (redis://, amqp://)")
    p.add_argument("--db", required=True, help="the database grade --db names "
                                               "(results go there)")
    p.add_argument("--concurrency", type=int, help="submissions at once (default: cores)")
    p.add_argument("--visibility-timeout", type=float,
                   help="Redis: seconds before a killed worker's submission goes to "
                        "another (default: the grading time limit + 600)")
    p.add_argument("--loglevel", default="INFO",
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="what the worker logs (default INFO: each submission received "
                        "and done)")


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
    kernel_options(p)
    p.add_argument("--source", help="folder of instructor notebooks (default solutions/)")
    p.add_argument("--checks", help="checks module (default autograder.checks.<name>)")
    p.add_argument("--references", help="references JSON (default "
                                        "autograder/references/<name>.json)")
    p.add_argument("--broker", help="grade on task-queue workers (python -m autograder "
                                    "worker) via this broker URL; needs --db")
    p.add_argument("--requeue", action="store_true",
                   help="with --broker: queue again what is queued or running (after "
                        "the broker lost its messages)")
    common(p)
    add_worker_parser(sub)

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


def kernel_options(p: argparse.ArgumentParser) -> None:
    """``grade``'s choice of kernel: sandboxed or not, warm or fresh."""
    box = p.add_mutually_exclusive_group()
    box.add_argument("--sandbox", dest="sandbox", action="store_true", default=None,
                     help="require the sandbox (default: use it when available)")
    box.add_argument("--no-sandbox", dest="sandbox", action="store_false")
    p.add_argument("--fresh-kernels", action="store_true",
                   help="start each kernel afresh instead of forking it from the "
                        "worker's warm zygote (slower; same verdicts)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: results so far are saved; run the same command again to "
              "grade the rest", file=sys.stderr)
        return 130


def run_collect(args) -> int:
    from autograder.collect import collect, print_report
    from autograder.workspace import check_workspace

    report = collect(args.source, args.assignment, check_workspace(args.workspace),
                     pattern=args.pattern)
    print_report(report)
    return 0 if report.collected else 1


def run_grade(args) -> int:
    from autograder.grading import grade

    grade(args.workspace, args.assignment, workers=args.workers, force=args.force,
          db=args.db, limits=_limits(args), sandbox=args.sandbox, source=args.source,
          checks=args.checks, references=args.references, students=args.student,
          broker=args.broker, requeue=args.requeue, fresh_kernels=args.fresh_kernels)
    return 0


def run_worker(args) -> int:
    from autograder.taskqueue import run_worker

    return run_worker(args.broker, args.db, args.concurrency, args.visibility_timeout,
                      args.loglevel)


def run_feedback(args) -> int:
    from autograder.workspace import check_workspace, graded_assignments

    workspace = check_workspace(args.workspace, create=False)
    from autograder.feedback import write_feedback

    for assignment in graded_assignments(workspace, args.assignment):
        paths = write_feedback(workspace, assignment, db=args.db)
        print(f"{assignment}: {len(paths)} pages in {workspace / 'feedback'}")
    return 0


def run_export(args) -> int:
    from autograder.workspace import check_workspace

    workspace = check_workspace(args.workspace, create=False)
    from autograder.export import export

    for path in export(workspace, args.assignment, db=args.db):
        print(path)
    return 0


def run_report(args) -> int:
    from autograder.workspace import check_workspace

    workspace = check_workspace(args.workspace, create=False)
    from autograder.report import write_report

    print(write_report(workspace, args.assignment, db=args.db))
    return 0


# Each command's module is imported when it runs: `--help` and a usage error stay fast
# (grading imports nbgrader and the checks).
COMMANDS = {"collect": run_collect, "grade": run_grade, "feedback": run_feedback,
            "export": run_export, "report": run_report, "worker": run_worker}
