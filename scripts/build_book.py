"""Strict build of the website: any cell error, Sphinx warning or broken reference fails.

jupyter-book 1.x exits 0 when a notebook cell raises unless it runs with -W, and then
it only points at a log file; this wrapper prints the failing notebooks' logs too.

The site is built in English, then in each translation that has a locale/<language>/
folder (course.i18n): Sphinx with jupyter-book's configuration and ``language`` set,
reading the same pages, their outputs taken from the English build's notebook cache
(it executes nothing), into OUTPUT_DIR/_build/<language>/, then copied into the
English site's folder for that language (_build/html/zh/).

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
import shutil
import subprocess
import sys
import time
from pathlib import Path

import parallel_execute

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from course import i18n  # noqa: E402 - after the sys.path line
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
    for language in i18n.site_languages(book_dir)[1:]:
        if build_translation(book_dir, output_dir, language) != 0:
            print(f"\nBOOK BUILD FAILED: the {language.code} site (see the errors above)",
                  file=sys.stderr)
            return 1
    print(f"\nThe website is built: {(html / 'index.html').resolve()}")
    return 0


def sphinx_app(book_dir: Path, output_dir: Path, language: str | None,
               builder: str = "html", status=sys.stdout, warning=sys.stderr):
    """Sphinx configured as jupyter-book configures the English build, with the
    English build's notebook cache, in ``language`` (None: English), strict.

    Its folders: _build/<language>/html for a translated site, _build/gettext/pot for
    the message templates (builder "gettext"); doctrees and myst-nb's files beside.
    """
    from jupyter_book.config import get_final_config
    from sphinx.application import Sphinx

    english_cache = output_dir / "_build" / ".jupyter_cache"
    overrides = {"external_toc_path": (book_dir / "_toc.yml").as_posix(),
                 "latex_individualpages": False, "nitpicky": True,
                 "nb_execution_cache_path": str(english_cache)}
    if language:  # Sphinx reads its own words' catalogue (sphinx.po) as it starts
        overrides["language"] = language
        overrides["locale_dirs"] = [str(book_dir / i18n.LOCALE_DIR)]
    config, _ = get_final_config(user_yaml=book_dir / "_config.yml",
                                 cli_config=overrides, sourcedir=book_dir,
                                 use_external_toc=True)
    work = output_dir / "_build" / (language or builder)
    outdir = work / ("html" if builder == "html" else "pot")
    return Sphinx(srcdir=str(book_dir), confdir=None, outdir=str(outdir),
                  doctreedir=str(work / ".doctrees"), buildername=builder,
                  confoverrides=config, status=status, warning=warning,
                  freshenv=False, warningiserror=True, keep_going=True)


def build_translation(book_dir: Path, output_dir: Path, language: i18n.Language) -> int:
    """The site in ``language``, strict like the English one, then copied into its
    folder of the English site. 0 when it built."""
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    start = time.perf_counter()
    print(f"\n{language.code}: building the {language.name} site from "
          f"{i18n.LOCALE_DIR}/{language.code}/ (no notebook is executed: every output "
          "comes from the English build's cache)", flush=True)
    with patch_docutils(str(book_dir)), docutils_namespace():
        app = sphinx_app(book_dir, output_dir, language.code)
        app.build()
    if app.statuscode != 0:
        return app.statuscode
    site = output_dir / "_build" / "html" / language.site_dir
    mirror(Path(app.outdir), site)
    print(f"{language.code}: built in {time.perf_counter() - start:.1f} s: "
          f"{(site / 'index.html').resolve()}", flush=True)
    return 0


def mirror(source: Path, target: Path) -> None:
    """Make ``target`` a copy of ``source``: copy the files whose size or time differ,
    delete what ``source`` no longer has."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        wanted.add(relative)
        copy = target / relative
        if path.is_dir():
            copy.mkdir(exist_ok=True)
            continue
        mine = path.stat()
        if copy.is_file():
            theirs = copy.stat()
            if (theirs.st_size, int(theirs.st_mtime)) == (mine.st_size, int(mine.st_mtime)):
                continue
        shutil.copy2(path, copy)
    for path in sorted(target.rglob("*"), reverse=True):
        if path.relative_to(target) not in wanted:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


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
