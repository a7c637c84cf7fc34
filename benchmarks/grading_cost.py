"""CPU seconds per submission, by assignment, and where they go: what grading a class
costs a worker.

    python benchmarks/grading_cost.py [--assignments A B ...] [--no-sandbox]
                                      [--fresh-kernels] [--tail | --no-tail]
                                      [--out FILE | --no-write] [--update]
                                      [--repeats R] [--keep DIR]

The demo class (autograder/commands/demo.py: every assignment's correct, wrong, untouched,
missing and unreadable submissions) is collected once, then each assignment is graded
on its own with ``python -m autograder grade A --force -j 1`` (one worker, so wall and
CPU time are not blurred by a second worker), in the sandbox unless ``--no-sandbox``.

The whole run's CPU time is counted in a cgroup that holds this script and everything
it starts: ``getrusage(RUSAGE_CHILDREN)`` misses the sandboxed kernels (bubblewrap's
init reaps them inside their PID namespace), which are most of the cost. Without a
cgroup (not root) the script refuses the sandbox and counts with getrusage, which sees
unsandboxed kernels because the worker waits for each one.

Where it goes: every result carries its grading's profile (autograder/grading/
stopwatch.py): the CPU and wall seconds of each step (the worker's start, the zygote's
imports, reading and assembling the notebook, starting the kernel, the set-up cell,
per part the student's cells, the visible checks, the probe and the judge, stopping
the kernel, writing the graded notebook, recording the result), counted in the
worker, the kernel's processes and the zygote. What a run pays once is set apart:
the worker's start and the zygote's imports (from the run's own profile), the
submissions without a kernel, and what the command, the worker and the zygote spend
outside any step (start, end): measured by a second run of only the submissions
without a kernel, its CPU less its profile's laps. So that

    CPU s per submission = (the run's CPU - what it pays once) / submissions with a kernel

is what each further submission costs a long-running worker, and the profile's steps,
averaged the same way, must add up to it within 5 % (the script says how close).

The same machine's speed varies between runs (on the course's 2-core machine, idle, one
assignment's three runs differed by up to 20 % of their median): ``--repeats R``
grades each assignment R times and keeps the run of median cost, with every run's cost
beside it ("repeats").

``--tail`` (on by default) also grades one submission that runs to its time limit:
the correct notebook with cells added that never end, so that the notebook's time
limit stops it; a grading worker is held that long (the large-class page says what a
share of such submissions adds).

The capacity table of the book's page *Grading a large class* and the profile figure
of the page *Grading a class* come from these figures
(benchmarks/results/grading_cost.json).
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

from autograder.commands import demo  # noqa: E402 - after the sys.path line
from autograder.grading.stopwatch import ONCE, PART_STEPS, STEPS  # noqa: E402 - same
from machine import cpu_model  # noqa: E402 - this folder

PY = sys.executable
RESULTS = REPO / "benchmarks" / "results"
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
#: the profile's steps must add up to the measured cost within this share
COVERAGE_TOLERANCE = 0.05
#: cells a tail submission adds that never end (more than the notebook's time limit
#: allows at the cell time limit: 300 s / 60 s)
TAIL_CELLS = 6

# Runs ``python -m autograder ...`` and writes its own CPU seconds (not its children's)
# to the file named first: what the grade command itself costs.
SELF_CPU = """\
import json, resource, runpy, sys
out = sys.argv.pop(1)
sys.argv[0] = "autograder"
code = 0
try:
    runpy.run_module("autograder", run_name="__main__", alter_sys=True)
except SystemExit as stop:
    code = stop.code
usage = resource.getrusage(resource.RUSAGE_SELF)
with open(out, "w") as fh:
    json.dump(usage.ru_utime + usage.ru_stime, fh)
sys.exit(code)
"""


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
def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def kernel_mode(fresh: bool) -> str:
    return ("fresh kernel per submission (--fresh-kernels)" if fresh
            else "warm kernels (the grader's default)")


def machine(sandbox: bool, mode: str, counter: str) -> dict:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    # uncommitted changes to the grader or the notebooks make the commit approximate
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "autograder",
                            "solutions"], cwd=REPO, capture_output=True,
                           text=True).stdout.split("\n")
    return {"cores": os.cpu_count(), "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "tensorflow": importlib.metadata.version("tensorflow"),
            "keras": importlib.metadata.version("keras"),
            "sandbox": sandbox, "kernel_mode": mode, "cpu_counted_by": counter,
            "commit": commit,
            "grader_files_uncommitted": sorted(line[3:] for line in dirty if line)}


# ------------------------------------------------------------------------ measuring
def timed_grade(workspace: Path, assignment: str, flags: list[str], meter: CgroupCpu,
                students: list[str] = ()) -> dict:
    """Grade; the run's wall and CPU time (cgroup, and getrusage) and the command's
    own CPU time."""
    with tempfile.NamedTemporaryFile(suffix=".json") as own:
        picked = [arg for s in students for arg in ("--student", s)]
        cmd = [PY, "-c", SELF_CPU, own.name, "grade", assignment, "-w", str(workspace),
               "--force", "-j", "1", *picked, *flags]
        cpu0 = meter.seconds() if meter.available else None
        rusage0 = rusage_children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"grade {assignment} failed:\n{proc.stderr[-3000:]}")
        rusage = rusage_children_cpu() - rusage0
        command = json.loads(Path(own.name).read_text())
    return {"wall_s": wall, "rusage_cpu_s": rusage, "command_cpu_s": command,
            "cpu_s": meter.seconds() - cpu0 if meter.available else rusage}


def read_results(workspace: Path, assignment: str) -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text())
            for path in sorted((workspace / "results" / assignment).glob("*.json"))}


def profile_of(results: dict[str, dict]) -> tuple[dict, dict, dict]:
    """(once: {step: cpu_s}, per step: {step: [cpu_s, wall_s]}, per part: {part:
    {step: cpu_s}}), each summed over the results' profiles."""
    once: dict[str, float] = {}
    steps: dict[str, list[float]] = {}
    parts: dict[str, dict[str, float]] = {}
    for result in results.values():
        for lap in result.get("profile") or []:
            step, cpu, wall = lap["step"], lap["cpu_s"], lap["wall_s"]
            if step in ONCE:
                once[step] = once.get(step, 0.0) + cpu
                continue
            total = steps.setdefault(step, [0.0, 0.0])
            total[0] += cpu
            total[1] += wall
            if lap.get("part") is not None:
                by_step = parts.setdefault(lap["part"], {})
                by_step[step] = by_step.get(step, 0.0) + cpu
    return once, steps, parts


def has_kernel(result: dict) -> bool:
    return any(lap["step"] == "kernel start" for lap in result.get("profile") or [])


def laps_cpu(results) -> float:
    return sum(lap["cpu_s"] for r in results for lap in r.get("profile") or [])


def cost_figures(run: dict, results: dict[str, dict], startup: dict,
                 startup_results: dict[str, dict]) -> dict:
    """The per-submission cost of one assignment's run and its profile.

    ``startup``: a run of the same command on the submissions without a kernel only
    (the worker starts, its zygote imports, it ends). What that run spent outside its
    profile's laps (the command itself, the worker's and the zygote's ends) is paid
    once by the full run too; the full run's own laps give its worker start and zygote
    imports."""
    with_kernel = {s: r for s, r in results.items() if has_kernel(r)}
    without = [r for s, r in results.items() if s not in with_kernel]
    n = len(with_kernel)
    once, steps, parts = profile_of(with_kernel)
    once_laps, _, _ = profile_of(dict(enumerate(without)))
    for step, cpu in once_laps.items():
        once[step] = once.get(step, 0.0) + cpu
    once["submissions without a kernel"] = laps_cpu(without) - sum(once_laps.values())
    once["command, worker and zygote ends"] = max(
        0.0, startup["cpu_s"] - laps_cpu(startup_results.values()))
    per_submission = (run["cpu_s"] - sum(once.values())) / n
    profiled = sum(cpu for cpu, _ in steps.values()) / n
    kinds: dict[str, int] = {}
    for r in with_kernel.values():
        kinds[r["kernel"]] = kinds.get(r["kernel"], 0) + 1
    return {
        "submissions": len(results), "submissions_with_kernel": n,
        "cpu_s_per_submission": round(per_submission, 2),
        "profiled_cpu_s_per_submission": round(profiled, 2),
        "unattributed_share": round(1 - profiled / per_submission, 3),
        "wall_s_per_submission": round(sum(wall for _, wall in steps.values()) / n, 2),
        "once_cpu_s": {k: round(v, 2) for k, v in once.items()},
        "cpu_s": round(run["cpu_s"], 2), "wall_s": round(run["wall_s"], 2),
        "startup_cpu_s": round(startup["cpu_s"], 2),
        "rusage_cpu_s": round(run["rusage_cpu_s"], 2),
        "profile": {step: {"cpu_s": round(cpu / n, 3), "wall_s": round(wall / n, 3)}
                    for step, (cpu, wall) in sorted(steps.items(),
                                                    key=lambda kv: STEPS.index(kv[0]))},
        "parts": {part: {step: round(cpu / n, 3) for step, cpu in by_step.items()}
                  for part, by_step in parts.items()},
        "kernels_used": kinds,
    }


def measure(workspace: Path, assignment: str, flags: list[str], meter: CgroupCpu) -> dict:
    """Grade the whole class, then only its submissions without a kernel (what a run
    pays once)."""
    run = timed_grade(workspace, assignment, flags, meter)
    results = read_results(workspace, assignment)
    no_kernel = sorted(s for s, r in results.items() if not has_kernel(r))
    if not no_kernel:
        raise RuntimeError(f"{assignment}: the demo class has no submission without a "
                           "kernel to measure a run's start-up with")
    startup = timed_grade(workspace, assignment, flags, meter, no_kernel)
    startup_results = {s: r for s, r in read_results(workspace, assignment).items()
                       if s in no_kernel}
    return cost_figures(run, results, startup, startup_results)


# ----------------------------------------------------------------------------- tail
def tail_notebook(assignment: str) -> str:
    """The correct notebook with ``TAIL_CELLS`` cells after the set-up that never end
    (one student's loop that does not stop, again and again)."""
    import nbformat

    nb = demo.AssignmentKit(assignment).notebook()
    spin = [nbformat.v4.new_code_cell("while True:\n    pass") for _ in range(TAIL_CELLS)]
    at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code") + 1
    nb.cells[at:at] = spin
    return nbformat.writes(nb)


def measure_tail(work: Path, assignment: str, flags: list[str], meter: CgroupCpu,
                 ends_cpu: float) -> dict:
    """Grade one submission that runs to the notebook's time limit: its CPU and wall
    seconds (the worker's start and the zygote's imports, from its profile, and
    ``ends_cpu``, what the assignment's start-up run spent outside its laps, set
    apart)."""
    from autograder.sandbox.limits import Limits

    source = work / "tail-incoming" / "9001"
    source.mkdir(parents=True)
    (source / f"{assignment}.ipynb").write_text(tail_notebook(assignment))
    workspace = work / "tail-ws"
    subprocess.run([PY, "-m", "autograder", "collect", str(source.parent), "-a", assignment,
                    "-w", str(workspace)], cwd=REPO, env=ENV, check=True,
                   capture_output=True)
    before = load()
    run = timed_grade(workspace, assignment, flags, meter)
    result = read_results(workspace, assignment)["9001"]
    once = sum(lap["cpu_s"] for lap in result["profile"] if lap["step"] in ONCE)
    limits = Limits()
    return {"assignment": assignment, "cpu_s": round(run["cpu_s"] - once - ends_cpu, 2),
            "profiled_cpu_s": round(laps_cpu([result]) - once, 2),
            "wall_s": result["seconds"], "reason": result.get("reason"),
            "notebook_timeout_s": limits.notebook_timeout,
            "cell_timeout_s": limits.cell_timeout, "load_before": before,
            "load_after": load()}


# ---------------------------------------------------------------------------- output
def print_profile(name: str, row: dict) -> None:
    print(f"\n{name}: {row['cpu_s_per_submission']:.2f} CPU s per submission "
          f"({row['wall_s_per_submission']:.1f} s of the worker's wall time); the "
          f"profile adds up to {row['profiled_cpu_s_per_submission']:.2f} "
          f"({100 * row['unattributed_share']:+.1f} % not attributed); once per run: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in row["once_cpu_s"].items()))
    print(f"  {'step':<24}{'CPU s':>8}{'wall s':>8}")
    for step, figures in row["profile"].items():
        print(f"  {step:<24}{figures['cpu_s']:>8.3f}{figures['wall_s']:>8.3f}")
    print(f"  {'part':<24}" + "".join(f"{s[:12]:>14}" for s in PART_STEPS))
    for part, by_step in row["parts"].items():
        print(f"  {part:<24}" + "".join(f"{by_step.get(s, 0.0):>14.3f}" for s in PART_STEPS))


def print_table(rows: dict[str, dict]) -> None:
    print(f"\n{'assignment':<17}{'subs':>5}{'kernels':>8}{'CPU s/sub':>11}"
          f"{'profiled':>10}{'wall s/sub':>11}{'run CPU s':>10}{'run wall s':>11}")
    for name, r in rows.items():
        print(f"{name:<17}{r['submissions']:>5}{r['submissions_with_kernel']:>8}"
              f"{r['cpu_s_per_submission']:>11.2f}{r['profiled_cpu_s_per_submission']:>10.2f}"
              f"{r['wall_s_per_submission']:>11.2f}{r['cpu_s']:>10.1f}{r['wall_s']:>11.1f}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignments", nargs="+",
                        help="default: every assignment the demo class can make")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap (default: in the sandbox)")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="a fresh kernel per submission (default: warm kernels)")
    parser.add_argument("--tail", action=argparse.BooleanOptionalAction, default=True,
                        help="also grade one submission that runs to its time limit "
                             "(about 5 minutes)")
    parser.add_argument("--out", default=None,
                        help="default: benchmarks/results/grading_cost.json "
                             "(grading_cost-fresh.json with --fresh-kernels)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--update", action="store_true",
                        help="replace only what this run measured (its assignments, its "
                             "tail, the machine's description) in the results file; each "
                             "row keeps its date, commit and load")
    parser.add_argument("--repeats", type=int, default=1,
                        help="grade each assignment this many times and keep the run of "
                             "median cost (each run's cost is kept beside it)")
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
    if args.fresh_kernels:
        flags.append("--fresh-kernels")
    mode = kernel_mode(args.fresh_kernels)
    work = Path(args.keep or tempfile.mkdtemp(prefix="grading-cost-"))
    rows, tail = {}, None
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
        for a in manifest["assignments"]:
            runs = []
            for _ in range(args.repeats):
                start_load = load()
                runs.append(measure(work / "ws", a, flags, meter))
                runs[-1]["load"] = [start_load, load()]
            # the run of median cost: the machine's speed varies between runs
            runs.sort(key=lambda r: r["cpu_s_per_submission"])
            rows[a] = runs[len(runs) // 2]
            rows[a]["repeats"] = [r["cpu_s_per_submission"] for r in runs]
            rows[a]["date"], rows[a]["commit"] = now(), info["commit"]
            print_profile(a, rows[a])
            if len(runs) > 1:
                print(f"  {len(runs)} runs: {rows[a]['repeats']} CPU s per submission; "
                      "the profile above is the median run's")
        if args.tail:
            first = manifest["assignments"][0]
            tail = measure_tail(work, first, flags, meter,
                                rows[first]["once_cpu_s"]["command, worker and zygote ends"])
            print(f"\ntail: one {tail['assignment']} submission that runs to its time "
                  f"limit ({tail['notebook_timeout_s']:g} s a notebook): "
                  f"{tail['cpu_s']:.1f} CPU s, {tail['wall_s']:.1f} s of a worker's "
                  f"wall time ({tail['reason']})")
    finally:
        meter.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    after = load()
    print(f"load average (1, 5, 15 min) before {before}, after {after}")
    off = {a: r["unattributed_share"] for a, r in rows.items()
           if abs(r["unattributed_share"]) > COVERAGE_TOLERANCE}
    if off:
        print(f"warning: the profile misses more than {COVERAGE_TOLERANCE:.0%} of the "
              f"measured cost: {off}", file=sys.stderr)
    report = {"date": now(),
              "machine": dict(info, load_before=before, load_after=after),
              "method": "one worker (-j 1), --force; cpu_s_per_submission = (CPU of the "
                        "run - what the run pays once: the worker's start and the "
                        "zygote's imports from the run's profile, the submissions "
                        "without a kernel, and what a run of only those spent outside "
                        "its profile: the command, the worker's and the zygote's ends) / "
                        "submissions with a kernel; profile: each step's CPU and wall "
                        "seconds per submission with a kernel, from the results' "
                        "profiles",
              "assignments": rows}
    if tail is not None:
        report["tail"] = dict(tail, date=now(), commit=info["commit"])
    out = Path(args.out or RESULTS / ("grading_cost-fresh.json" if args.fresh_kernels
                                      else "grading_cost.json"))
    if args.update and out.exists():  # the other assignments' rows stay as they were
        old = json.loads(out.read_text())
        report = dict(old, date=report["date"], machine=report["machine"],
                      assignments={**old["assignments"], **rows},
                      **({"tail": report["tail"]} if tail is not None else {}))
    if not args.no_write:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
