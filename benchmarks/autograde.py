"""Grade the synthetic class with plain serial ``nbgrader autograde`` and with the tool.

    python benchmarks/autograde.py [--workers N] [--repeats R] [--keep DIR] [--kernels-only]
                                   [--assignments A B ...] [--no-whole-class]

The class is autograder/commands/demo.py's (two real assignments, 13 students each: correct,
each part wrong, untouched, missing, invalid JSON, renamed, extra files, ...), collected
once with ``python -m autograder collect``. Then, timed one after the other:

1. ``nbgrader autograde <assignment>`` for each assignment: nbgrader's own command,
   serial, with the course's configuration (autograder/nbgrader_config.py);
2. ``python -m autograder grade <both assignments> --force -j N``, in the sandbox (warm
   kernels, the default);
3. the same with ``--fresh-kernels``, and with ``--no-sandbox``, which starts a fresh
   kernel per notebook too (warm kernels fork inside the sandbox): these two give what
   the sandbox costs (the course aims at 15% or less);

and ``python -c "import tensorflow"``, the floor any per-notebook kernel pays. It also
checks that nbgrader and the tool give every student the same total.

First, warm against fresh kernels (``--kernels-only`` stops there, and takes every
assignment unless ``--assignments`` names some): the tool grades each assignment, then
the whole class (unless ``--no-whole-class``), with ``--fresh-kernels`` and with warm
kernels (forked from each worker's zygote), one after the other, and prints both
times, their ratio and the load average beside each, and whether every submission got
the same verdict (status, score, points per part) both ways. Beside the wall time of
each run (which includes starting the grader, its workers and, warm, their zygotes)
it prints a worker's mean time per notebook that ran (the results' "seconds").

Timings are wall clock and noisy when other jobs run: the script prints the load
average before and after; quote figures from a quiet machine. It also prints the CPU
time of nbgrader and of the unsandboxed tool (every process, kernels included), which
other jobs disturb less.

Figures go to benchmarks/results/autograde.json (``--kernels-only``:
autograde-kernels.json; ``--out FILE`` or ``--no-write``), with the machine and the
load; the book's grading page quotes them and a test reads them there.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# benchmarks/ holds scripts, not modules: its queue.py must not shadow the standard
# library's queue (Python puts a script's folder first on the path)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "benchmarks"))  # after the standard library: grading_cost

import grading_cost  # noqa: E402 - this folder (its description of the machine)
from autograder.commands import demo  # noqa: E402 - after the sys.path line
from autograder import gradebook as gbook  # noqa: E402 - after the sys.path line
from autograder.pool import default_workers  # noqa: E402 - after the sys.path line

PY = sys.executable
NBGRADER = str(Path(PY).parent / "nbgrader")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
           PATH=str(Path(PY).parent) + os.pathsep + os.environ.get("PATH", ""))


CPU = {"seconds": 0.0}  # CPU time (user + system) of every finished child process


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd, **kwargs) -> float:
    """Run a command; its wall time in seconds (its CPU time, kernels included, goes to
    CPU["seconds"]: every process it started was waited for by its parent)."""
    cpu = _children_cpu()
    start = time.perf_counter()
    kwargs.setdefault("env", ENV)
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - start
    CPU["seconds"] = _children_cpu() - cpu
    if proc.returncode not in (0,) and "nbgrader" not in str(cmd[0]):
        raise RuntimeError(f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds


def nbgrader_flags(course: Path) -> list[str]:
    """The course's nbgrader configuration, pointed at a throw-away course folder."""
    return [f"--JupyterApp.config_file={REPO / 'autograder' / 'nbgrader_config.py'}",
            f"--CourseDirectory.root={course}",
            f"--CourseDirectory.source_directory={REPO / 'solutions'}",
            f"--CourseDirectory.release_directory={course / 'release'}",
            f"--CourseDirectory.submitted_directory={course / 'submitted'}",
            f"--CourseDirectory.autograded_directory={course / 'autograded'}",
            f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}"]


def import_tensorflow_seconds(repeats: int = 3) -> float:
    return statistics.median(
        run([PY, "-c", "import tensorflow"]) for _ in range(repeats))


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def grade_seconds(ws: Path, assignments: list[str], workers: int, fresh: bool) -> float:
    flags = ["--fresh-kernels"] if fresh else []
    return run([PY, "-m", "autograder", "grade", *assignments, "-w", str(ws), "--force",
                "-j", str(workers), "--sandbox", *flags], cwd=REPO)


def verdicts(ws: Path, assignments: list[str]) -> dict:
    out = {}
    for a in assignments:
        for path in (ws / "results" / a).glob("*.json"):
            r = json.loads(path.read_text())
            out[a, path.stem] = (r["status"], r.get("score"), {
                g: p.get("points") for g, p in r.get("parts", {}).items()})
    return out


def worker_seconds(ws: Path, assignments: list[str]) -> list[float]:
    """Each notebook that ran: its worker's time on it (the result's "seconds"; a
    worker's first warm notebook includes the wait for its zygote's imports)."""
    out = []
    for a in assignments:
        for path in (ws / "results" / a).glob("*.json"):
            r = json.loads(path.read_text())
            if r.get("kernel"):
                out.append(r["seconds"])
    return out


def kernel_kinds(ws: Path, assignments: list[str]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for a in assignments:
        for path in (ws / "results" / a).glob("*.json"):
            kind = json.loads(path.read_text()).get("kernel", "none (not run)")
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def compare_kernels(ws: Path, assignments: list[str], workers: int,
                    whole_class: bool = True) -> dict[str, dict]:
    """Fresh against warm kernels, per assignment and (``whole_class``) for the whole
    class in one run."""
    print(f"\nfresh vs warm kernels, {workers} workers, sandboxed "
          "(each run grades every notebook again):")
    runs = [[a] for a in assignments] + ([list(assignments)] if whole_class else [])
    figures = {}
    for names in runs:
        label = names[0] if len(names) == 1 else "whole class"
        row = {}
        loads = {}
        for mode in ("fresh", "warm"):
            before = load()
            row[mode] = grade_seconds(ws, names, workers, fresh=mode == "fresh")
            # the 1-minute load average before and after the run
            loads[mode] = [float(before.split()[0]), round(os.getloadavg()[0], 2)]
            row[mode + " verdicts"] = verdicts(ws, names)
            row[mode + " load"] = f"load {before} -> {load()}"
            row[mode + " kinds"] = kernel_kinds(ws, names)
            row[mode + " per notebook"] = statistics.mean(worker_seconds(ws, names))
        same = row["fresh verdicts"] == row["warm verdicts"]
        per = {mode: row[mode + " per notebook"] for mode in ("fresh", "warm")}
        print(f"  {label:16s} fresh {row['fresh']:6.1f} s ({row['fresh load']})")
        print(f"  {'':16s} warm  {row['warm']:6.1f} s ({row['warm load']}); "
              f"warm is {row['fresh'] / row['warm']:.2f}x faster; kernels: "
              f"{row['warm kinds']}; same verdicts: {same}")
        print(f"  {'':16s} a worker's time per notebook that ran: fresh {per['fresh']:.1f} s,"
              f" warm {per['warm']:.1f} s ({per['fresh'] / per['warm']:.2f}x)")
        if not same:
            for key, fresh in row["fresh verdicts"].items():
                if row["warm verdicts"].get(key) != fresh:
                    print(f"    {key}: fresh {fresh}, warm {row['warm verdicts'].get(key)}")
        figures[label] = {
            "notebooks": len(row["fresh verdicts"]),
            "notebooks_run": len(worker_seconds(ws, names)),
            "fresh_wall_s": round(row["fresh"], 1), "warm_wall_s": round(row["warm"], 1),
            "warm_speedup": round(row["fresh"] / row["warm"], 2),
            "worker_s_per_notebook": {m: round(v, 1) for m, v in per.items()},
            "load": loads, "same_verdicts": same}
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each way this many times; the median is printed")
    parser.add_argument("--keep", help="work in this folder and keep it")
    parser.add_argument("--kernels-only", action="store_true",
                        help="only fresh vs warm kernels (no nbgrader, no --no-sandbox)")
    parser.add_argument("--out", help="default: benchmarks/results/autograde.json "
                        "(autograde-kernels.json with --kernels-only)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--assignments", nargs="+",
                        help="default: the demo class's two (every assignment with "
                             "--kernels-only)")
    parser.add_argument("--whole-class", action=argparse.BooleanOptionalAction,
                        default=True, help="also grade all the assignments in one run")
    args = parser.parse_args(argv)
    if args.assignments is None and args.kernels_only:
        args.assignments = demo.available_assignments()
    out = Path(args.out or REPO / "benchmarks" / "results" / (
        "autograde-kernels.json" if args.kernels_only else "autograde.json"))

    work = Path(args.keep or tempfile.mkdtemp(prefix="autograde-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; load average before: {load()}")
    info = grading_cost.machine(True, grading_cost.kernel_mode(False), "getrusage")
    info["load_before"] = grading_cost.load()
    manifest = demo.make_class(work / "incoming", args.assignments)
    assignments = manifest["assignments"]
    tool_ws = work / "tool"
    for a in assignments:
        run([PY, "-m", "autograder", "collect", manifest["sources"][a], "-a", a,
             "-w", str(tool_ws)], cwd=REPO)
    n_students = len(manifest["students"])
    n_notebooks = n_students * len(assignments)
    n_failing = sum(e[a]["status"] == "failed"
                    for e in manifest["expected"].values() for a in assignments)
    print(f"class: {n_students} students x {len(assignments)} assignments "
          f"({', '.join(assignments)}) = {n_notebooks} notebooks "
          f"({n_failing} of them unreadable or missing)")
    report = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "machine": info, "workers": args.workers, "repeats": args.repeats,
              "assignments": assignments, "notebooks": n_notebooks,
              "kernels": compare_kernels(tool_ws, assignments, args.workers,
                                         args.whole_class)}
    if args.kernels_only:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        write(report, out, args.no_write)
        return 0

    times: dict[str, list[float]] = {"nbgrader": [], "sandbox": [], "sandbox_fresh": [],
                                     "plain": []}
    cpu_times: dict[str, list[float]] = {k: [] for k in times}
    for _ in range(args.repeats):
        # 1. plain nbgrader, serial, in a fresh course folder each time
        course = work / "nbgrader"
        shutil.rmtree(course, ignore_errors=True)
        shutil.copytree(tool_ws / "submitted", course / "submitted")
        for a in assignments:  # not timed: nbgrader needs the assignment recorded
            run([NBGRADER, "generate_assignment", a, "--force", *nbgrader_flags(course)],
                cwd=course, env=dict(ENV, COURSE_WORKSPACE=str(course)))
        wall = cpu = 0.0
        for a in assignments:
            wall += run([NBGRADER, "autograde", a, "--force", *nbgrader_flags(course)],
                        cwd=course, env=dict(ENV, COURSE_WORKSPACE=str(course)))
            cpu += CPU["seconds"]
        times["nbgrader"].append(wall)
        cpu_times["nbgrader"].append(cpu)
        # 2. and 3. the tool, every submission graded again (--force)
        for key, flags in (("sandbox", ["--sandbox"]),
                           ("sandbox_fresh", ["--sandbox", "--fresh-kernels"]),
                           ("plain", ["--no-sandbox"])):
            times[key].append(run([PY, "-m", "autograder", "grade", *assignments,
                                   "-w", str(tool_ws), "--force", "-j", str(args.workers),
                                   *flags], cwd=REPO))
            cpu_times[key].append(CPU["seconds"])

    # same totals from both graders
    agree, differ = 0, []
    with gbook.open_gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for a in assignments:
            theirs = {s.student.id: s.score for s in gb.notebook_submissions(a, a)}
            for student in manifest["students"]:
                ours = json.loads((tool_ws / "results" / a / f"{student}.json")
                                  .read_text())["score"]
                if abs(theirs.get(student, 0.0) - ours) < 1e-9:
                    agree += 1
                else:
                    differ.append((a, student, theirs.get(student), ours))

    tf = import_tensorflow_seconds()
    nb, box, fresh_box, plain = (statistics.median(times[k]) for k in
                                 ("nbgrader", "sandbox", "sandbox_fresh", "plain"))
    print(f"load average after: {load()}")
    print(f"plain nbgrader autograde, serial:        {nb:7.1f} s  "
          f"({nb / n_notebooks:.1f} s per notebook)")
    print(f"python -m autograder grade, {args.workers} workers: {box:7.1f} s  "
          f"({box / n_notebooks:.1f} s per notebook; "
          f"{box * args.workers / n_notebooks:.1f} s of a worker's time each), sandboxed")
    print(f"  same, fresh kernels:                   {fresh_box:7.1f} s")
    print(f"  without the sandbox (fresh kernels):   {plain:7.1f} s")
    cpu = {k: statistics.median(v) for k, v in cpu_times.items()}
    # (a sandboxed kernel's CPU time never reaches this process: bubblewrap's PID
    # namespace reaps it; so only the unsandboxed run is comparable)
    print(f"CPU time (all processes, kernels included): nbgrader {cpu['nbgrader']:.1f} s, "
          f"tool {cpu['plain']:.1f} s (unsandboxed)")
    print(f"speed-up over nbgrader: {nb / box:.2f}x (sandboxed), "
          f"{nb / plain:.2f}x (unsandboxed); target >= 1.8x")
    print(f"sandbox overhead (fresh kernels both): {100 * (fresh_box - plain) / plain:+.1f}% "
          "(target <= 15%)")
    print(f'python -c "import tensorflow": {tf:.1f} s, the floor of any per-notebook kernel')
    print(f"same total as nbgrader for {agree} of {n_notebooks} notebooks")
    for a, student, theirs, ours in differ:
        extra = sorted(p.name for p in (tool_ws / "submitted" / student / a).glob("*.py"))
        why = (f": the submission has {', '.join(extra)} next to the notebook; nbgrader's "
               "kernel imports it, the tool never runs a student's extra files"
               if extra else "")
        print(f"  {a} {student}: nbgrader {theirs}, tool {ours}{why}")
    if args.repeats > 1:
        print("all runs, wall (s): " + json.dumps({k: [round(v, 1) for v in t]
                                                   for k, t in times.items()}))
        print("all runs, CPU (s):  " + json.dumps({k: [round(v, 1) for v in t]
                                                   for k, t in cpu_times.items()
                                                   if k != "sandbox"}))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    report.update({
        "median_wall_s": {"nbgrader": round(nb, 1), "sandboxed": round(box, 1),
                          "sandboxed_fresh_kernels": round(fresh_box, 1),
                          "unsandboxed": round(plain, 1)},
        "speedup_over_nbgrader": round(nb / box, 2),
        "sandbox_overhead_percent": round(100 * (fresh_box - plain) / plain, 1),
        "worker_s_per_notebook_sandboxed": round(box * args.workers / n_notebooks, 1),
        "nbgrader_s_per_notebook": round(nb / n_notebooks, 1),
        "median_cpu_s": {"nbgrader": round(cpu["nbgrader"], 1),
                         "unsandboxed": round(cpu["plain"], 1)},
        "import_tensorflow_s": round(tf, 1),
        "same_totals_as_nbgrader": f"{agree} of {n_notebooks}",
        "runs_wall_s": {k: [round(v, 1) for v in t] for k, t in times.items()}})
    write(report, out, args.no_write)
    return 0


def write(report: dict, out: Path, no_write: bool) -> None:
    report["machine"]["load_after"] = grading_cost.load()
    if not no_write:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
