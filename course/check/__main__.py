"""``python -m course.check NOTEBOOK``: check a notebook before you hand it in.

Runs a copy of the notebook from the top in a fresh kernel, as grading will, and says per
part what grading will find. Exit status: 0 when nothing found would cost points, 1 when
something would, 2 when the notebook could not be checked (no such file, not a notebook).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from course.check.render import as_text
from course.check.run import CheckError, check_notebook, read_notebook, report_to_json
from course.grading_terms import notebook_language, say


def _stop(signum, frame):  # a terminated check still shuts its kernel down
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.check",
                                     description=__doc__.split("\n\n")[1])
    parser.add_argument("notebook", type=Path, help="the .ipynb file to check")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the report as JSON to FILE")
    parser.add_argument("--name", help=argparse.SUPPRESS)  # Colab: the notebook's name
    parser.add_argument("--progress-lines", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    for stream in (sys.stdout, sys.stderr):  # a console that cannot show Chinese
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    try:
        notebook = read_notebook(args.notebook)
    except CheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    language = notebook_language(notebook)
    name = args.name or args.notebook.name

    def progress(done: int, total: int) -> None:
        line = say("running", language, name=name, done=done, total=total)
        if args.progress_lines:
            print(f"PROGRESS {line}", file=sys.stderr, flush=True)
        elif sys.stderr.isatty():
            print(f"\r{line}", end="" if done < total else "\n", file=sys.stderr,
                  flush=True)

    try:
        report = check_notebook(args.notebook, notebook=notebook, name=name,
                                progress=progress)
    except CheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(report_to_json(report), encoding="utf-8")
    if not args.progress_lines:
        print(as_text(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
