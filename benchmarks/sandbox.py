"""What the sandbox costs per notebook: kernel start-up and one graded notebook.

    python benchmarks/sandbox.py [--repeats 5] [--assignment sgd_momentum]
    python benchmarks/sandbox.py --class [--repeats 3] [--workers 2]

Alternates sandboxed and plain runs (so that a change in machine load hits both) of:

1. kernel start-up: ``sandbox.start_kernel`` until the kernel answers, then shut down;
2. start-up plus ``import tensorflow`` and one tiny op (the floor of a graded notebook);
3. ``grading.submission.grade_submission`` of the instructor's own notebook (all parts pass).

With ``--class`` it instead grades the demo class (``python -m autograder demo``,
collected once) with ``python -m autograder grade --force`` in the sandbox and with
``--no-sandbox``, alternately, ``--repeats`` times each: what the sandbox costs a
whole class. (benchmarks/autograde.py prints it too, next to plain nbgrader's serial
time.)

Prints medians, the sandboxed/plain ratio, and the load average before and after
(timings are wall clock: quote them from a quiet machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from autograder import sandbox  # noqa: E402 - after the sys.path line
from autograder.grading import submission  # noqa: E402 - after the sys.path line
from autograder.grading.assignment import load_assignment  # noqa: E402 - after the sys.path line
from autograder.pool import KERNEL_THREAD_ENV  # noqa: E402 - after the sys.path line


def start_only(sandboxed: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with sandbox.start_kernel(Path(tmp), sandbox.Limits(), sandbox=sandboxed) as kc:
            seconds = time.perf_counter() - start
            assert sandbox.run_cell(kc, "1").error is None
    return seconds


def with_tensorflow(sandboxed: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with sandbox.start_kernel(Path(tmp), sandbox.Limits(), sandbox=sandboxed,
                                  env=KERNEL_THREAD_ENV) as kc:
            res = sandbox.run_cell(kc, "import tensorflow as tf\n"
                                       "float(tf.reduce_sum(tf.ones(3)))")
            assert res.error is None, res.error
            return time.perf_counter() - start


def grade_solution(sandboxed: bool, assignment) -> float:
    start = time.perf_counter()
    result = submission.grade_submission(assignment.template_path, assignment,
                                         submission.Kernels(sandbox.Limits(), sandboxed))
    assert result.status == "graded" and result.score == sum(
        p.max_points for p in result.parts.values() if p.auto), result
    return time.perf_counter() - start


def grade_class(repeats: int, workers: int) -> None:
    import subprocess

    from autograder.commands import demo

    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        work = Path(tmp)
        manifest = demo.make_class(work / "incoming")
        workspace = work / "ws"
        for a in manifest["assignments"]:
            subprocess.run([sys.executable, "-m", "autograder", "collect",
                            str(manifest["sources"][a]), "-a", a, "-w", str(workspace)],
                           cwd=REPO, check=True, capture_output=True)
        n = len(manifest["students"]) * len(manifest["assignments"])
        print(f"class: {n} notebooks ({', '.join(manifest['assignments'])}), "
              f"{workers} workers")
        times = {"--sandbox": [], "--no-sandbox": []}
        for i in range(repeats):
            order = ("--sandbox", "--no-sandbox") if i % 2 == 0 else (
                "--no-sandbox", "--sandbox")
            for flag in order:
                start = time.perf_counter()
                for a in manifest["assignments"]:
                    subprocess.run([sys.executable, "-m", "autograder", "grade", a, "-w",
                                    str(workspace), "--force", "-j", str(workers), flag],
                                   cwd=REPO, check=True, capture_output=True)
                times[flag].append(time.perf_counter() - start)
                print(f"  run {i + 1} {flag:13s} {times[flag][-1]:6.1f} s  "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
        boxed = statistics.median(times["--sandbox"])
        plain = statistics.median(times["--no-sandbox"])
        print(f"grading the class: sandbox {boxed:.1f} s, plain {plain:.1f} s, "
              f"ratio {boxed / plain:.3f} ({(boxed / plain - 1) * 100:+.1f}%), "
              f"median of {repeats}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--assignment", default="sgd_momentum")
    parser.add_argument("--class", dest="whole_class", action="store_true",
                        help="grade the synthetic class both ways instead")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not sandbox.sandbox_available():
        sys.exit(f"no sandbox to compare with: {sandbox.sandbox_status()}")
    if args.whole_class:
        print(f"load average before: {os.getloadavg()}, {os.cpu_count()} cores")
        grade_class(args.repeats, args.workers)
        print(f"load average after: {os.getloadavg()}")
        return
    os.environ["AUTOGRADER_SANDBOX_WARNED"] = "1"  # plain runs are on purpose here
    os.environ.update(KERNEL_THREAD_ENV)
    assignment = load_assignment(args.assignment)
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} cores")
    measures = {
        "kernel start-up": start_only,
        "start-up + import tensorflow": with_tensorflow,
        f"grade {args.assignment} (solution)": lambda s: grade_solution(s, assignment),
    }
    for label, func in measures.items():
        times = {True: [], False: []}
        func(True), func(False)  # warm the file cache
        for _ in range(args.repeats):
            for sandboxed in (True, False):
                times[sandboxed].append(func(sandboxed))
        boxed, plain = statistics.median(times[True]), statistics.median(times[False])
        print(f"{label:40s} sandbox {boxed:6.2f} s   plain {plain:6.2f} s   "
              f"ratio {boxed / plain:5.3f}   ({boxed - plain:+.2f} s, "
              f"median of {args.repeats})")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
