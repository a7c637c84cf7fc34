"""Time a no-change rebuild of the book, in English and in every translation.

    python benchmarks/book_rebuild.py [--runs N]

It first runs ``scripts/build_book.py`` on this repository until nothing is left to
do (a build that executes or reads pages is not a no-change rebuild), then times N
more builds (default 3), each the `make book` a reader runs a second time. For each
it prints the wall time, the time spent checking the notebook cache, the time of
each translated site's phase and what that phase says it read and executed, with the
machine's load. It fails if a timed build executed a page. The figures go to
benchmarks/results/book_rebuild.json (``--out FILE`` or ``--no-write``), which the
Publishing page quotes and a test reads.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "scripts" / "build_book.py"
CHECKED = re.compile(r"(\d+) page\(s\) to execute, \d+ cached \(([0-9.]+) s to check\)")
TRANSLATED = re.compile(r"^(\w+): built in ([0-9.]+) s", re.M)
READ = re.compile(r"^(\w+): (\d+) page\(s\) read their outputs .*?, (\d+) missing", re.M)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def build() -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(BUILD)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: the build failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return time.perf_counter() - start, result.stdout + result.stderr


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed rebuilds (default 3)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "book_rebuild.json")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} cores usable ({os.cpu_count()} in the machine), load {_load()}",
          flush=True)
    for _ in range(3):  # until a build has nothing to execute or read
        _, log = build()
        executed = CHECKED.search(log)
        if executed and executed.group(1) == "0" and all(
                read == "0" for _, read, _ in READ.findall(log)):
            break
    walls, runs = [], []
    for run in range(1, args.runs + 1):
        load = _load()
        load_before = os.getloadavg()[0]
        wall, log = build()
        checked = CHECKED.search(log)
        if checked is None or checked.group(1) != "0":
            sys.exit(f"error: rebuild {run} executed pages: not a no-change rebuild")
        phases = ", ".join(f"{lang} {seconds} s" for lang, seconds in TRANSLATED.findall(log))
        reads = ", ".join(f"{lang}: {read} read from the cache, {missing} missing"
                          for lang, read, missing in READ.findall(log))
        walls.append(wall)
        runs.append({"wall_s": round(wall, 1), "cache_check_s": float(checked.group(2)),
                     "translated_s": {lang: float(s) for lang, s in TRANSLATED.findall(log)},
                     "load": [round(load_before, 2), round(os.getloadavg()[0], 2)]})
        print(f"rebuild {run}: {wall:5.1f} s wall (cache checked in {checked.group(2)} s; "
              f"translated sites: {phases}; {reads}); load {load} -> {_load()}",
              flush=True)
    print(f"median {statistics.median(walls):.1f} s, longest {max(walls):.1f} s "
          f"(target: under 60 s)")
    if not args.no_write:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip()
        report = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                  "machine": {"cores": cores, "commit": commit},
                  "median_wall_s": round(statistics.median(walls), 1), "runs": runs}
        args.out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
