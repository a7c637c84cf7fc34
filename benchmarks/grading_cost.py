"""CPU seconds per submission, by assignment: what grading a class costs a worker.

    python benchmarks/grading_cost.py [--assignments A B ...] [--no-sandbox]
                                      [--fresh-kernels] [--out FILE | --no-write]

The demo class (autograder/demo.py: every assignment's correct, wrong, untouched,
missing and unreadable submissions) is collected once, then each assignment is graded
on its own with ``python -m autograder grade A --force -j 1`` (one worker, so wall and
CPU time are not blurred by a second worker), in the sandbox unless ``--no-sandbox``:

1. a *start-up* run on the submissions that fail before any kernel starts (missing or
   unreadable notebook): what starting ``grade`` and one worker costs;
2. the *full* run on every submission of the assignment.

The cost of one submission is (full - start-up) / (submissions that ran a kernel):
a long-running worker (the local pool on a large class, or a queue worker) pays the
start-up once, not per submission. The capacity table of the book's page *Grading a
large class* is computed from these figures (benchmarks/results/grading_cost.json).

CPU time is counted in a cgroup that holds this script and everything it starts:
``getrusage(RUSAGE_CHILDREN)`` misses the sandboxed kernels (bubblewrap's init reaps
them inside their PID namespace, and a killed sandbox's init is reaped by the host's
init), which is most of the cost. Both counts are printed; without a cgroup (not root)
the script refuses the sandbox and counts with getrusage, which sees unsandboxed
kernels because the worker waits for each one.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import demo  # noqa: E402

PY = sys.executable
RESULTS = REPO / "benchmarks" / "results"
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


# --------------------------------------------------------------------- CPU counters
def rusage_children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CgroupCpu:
    """CPU seconds of every process in a new cgroup that this process joins (its
    children inherit it), read from cgroup v1 ``cpuacct.usage`` or v2 ``cpu.stat``."""

    CANDIDATES = (("/sys/fs/cgroup/cpuacct", "cpuacct.usage"),
                  ("/sys/fs/cgroup/unified", "cpu.stat"),
                  ("/sys/fs/cgroup", "cpu.stat"))

    def __init__(self):
        self.folder = self.counter = None
        name = f"grading-cost-{os.getpid()}"
        for root, counter in self.CANDIDATES:
            folder = Path(root) / name
            if not (Path(root) / counter).exists() and not (Path(root) / "cgroup.procs").exists():
                continue
            try:
                folder.mkdir()
                (folder / "cgroup.procs").write_text(str(os.getpid()))
                self.folder, self.counter = folder, folder / counter
                self.seconds()
                return
            except OSError:
                self.close()
                continue

    @property
    def available(self) -> bool:
        return self.counter is not None

    def seconds(self) -> float:
        text = self.counter.read_text()
        if self.counter.name == "cpuacct.usage":
            return int(text) / 1e9
        fields = dict(line.split() for line in text.splitlines())
        return int(fields["usage_usec"]) / 1e6

    def close(self) -> None:
        """Move back to the parent cgroup and remove ours."""
        if self.folder is None:
            return
        try:
            (self.folder.parent / "cgroup.procs").write_text(str(os.getpid()))
            self.folder.rmdir()
        except OSError:
            pass
        self.folder = self.counter = None


# ----------------------------------------------------------------------- the machine
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def grader_kernel_options() -> set[str]:
    """The ``grade`` options this checkout has (``--fresh-kernels`` once warm kernels
    landed)."""
    from autograder.cli import build_parser

    parser = build_parser()
    grade = parser._subparsers._group_actions[0].choices["grade"]  # noqa: SLF001
    return {opt for action in grade._actions for opt in action.option_strings}  # noqa: SLF001


def kernel_mode(fresh_requested: bool) -> str:
    if "--fresh-kernels" not in grader_kernel_options():
        return "fresh kernel per submission (this grader has no warm kernels)"
    return ("fresh kernel per submission (--fresh-kernels)" if fresh_requested
            else "warm kernels (the grader's default)")


def machine(sandbox: bool, mode: str, counter: str) -> dict:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    # uncommitted changes to the grader make the commit an approximate label
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "autograder"], cwd=REPO,
                           capture_output=True, text=True).stdout.split("\n")
    return {"cores": os.cpu_count(), "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "tensorflow": importlib.metadata.version("tensorflow"),
            "keras": importlib.metadata.version("keras"),
            "sandbox": sandbox, "kernel_mode": mode, "cpu_counted_by": counter,
            "commit": commit,
            "grader_files_uncommitted": sorted(line[3:] for line in dirty if line)}


# ------------------------------------------------------------------------ measuring
def timed(cmd: list[str], meter: CgroupCpu) -> dict:
    """Run ``cmd``; its wall time and its CPU time (cgroup and getrusage)."""
    cpu0 = meter.seconds() if meter.available else None
    rusage0 = rusage_children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    rusage = rusage_children_cpu() - rusage0
    return {"wall_s": wall, "rusage_cpu_s": rusage,
            "cpu_s": meter.seconds() - cpu0 if meter.available else rusage}


def grade_cmd(workspace: Path, assignment: str, flags: list[str],
              students: list[str] = ()) -> list[str]:
    picked = [arg for s in students for arg in ("--student", s)]
    return [PY, "-m", "autograder", "grade", assignment, "-w", str(workspace),
            "--force", "-j", "1", *picked, *flags]


def measure(workspace: Path, assignment: str, expected: dict, flags: list[str],
            meter: CgroupCpu) -> dict:
    """Start-up run, full run, and the per-submission cost that follows."""
    no_kernel = sorted(s for s, e in expected.items() if e[assignment]["status"] == "failed")
    startup = timed(grade_cmd(workspace, assignment, flags, no_kernel), meter)
    full = timed(grade_cmd(workspace, assignment, flags), meter)
    with_kernel = len(expected) - len(no_kernel)
    kernels = kernels_used(workspace, assignment)
    per = (full["cpu_s"] - startup["cpu_s"]) / with_kernel
    return {"submissions": len(expected), "submissions_with_kernel": with_kernel,
            "cpu_s_per_submission": round(per, 2),
            "wall_s_per_submission": round((full["wall_s"] - startup["wall_s"])
                                           / with_kernel, 2),
            "startup_cpu_s": round(startup["cpu_s"], 2),
            "cpu_s": round(full["cpu_s"], 2), "wall_s": round(full["wall_s"], 2),
            "rusage_cpu_s": round(full["rusage_cpu_s"], 2), "kernels_used": kernels}


def kernels_used(workspace: Path, assignment: str) -> dict[str, int]:
    """How many submissions got a warm or a fresh kernel, as the results say (a grader
    without warm kernels says nothing: counted as fresh)."""
    counts: dict[str, int] = {}
    for path in (workspace / "results" / assignment).glob("*.json"):
        result = json.loads(path.read_text())
        if result["status"] == "graded" or result.get("kernel"):
            kind = result.get("kernel", "fresh")
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def print_table(rows: dict[str, dict]) -> None:
    print(f"\n{'assignment':<17}{'subs':>5}{'kernels':>8}{'CPU s/sub':>11}"
          f"{'wall s/sub':>11}{'start-up CPU s':>15}{'run CPU s':>10}{'run wall s':>11}"
          f"{'getrusage s':>12}")
    for name, r in rows.items():
        print(f"{name:<17}{r['submissions']:>5}{r['submissions_with_kernel']:>8}"
              f"{r['cpu_s_per_submission']:>11.2f}{r['wall_s_per_submission']:>11.2f}"
              f"{r['startup_cpu_s']:>15.1f}{r['cpu_s']:>10.1f}{r['wall_s']:>11.1f}"
              f"{r['rusage_cpu_s']:>12.1f}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignments", nargs="+",
                        help="default: every assignment the demo class can make")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap (default: in the sandbox)")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="passed to grade when the grader has warm kernels")
    parser.add_argument("--out", default=str(RESULTS / "grading_cost.json"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--keep", help="work in this folder and keep it")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    meter = CgroupCpu()
    if not meter.available and not args.no_sandbox:
        print("error: no cgroup to count the sandboxed kernels' CPU in (run as root), "
              "or measure with --no-sandbox", file=sys.stderr)
        return 2
    flags = ["--no-sandbox" if args.no_sandbox else "--sandbox"]
    if args.fresh_kernels and "--fresh-kernels" in grader_kernel_options():
        flags.append("--fresh-kernels")
    mode = kernel_mode(args.fresh_kernels)
    work = Path(args.keep or tempfile.mkdtemp(prefix="grading-cost-"))
    try:
        manifest = demo.make_class(work / "incoming",
                                   args.assignments or demo.available_assignments())
        for a in manifest["assignments"]:
            subprocess.run([PY, "-m", "autograder", "collect", manifest["sources"][a],
                            "-a", a, "-w", str(work / "ws")], cwd=REPO, env=ENV,
                           check=True, capture_output=True)
        info = machine(not args.no_sandbox, mode, "cgroup" if meter.available
                       else "getrusage(RUSAGE_CHILDREN)")
        before = load()
        print(f"{info['cores']} cores, {info['cpu_model']}; load before {before}; "
              f"{mode}; sandbox {'on' if info['sandbox'] else 'off'}", flush=True)
        rows = {}
        for a in manifest["assignments"]:
            rows[a] = measure(work / "ws", a, manifest["expected"], flags, meter)
            print(f"{a}: {rows[a]['cpu_s_per_submission']} CPU s per submission "
                  f"(kernels: {rows[a]['kernels_used']})", flush=True)
    finally:
        meter.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    after = load()
    print(f"load average (1, 5, 15 min) before {before}, after {after}")
    report = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": dict(info, load_before=before, load_after=after),
              "method": "one worker (-j 1), --force; cpu_s_per_submission = (CPU of the "
                        "full run - CPU of a start-up run on the submissions without a "
                        "kernel) / submissions with a kernel",
              "assignments": rows}
    if not args.no_write:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
