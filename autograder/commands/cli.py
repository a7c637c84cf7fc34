"""``python -m autograder COMMAND``: grade a class, and the instructor's other tools.

Grading a class: ``collect``, ``grade`` (``worker`` on other machines), ``feedback``,
``export``, ``report``. Preparing it: ``release`` (the student notebooks),
``references`` (the hidden tests' expected outputs), ``demo`` (a synthetic class).

The command line only: it parses arguments, calls the command's module (``commands/``,
``pages/``, ``queue/worker.py``) and turns a ``UsageError`` (something the instructor
can fix) into one line on stderr and exit status 2. Nothing imports this module. The
workspace layout is described in ``autograder/workspace.py``; it must live outside
version control.
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
    p = sub.add_parser("worker", help="a task-queue grading worker (Celery)",
                       description="A grading worker: it checks itself (sandbox, lock, "
                                   "assignments, a known submission), then grades what "
                                   "the queue holds. The broker and database URLs come "
                                   "from AUTOGRADER_BROKER and AUTOGRADER_DB, in the "
                                   "environment or an --env-file, never the command line.")
    p.add_argument("--env-file", help="a file of NAME=VALUE lines (systemd's "
                                      "EnvironmentFile=) with AUTOGRADER_BROKER and "
                                      "AUTOGRADER_DB")
    p.add_argument("--concurrency", type=int, help="submissions at once (default: cores)")
    p.add_argument("--unsandboxed", action="store_true",
                   help="allow grading without a sandbox when bubblewrap is missing "
                        "(student code then runs with the worker's permissions)")
    p.add_argument("--visibility-timeout", type=float,
                   help="Redis: seconds before a lost worker's submission goes to "
                        "another (default: the grading time limit + 600)")
    p.add_argument("--consumer-timeout", type=float, default=1800.0,
                   help="RabbitMQ: its consumer_timeout in seconds, as set in "
                        "rabbitmq.conf (default 1800, RabbitMQ's); checked against the "
                        "grading time limit")
    p.add_argument("--loglevel", default="INFO",
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="what the worker logs (default INFO: each submission received "
                        "and done)")
    for refused in ("--broker", "--db"):  # passwords on a command line show in ps
        p.add_argument(refused, dest=f"refused_{refused[2:]}", help=argparse.SUPPRESS)


def add_status_parser(sub) -> None:
    p = sub.add_parser("status", help="the task queue's jobs per assignment, its workers "
                                      "and its dead letters")
    p.add_argument("--db", help="the database grade --db names (default: "
                                "AUTOGRADER_DB, from the environment or --env-file)")
    p.add_argument("--env-file", help="a file of NAME=VALUE lines with AUTOGRADER_DB")
    p.add_argument("--dead-letters", action="store_true",
                   help="list each dead letter: whose, and why")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Grade a class: collect, grade, feedback, export, report; prepare "
                    "it: release, references, demo.")
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
    queue_options(p)
    common(p)
    add_worker_parser(sub)
    add_status_parser(sub)

    p = sub.add_parser("feedback", help="an HTML page per student")
    p.add_argument("assignment", nargs="*", help="default: every graded assignment")
    common(p)

    p = sub.add_parser("export", help="grades as CSV, one column per part")
    p.add_argument("assignment", nargs="*", help="default: every graded assignment")
    common(p)

    p = sub.add_parser("report", help="an HTML report with plots")
    p.add_argument("assignment", nargs="*", help="default: every graded assignment")
    common(p)
    add_preparing_parsers(sub)
    return parser


def add_preparing_parsers(sub) -> None:
    """The instructor's tools that need no workspace: release, references, demo."""
    p = sub.add_parser("release", help="the student notebooks (exercises/) from "
                                       "solutions/, with nbgrader (make exercises)")
    p.add_argument("assignment", nargs="*", help="default: every assignment")
    p.add_argument("--out", help="release folder (default: exercises/)")

    p = sub.add_parser("references", help="recompute the hidden tests' expected outputs "
                                          "and the solutions' hidden blocks")
    p.add_argument("assignment", nargs="*", help="default: every assignment")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true",
                      help="recompute and compare with the committed files; write nothing "
                           "(exit status 1 when they are out of date)")
    what.add_argument("--blocks-only", action="store_true",
                      help="rewrite only the solutions' hidden blocks, from the committed "
                           "references (after editing a probe or a judge)")

    p = sub.add_parser("demo", help="a synthetic class to grade, with the grade each "
                                    "student deserves (expected.json)")
    p.add_argument("out", help="folder to write the class into")
    p.add_argument("assignment", nargs="*",
                   help="default: the first two assignments of the course")


def queue_options(p: argparse.ArgumentParser) -> None:
    """``grade``'s options for the task queue."""
    p.add_argument("--broker", help="grade on task-queue workers (python -m autograder "
                                    "worker) via this broker URL; needs --db")
    p.add_argument("--requeue", action="store_true",
                   help="with --broker: queue again what is queued or running (after "
                        "the broker lost its messages)")
    p.add_argument("--retry-dead", action="store_true",
                   help="with --broker: queue again the dead letters (python -m "
                        "autograder status --dead-letters lists them)")
    p.add_argument("--keep-graded", type=float, default=0.0, metavar="DAYS",
                   help="with --broker: keep graded and submitted notebooks in the "
                        "database for DAYS (default 0: graded ones leave it once copied "
                        "into autograded/)")


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
    from autograder.commands.collect import collect, print_report
    from autograder.workspace import check_workspace

    report = collect(args.source, args.assignment, check_workspace(args.workspace),
                     pattern=args.pattern)
    print_report(report)
    return 0 if report.collected else 1


def run_grade(args) -> int:
    from autograder.commands.grade import GradeOptions, grade
    from autograder.grading.run import AssignmentSource, Run

    if (args.checks or args.references) and len(args.assignment) > 1:
        raise UsageError("--checks and --references apply to one assignment at a time")
    where = AssignmentSource(args.source, args.checks, args.references)
    run = Run(dict.fromkeys(args.assignment, where), _limits(args), args.sandbox,
              args.fresh_kernels)
    if (args.retry_dead or args.requeue or args.keep_graded) and not args.broker:
        raise UsageError("--requeue, --retry-dead and --keep-graded go with --broker")
    grade(run, GradeOptions(args.workspace, args.db, args.student, args.force,
                            args.workers, args.broker, args.requeue, args.retry_dead,
                            args.keep_graded))
    return 0


def run_worker(args) -> int:
    from autograder.queue.settings import urls
    from autograder.queue.worker import WorkerSettings, run_worker

    if args.refused_broker or args.refused_db:
        raise UsageError("the worker takes no URL on its command line (every user sees "
                         "it in ps): set AUTOGRADER_BROKER and AUTOGRADER_DB in its "
                         "environment or in an --env-file")
    broker, db = urls(args.env_file)
    return run_worker(broker, WorkerSettings(db, args.unsandboxed,
                                             visibility_timeout=args.visibility_timeout,
                                             consumer_timeout=args.consumer_timeout),
                      args.concurrency, args.loglevel)


def run_status(args) -> int:
    from autograder.commands.status import print_status
    from autograder.queue.settings import urls

    _, db = urls(args.env_file, db=args.db, need_broker=False)
    return print_status(db, args.dead_letters)


def run_feedback(args) -> int:
    from autograder.workspace import check_workspace, graded_assignments

    workspace = check_workspace(args.workspace, create=False)
    from autograder.pages.feedback import write_feedback

    for assignment in graded_assignments(workspace, args.assignment):
        paths = write_feedback(workspace, assignment, db=args.db)
        print(f"{assignment}: {len(paths)} pages in {workspace / 'feedback'}")
    return 0


def run_export(args) -> int:
    from autograder.workspace import check_workspace

    workspace = check_workspace(args.workspace, create=False)
    from autograder.commands.export import export

    for path in export(workspace, args.assignment, db=args.db):
        print(path)
    return 0


def run_report(args) -> int:
    from autograder.workspace import check_workspace

    workspace = check_workspace(args.workspace, create=False)
    from autograder.pages.report import write_report

    print(write_report(workspace, args.assignment, db=args.db))
    return 0


def course_assignments(asked: list[str], known) -> list[str]:
    """The assignments asked for (default: all of ``known``), refused in one line when
    one is not the course's."""
    unknown = [name for name in asked if name not in known]
    if unknown:
        raise UsageError(f"unknown assignment {unknown[0]!r} (the course's: "
                         f"{', '.join(known)})")
    return list(asked or known)


def run_release(args) -> int:
    from autograder.checks import ASSIGNMENTS
    from autograder.commands.release import release

    release(course_assignments(args.assignment, ASSIGNMENTS), args.out)
    return 0


def run_references(args) -> int:
    from autograder.checks import ASSIGNMENTS
    from autograder.commands.references import update

    return update(course_assignments(args.assignment, ASSIGNMENTS), check=args.check,
                  blocks_only=args.blocks_only)


def run_demo(args) -> int:
    from pathlib import Path

    from autograder.commands.demo import available_assignments, make_class

    known = available_assignments()
    manifest = make_class(Path(args.out), course_assignments(args.assignment, known)
                          if args.assignment else None)
    for assignment, source in manifest["sources"].items():
        print(f"{assignment}: {source}")
    print(f"expected grades: {Path(args.out) / 'expected.json'}")
    return 0


# Each command's module is imported when it runs: `--help` and a usage error stay fast
# (grading imports nbgrader and the checks).
COMMANDS = {"collect": run_collect, "grade": run_grade, "feedback": run_feedback,
            "export": run_export, "report": run_report, "worker": run_worker,
            "status": run_status,
            "release": run_release, "references": run_references, "demo": run_demo}
