"""How long each test lane takes: `make lint`, `make test-fast` and, with --full, `make test`.

    python benchmarks/test_lanes.py [--full] [--out FILE | --no-write]

Runs each lane as a developer would, from this checkout with its .venv, and records
its wall time with the load average (1 minute) sampled every 5 s while it ran, its CPU
time (every process it started; on a machine that other jobs keep busy the wall time
is several times the CPU time, on an idle one close to it), the cores and the commit.
`make test` prints its own steps (lint and book, the parallel tests, the serial tests):
they are recorded too. The README quotes the figures and a test reads them in
benchmarks/results/test_lanes.json (the default --out). Without --full, the
`make test` entry already in that file is kept.

The lanes are noisy on a shared machine: the load is part of every figure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "test_lanes.json"
# make test's last line: "make test: 2400 s in all: lint and book 300 s, parallel ..."
# The README's quotes of this file: they cannot hold the figures of the run that is
# measuring them, so that one test (a few milliseconds) is left out of the timed lanes.
README_QUOTES = ("tests/book/test_quoted_figures.py::"
                 "test_every_quoted_figure_comes_from_a_results_file[README.md]")
MAKE_TEST_STEPS = re.compile(r"make test: (\d+) s in all: lint and book (\d+) s, "
                             r"parallel tests (\d+) s, serial tests (\d+) s")


def sampled_load(stop: threading.Event, samples: list[float]) -> None:
    while not stop.wait(5):
        samples.append(os.getloadavg()[0])


def run_lane(target: str) -> dict:
    """``make TARGET``: its wall time, exit status, load, and make's own last line."""
    samples = [os.getloadavg()[0]]
    stop = threading.Event()
    sampler = threading.Thread(target=sampled_load, args=(stop, samples), daemon=True)
    sampler.start()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    env = dict(os.environ, PYTEST_ADDOPTS=f"--deselect {README_QUOTES}")
    proc = subprocess.run(["make", "--no-print-directory", target], cwd=REPO, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu
    stop.set()
    sampler.join()
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    print(f"make {target}: {wall:.1f} s ({cpu:.1f} s CPU), exit {proc.returncode}, load "
          f"{min(samples):.1f} to {max(samples):.1f}", flush=True)
    if proc.returncode != 0:
        print("\n".join(lines[-30:]), file=sys.stderr)
    lane = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "exit_status": proc.returncode,
            "load": {"min": round(min(samples), 1), "max": round(max(samples), 1),
                     "mean": round(sum(samples) / len(samples), 1)},
            "summary": next((ln for ln in reversed(lines) if " passed" in ln), "")}
    steps = next((MAKE_TEST_STEPS.search(ln) for ln in reversed(lines)
                  if MAKE_TEST_STEPS.search(ln)), None)
    if steps:
        lane["steps_s"] = dict(zip(("all", "lint_and_book", "parallel_tests",
                                    "serial_tests"), map(int, steps.groups()), strict=True))
    return lane


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="also run make test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    old = json.loads(args.out.read_text()) if args.out.is_file() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    lanes = {target: run_lane(target) for target in
             ("lint", "test-fast", *(("test",) if args.full else ()))}
    if not args.full and "test" in old.get("lanes", {}):
        lanes["test"] = old["lanes"]["test"]
    report = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "machine": {"cores": os.cpu_count(), "commit": commit},
              "lanes": lanes}
    if not args.no_write:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")
    return max(lane["exit_status"] for lane in lanes.values() if "exit_status" in lane)


if __name__ == "__main__":
    sys.exit(main())
