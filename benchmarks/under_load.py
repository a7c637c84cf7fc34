"""Run tests while CPU-burning processes load the machine, and report the load.

    python benchmarks/under_load.py [--burners 2] [--warm-up 30] [-- PYTEST ARGS]

Starts ``--burners`` busy processes (one pure-Python loop each), waits ``--warm-up``
seconds for the load average to climb, runs ``python -m pytest`` with the given
arguments (default: the sandbox, grader-integrity and adversarial suites) and prints
its wall time, its exit status, and the load average (1 minute) sampled every 5 s
while it ran. The burners are stopped however the run ends. Exit status: pytest's.

Verdicts must not depend on the machine's load; time limits that count the
set-up cell or scale with nothing fail honest submissions on a busy machine.

Measured (2 cores, 2 burners, other jobs running too; the default tests, 81 of them):
all pass in 812 s, load average 10.8 mean and 16.9 max while they ran;
``import tensorflow`` took 24.6 s, so the adversarial suite's cell limit was 66 s;
its 44 submissions were graded in 581 s. (Before time limits left the set-up cell out and scaled
with the measured import, at load average 4, 26 tests failed.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TESTS = ["tests/sandbox/test_sandbox.py", "tests/grader/test_grader_integrity.py",
                 "tests/adversarial", "-q", "-p", "no:cacheprovider"]
BURN = "while True:\n    pass"


def start_burners(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(n)]


def stop(burners: list[subprocess.Popen]) -> None:
    for proc in burners:
        proc.kill()
    for proc in burners:
        proc.wait()


def sample_load(samples: list[float], done: threading.Event, every: float = 5.0) -> None:
    while not done.wait(every):
        samples.append(os.getloadavg()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--warm-up", type=float, default=30.0)
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args(argv)
    burners = start_burners(args.burners)
    samples: list[float] = []
    done = threading.Event()
    try:
        time.sleep(args.warm_up)
        before = os.getloadavg()[0]
        sampler = threading.Thread(target=sample_load, args=(samples, done), daemon=True)
        sampler.start()
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", "pytest",
                                *(args.pytest_args or DEFAULT_TESTS)], cwd=REPO)
        seconds = time.monotonic() - started
    finally:
        done.set()
        stop(burners)
    samples = samples or [before]
    print(f"\n{args.burners} burners on {os.cpu_count()} cores; pytest exit status {code} "
          f"after {seconds:.0f} s; load average (1 min) {before:.1f} when it started, "
          f"{statistics.mean(samples):.1f} mean, {max(samples):.1f} max while it ran")
    return code


if __name__ == "__main__":
    sys.exit(main())
