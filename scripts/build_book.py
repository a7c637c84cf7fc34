"""Strict build of the website: any cell error, Sphinx warning or broken reference fails.

jupyter-book 1.x exits 0 when a notebook cell raises unless it runs with -W, and then
it only points at a log file; this wrapper prints the failing notebooks' logs too.

Before jupyter-book runs, the pages whose notebook cache entry is missing or stale are
executed in parallel, one kernel per core (scripts/parallel_execute.py), into the cache
myst-nb reads, so that jupyter-book itself executes nothing. A page that fails there
prints its traceback and fails the build without running Sphinx.

    python scripts/build_book.py [BOOK_DIR [OUTPUT_DIR]] [--jobs N]

BOOK_DIR defaults to the repository root, OUTPUT_DIR to BOOK_DIR (the site lands in
OUTPUT_DIR/_build/html; a separate OUTPUT_DIR lets two builds run side by side).
--jobs (or COURSE_BOOK_JOBS) defaults to the cores this process may use; 0 leaves the
execution to myst-nb, one page after another.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import parallel_execute

ROOT = Path(__file__).resolve().parents[1]
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks


def execute_pages(book_dir: Path, output_dir: Path, jobs: int) -> int:
    """Fill the notebook cache in parallel; the number of pages that failed (-1:
    the book's configuration is wrong)."""
    from sphinx.errors import SphinxError

    start = time.perf_counter()
    try:
        work = parallel_execute.plan(book_dir, output_dir)
    except SphinxError as error:  # a bad configuration, say: one line, as Sphinx says it
        print(f"error: {error}", file=sys.stderr)
        return -1
    print(f"{len(work.pending)} page(s) to execute, {work.cached} cached "
          f"({time.perf_counter() - start:.1f} s to check)", flush=True)
    if not work.pending:
        return 0
    failures = parallel_execute.execute(work, jobs, book_dir,
                                        log=lambda line: print(line, flush=True))
    for outcome in failures:
        print(f"\n===== failing notebook log: {outcome.page.path} =====", file=sys.stderr)
        print(ANSI_COLOUR.sub("", outcome.traceback), file=sys.stderr)
    return len(failures)


def build(book_dir: Path, output_dir: Path, jobs: int) -> int:
    if jobs > 0:
        failed = execute_pages(book_dir, output_dir, jobs)
        if failed:
            what = "the configuration" if failed < 0 else f"{failed} page(s) raised"
            print(f"\nBOOK BUILD FAILED: {what} (see above); Sphinx was not run",
                  file=sys.stderr)
            return 1
    html = output_dir / "_build" / "html"
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(book_dir),
        "--path-output", str(output_dir),
        "-W",            # warnings are errors ...
        "-n",            # ... and so are broken references (nitpicky)
        "--keep-going",  # report every problem, not only the first
    ]
    result = subprocess.run(cmd)
    if result.returncode != 0:
        reports = html / "reports"
        for log in sorted(reports.rglob("*.log")) if reports.exists() else []:
            print(f"\n===== failing notebook log: {log} =====", file=sys.stderr)
            print(log.read_text(errors="replace"), file=sys.stderr)
        print("\nBOOK BUILD FAILED (see the errors above)", file=sys.stderr)
        return result.returncode
    print(f"\nThe website is built: {(html / 'index.html').resolve()}")
    return 0


def default_jobs() -> int:
    value = os.environ.get("COURSE_BOOK_JOBS")
    return int(value) if value else len(os.sched_getaffinity(0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("book_dir", nargs="?", type=Path, default=ROOT)
    parser.add_argument("output_dir", nargs="?", type=Path)
    parser.add_argument("--jobs", "-j", type=int, default=None,
                        help="kernels at once (default: COURSE_BOOK_JOBS or every core "
                             "this process may use; 0: myst-nb executes serially)")
    args = parser.parse_args(argv)
    jobs = default_jobs() if args.jobs is None else args.jobs
    if jobs < 0:
        parser.error(f"--jobs must be 0 or more, not {jobs}")
    book_dir = args.book_dir.resolve()
    output_dir = (args.output_dir or book_dir).resolve()
    return build(book_dir, output_dir, jobs)


if __name__ == "__main__":
    sys.exit(main())
