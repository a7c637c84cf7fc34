"""Time a cold build of the book, serial and in parallel, one after the other.

    python benchmarks/book_build.py [--jobs N] [--serial-jobs 0|1] [--work DIR]

Both builds run ``scripts/build_book.py`` on this repository into their own folder
under ``--work`` (never the repository's ``_build``), each emptied first: no notebook
cache, no Sphinx environment, the same virtual environment. That is ``make book`` on
a fresh clone whose ``.venv`` is installed.

- serial: ``--jobs 0`` (the default ``--serial-jobs``), the build as it was: myst-nb
  executes each page while Sphinx reads it, one after another (``--serial-jobs 1``
  times the parallel executor with one kernel instead);
- parallel: ``--jobs N`` (default: every core this process may use), the pages
  executed N at a time before Sphinx runs.

It prints the wall time of each build, the time of its execution phase, the CPU time
of every process (kernels included; other jobs disturb it less than wall time), the
load average before and after each, the core count and the ratio parallel / serial.
It fails if a build fails, or if the parallel build's jupyter-book executed a page
itself (every page must come from the cache the parallel phase filled).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "scripts" / "build_book.py"
# myst-nb's line for each page it executes, and the parallel phase's summary
MYST_NB_EXECUTED = re.compile(r"Executed notebook in ([0-9.]+) seconds")
PARALLEL_PHASE = re.compile(r"executed (\d+) page\(s\) in ([0-9.]+) s")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def timed_build(output: Path, jobs: int, log: Path) -> dict:
    """A cold build of the repository's book into ``output`` with ``--jobs jobs``."""
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    load_before, cpu_before, start = _load(), _children_cpu(), time.perf_counter()
    with log.open("w") as out:
        result = subprocess.run([sys.executable, str(BUILD), str(REPO), str(output),
                                 "--jobs", str(jobs)], stdout=out,
                                stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    text = log.read_text(errors="replace")
    if result.returncode != 0:
        sys.exit(f"error: the build with --jobs {jobs} failed; see {log}")
    in_sphinx = [float(s) for s in MYST_NB_EXECUTED.findall(text)]
    phase = PARALLEL_PHASE.search(text)
    return {
        "jobs": jobs, "wall": wall, "cpu": _children_cpu() - cpu_before,
        "load": f"{load_before} -> {_load()}", "log": log,
        "pages_in_sphinx": len(in_sphinx),
        "pages_parallel": int(phase.group(1)) if phase else 0,
        "execution": float(phase.group(2)) if phase else sum(in_sphinx),
    }


def report(name: str, run: dict) -> None:
    pages = run["pages_parallel"] or run["pages_in_sphinx"]
    where = "before Sphinx" if run["pages_parallel"] else "by myst-nb inside Sphinx"
    print(f"{name:8} --jobs {run['jobs']}: {run['wall']:6.1f} s wall, "
          f"{run['cpu']:6.1f} s CPU; executing {pages} pages {where}: "
          f"{run['execution']:6.1f} s; load {run['load']}  ({run['log']})", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="kernels at once in the parallel build (default: cores)")
    parser.add_argument("--serial-jobs", type=int, choices=(0, 1), default=0,
                        help="0: myst-nb executes the pages (the old build); 1: the "
                             "parallel executor with one kernel")
    parser.add_argument("--work", type=Path, default=Path("/tmp/book-build-benchmark"),
                        help="the two builds go to WORK/serial and WORK/parallel")
    args = parser.parse_args(argv)
    if args.jobs < 2:
        parser.error("--jobs must be at least 2 for a parallel build")
    if args.work.resolve() == REPO or REPO in args.work.resolve().parents:
        parser.error("--work must be outside the repository (never its _build)")
    args.work.mkdir(parents=True, exist_ok=True)
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} cores usable ({os.cpu_count()} in the machine), load "
          f"{_load()} (1/5/15 min)", flush=True)
    serial = timed_build(args.work / "serial", args.serial_jobs,
                         args.work / "serial.log")
    report("serial", serial)
    parallel = timed_build(args.work / "parallel", args.jobs, args.work / "parallel.log")
    report("parallel", parallel)
    if parallel["pages_parallel"] != (serial["pages_parallel"] or serial["pages_in_sphinx"]):
        sys.exit("error: the two builds executed different numbers of pages (the book "
                 "changed while the benchmark ran?); run it again")
    if parallel["pages_in_sphinx"]:
        sys.exit(f"error: jupyter-book executed {parallel['pages_in_sphinx']} page(s) "
                 f"after the parallel phase (cache keys differ); see {parallel['log']}")
    print(f"parallel / serial: {parallel['wall'] / serial['wall']:.2f} (whole build), "
          f"{parallel['execution'] / serial['execution']:.2f} (execution); "
          f"CPU {parallel['cpu'] / serial['cpu']:.2f}; target <= 0.6 on 2 cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
