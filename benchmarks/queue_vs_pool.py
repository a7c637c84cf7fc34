"""The demo class through two task-queue workers against the local pool, same 2 cores.

    python benchmarks/queue_vs_pool.py [--repeats R] [--assignments A B ...] [--no-write]

One run of this script, one after the other on the same machine:

1. the local pool: ``python -m autograder grade A B -j 2 --force`` (SQLite gradebook);
2. the task queue: a fresh ``redis-server`` and PostgreSQL 15 on loopback ports
   (tests/services.py), two ``python -m autograder worker --concurrency 1`` processes,
   and ``python -m autograder grade A B --broker redis://... --db postgresql://...``;
   timed until ``grade`` has every result. The servers start before the timing;
3. the same with the two workers started and ready before the timing, as
   long-running workers are (a fresh database each time, so nothing is graded already).

All grade in the sandbox. It prints the wall times, the queue / pool ratios (the
queue's cost; the course's target is at most 1.10), the CPU time of everything each
run started (counted in a cgroup, kernels included), the load average during each
run, and checks that pool and queue gave every student the same status and score.
With ``--repeats`` the three alternate (1 2 3, 3 2 1, ...) and medians are printed.
Figures go to benchmarks/results/queue.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import grading_cost  # noqa: E402  (this folder: the CPU counter, the machine)
import services  # noqa: E402  (tests/services.py: real redis-server and PostgreSQL)

from autograder.commands import demo  # noqa: E402 - after the sys.path line

PY = sys.executable
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")


class LoadSampler:
    """The 1-minute load average every few seconds while a run lasts."""

    def __init__(self, every: float = 5.0):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        return {"mean": round(statistics.fmean(self.samples), 2),
                "max": round(max(self.samples), 2)}


def grade(cmd: list[str], meter) -> dict:
    """Run one ``grade``; wall, CPU (cgroup) and load while it ran."""
    cpu0 = meter.seconds()
    with LoadSampler() as load:
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO)
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return {"wall_s": round(wall, 1), "cpu_s": round(meter.seconds() - cpu0, 1),
            "load": load.summary()}


def local_pool(ws: Path, assignments: list[str], meter) -> dict:
    return grade([PY, "-m", "autograder", "grade", *assignments, "-w", str(ws),
                  "--force", "-j", "2", "--sandbox"], meter)


class ReadyWatcher(threading.Thread):
    """Seconds from the start until each worker's log says Celery's 'ready.'."""

    def __init__(self, logs: list[Path]):
        super().__init__(daemon=True)
        self.logs, self.start_time = logs, time.perf_counter()
        self.ready: dict[Path, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set() and len(self.ready) < len(self.logs):
            for log in self.logs:
                if log not in self.ready and log.exists() and \
                        " ready." in log.read_text(errors="replace"):
                    self.ready[log] = round(time.perf_counter() - self.start_time, 1)
            self.done.wait(0.5)

    def seconds(self) -> list[float | None]:
        self.done.set()
        return [self.ready.get(log) for log in self.logs]


def task_queue(ws: Path, assignments: list[str], broker: str, db: str, meter,
               logs: Path, warm: bool = False) -> dict:
    """Two workers and ``grade --broker``; the workers stop afterwards. Cold: the
    workers start with the timing. Warm: the timing starts once both are ready, as
    for long-running workers (their start-up is then not counted)."""
    paths = [logs / f"worker-{i}.log" for i in (1, 2)]
    watcher = ReadyWatcher(paths)
    watcher.start()
    workers = [services.start_worker(broker, db, path, concurrency=1,
                                     visibility_timeout=1800,
                                     env={"TF_CPP_MIN_LOG_LEVEL": "3"}) for path in paths]
    try:
        deadline = time.monotonic() + 600
        while warm and len(watcher.ready) < len(paths) and time.monotonic() < deadline:
            time.sleep(0.5)
        ready = dict(watcher.ready)
        run = grade([PY, "-m", "autograder", "grade", *assignments, "-w", str(ws),
                     "--force", "--sandbox", "--broker", broker, "--db", db], meter)
    finally:
        for proc in workers:
            services.stop(proc, group=True)
    run["workers_ready_after_s"] = [ready.get(path) for path in paths] if warm \
        else watcher.seconds()
    return run


def verdicts(ws: Path, assignments: list[str]) -> dict:
    out = {}
    for a in assignments:
        for path in sorted((ws / "results" / a).glob("*.json")):
            result = json.loads(path.read_text())
            out[f"{a}/{path.stem}"] = (result["status"], result.get("score"))
    return out


KINDS = ("pool", "queue", "queue_warm")


def alternate(repeats: int) -> list[str]:
    """pool, queue, queue_warm, then backwards, ...: none always goes first."""
    order = []
    for i in range(repeats):
        order += list(KINDS) if i % 2 == 0 else list(reversed(KINDS))
    return order


def run_all(args, work: Path, meter) -> tuple[dict, list[str]]:
    manifest = demo.make_class(work / "incoming", args.assignments)
    names = manifest["assignments"]
    for ws in ("pool", "queue"):
        for a in names:
            subprocess.run([PY, "-m", "autograder", "collect", manifest["sources"][a],
                            "-a", a, "-w", str(work / ws)], cwd=REPO, env=ENV,
                           check=True, capture_output=True)
    runs: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    with services.redis_server() as broker, services.postgres_server() as server:
        for i, kind in enumerate(alternate(args.repeats)):
            if kind == "pool":
                runs["pool"].append(local_pool(work / "pool", names, meter))
            else:
                # a fresh database: a stored result would make the workers skip
                db = services.create_database(server, f"gradebook{i}")
                logs = work / f"logs-{i}"
                logs.mkdir()
                runs[kind].append(task_queue(work / "queue", names, broker, db,
                                             meter, logs, warm=kind == "queue_warm"))
            print(f"{kind}: {runs[kind][-1]}", flush=True)
    differ = [f"{key}: pool {value}, queue {verdicts(work / 'queue', names).get(key)}"
              for key, value in verdicts(work / "pool", names).items()
              if verdicts(work / "queue", names).get(key) != value]
    return {"runs": runs, "assignments": names,
            "notebooks": len(verdicts(work / "pool", names))}, differ


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignments", nargs="+", help="default: the demo class's two")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "queue.json"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    why = services.missing()
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    meter = grading_cost.CgroupCpu()
    if not meter.available:
        print("error: no cgroup to count the sandboxed kernels' CPU in (run as root)",
              file=sys.stderr)
        return 2
    before = grading_cost.load()
    try:
        with tempfile.TemporaryDirectory(prefix="queue-bench-") as tmp:
            figures, differ = run_all(args, Path(tmp), meter)
    finally:
        meter.close()
    return report(figures, differ, before, args)


def medians(runs: dict[str, list[dict]], key: str) -> dict[str, float]:
    return {kind: round(statistics.median(r[key] for r in rs), 1)
            for kind, rs in runs.items() if rs}


def report(figures: dict, differ: list[str], before: list[float], args) -> int:
    runs = figures["runs"]
    wall, cpu = medians(runs, "wall_s"), medians(runs, "cpu_s")
    ratio = round(wall["queue"] / wall["pool"], 3)
    ratio_warm = round(wall["queue_warm"] / wall["pool"], 3)
    after = grading_cost.load()
    info = grading_cost.machine(True, grading_cost.kernel_mode(False), "cgroup")
    print(f"\n{info['cores']} cores, {info['cpu_model']}; {figures['notebooks']} notebooks "
          f"({', '.join(figures['assignments'])}), sandboxed; {info['kernel_mode']}; "
          f"medians of {len(runs['pool'])}")
    print(f"local pool, 2 workers:                  {wall['pool']:7.1f} s wall, "
          f"{cpu['pool']:6.1f} s CPU")
    print(f"task queue, 2 workers started with it:  {wall['queue']:7.1f} s wall, "
          f"{cpu['queue']:6.1f} s CPU")
    print(f"task queue, 2 workers already running:  {wall['queue_warm']:7.1f} s wall, "
          f"{cpu['queue_warm']:6.1f} s CPU")
    print(f"ratio queue / pool: {ratio:.3f} (workers started with it), "
          f"{ratio_warm:.3f} (workers already running); target <= 1.10")
    print(f"load average before {before}, after {after}")
    print("same status and score for every notebook" if not differ
          else "DIFFERENT VERDICTS:\n  " + "\n  ".join(differ))
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": dict(info, load_before=before, load_after=after),
              "assignments": figures["assignments"], "notebooks": figures["notebooks"],
              "pool_wall_s": wall["pool"], "queue_wall_s": wall["queue"],
              "queue_warm_wall_s": wall["queue_warm"], "cpu_s": cpu,
              "ratio": ratio, "ratio_workers_running": ratio_warm, "target_ratio": 1.10,
              "same_verdicts": not differ, "runs": runs}
    if not args.no_write:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
