"""The instructor's side of the task queue at MOOC scale: queue, collect and record.

    python benchmarks/queue_pipeline.py --submissions 50000 [--assignment adaptive]
        [--stand-ins 2] [--no-write]

A fresh ``redis-server`` and PostgreSQL 15 on loopback ports (tests/services.py), a
workspace of N submissions of one assignment (the exercise notebook each student
downloads, made unique per student), and stand-in workers: Celery workers on the same
queue (their task events off: real workers send theirs from their own machines) whose
task goes through the real worker's path (the message read and checked, the
job claimed, the notebook read from the database, the result stored with the job's end)
but stores a canned full-marks result instead of grading (no kernels). Then the real
``python -m autograder grade ASSIGNMENT --broker ... --db ...`` runs, timed:

- ``enqueue``: the notebooks stored once and the messages published, in batches;
- ``collect and record``: every result read back, saved as JSON, its graded notebook
  written to autograded/, and recorded in nbgrader's gradebook (PostgreSQL);
- end to end: the whole command, from reading the submissions to the last record.

Then two reruns: nothing changed (nothing is sent or recorded again), and 1 % of the
notebooks changed (only those are sent). It checks every result and every gradebook
row, prints the figures with the machine's load average, and writes them to
benchmarks/results/queue_pipeline.json. The goal: 50,000 submissions through in under
10 minutes on the course's 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import grading_cost  # noqa: E402  (this folder: the machine)
import services  # noqa: E402  (tests/services.py: real redis-server and PostgreSQL)
from queue_vs_pool import LoadSampler  # noqa: E402  (this folder: the load sampler)

PY = sys.executable
RESULTS = REPO / "benchmarks" / "results" / "queue_pipeline.json"
GOAL_S = 600.0


# ----------------------------------------------------------------------------- stand-in
def stand_in_worker(concurrency: int) -> int:
    """A Celery worker whose task stores a canned result through the real worker's
    claim and store (``worker.handle``), without a kernel."""
    from celery import signals

    from autograder.grading.assignment import load_assignment
    from autograder.grading.submission import blank_result
    from autograder.queue import settings, tables, worker

    broker, db = settings.urls()
    app = worker.make_app(broker, settings.WorkerSettings(db))
    # Real workers publish their task events (Flower) from their own machines; here the
    # stand-ins share the instructor's 2 cores, and events were most of their ~16 ms of
    # CPU per task, so they would measure the stand-ins instead of the instructor's side
    app.conf.worker_send_task_events = False
    signals.worker_process_init.disconnect(worker._child_init)  # no Grader, no zygote
    signals.worker_process_shutdown.disconnect(worker._child_exit)
    app.tasks.unregister(worker.TASK_NAME)
    canned: dict = {}

    def stand_in(self, **fields) -> str:
        message = worker.Message.from_json(fields)
        if "engine" not in canned:
            canned["engine"] = tables.connect(db)
        if message.assignment not in canned:
            result = blank_result(load_assignment(message.assignment))
            for part in result.parts.values():
                if part.auto:
                    part.points, part.passed = part.max_points, True
            canned[message.assignment] = result

        def grade(notebook: bytes | None):
            return canned[message.assignment], notebook.decode() if notebook else None

        return worker.handle(canned["engine"], message, self.request.hostname, grade)

    app.task(bind=True, name=worker.TASK_NAME, Request=worker.GradeRequest)(stand_in)
    app.worker_main(["worker", "--pool=prefork", f"--concurrency={concurrency}",
                     "--loglevel=WARNING", "--without-gossip", "--without-mingle",
                     "-Q", worker.QUEUE, "-n", f"stand-in-{os.getpid()}@%h"])
    return 0


# ----------------------------------------------------------------------------- the class
def make_workspace(ws: Path, assignment: str, n: int) -> int:
    """N submissions of the exercise notebook, each unique; its size in bytes."""
    template = json.loads((REPO / "exercises" / assignment / f"{assignment}.ipynb")
                          .read_text())
    size = 0
    for i in range(n):
        student = f"s{i:05d}"
        folder = ws / "submitted" / student / assignment
        folder.mkdir(parents=True)
        template["metadata"]["submitted_by"] = student
        text = json.dumps(template, indent=1)
        (folder / f"{assignment}.ipynb").write_text(text)
        size = len(text)
    return size


def change(ws: Path, assignment: str, n: int, every: int) -> int:
    changed = 0
    for i in range(0, n, every):
        path = ws / "submitted" / f"s{i:05d}" / assignment / f"{assignment}.ipynb"
        notebook = json.loads(path.read_text())
        notebook["metadata"]["resubmitted"] = True
        path.write_text(json.dumps(notebook, indent=1))
        changed += 1
    return changed


def timed_grade(ws: Path, assignment: str, broker: str, db: str) -> dict:
    """Run ``grade``; its wall time and the phases its stderr reports."""
    cmd = [PY, "-m", "autograder", "grade", assignment, "-w", str(ws), "--broker", broker,
           "--db", db]
    with LoadSampler() as load:
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                              env=dict(os.environ, PYTHONUNBUFFERED="1"))
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"grade failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    queued = re.search(r"queued (\d+) on .* in ([\d.]+) s", proc.stderr)
    collected = re.search(r"collected (\d+) results in ([\d.]+) s", proc.stderr)
    to_grade = re.search(r": (\d+) submissions, (\d+) to grade", proc.stderr)
    return {"wall_s": round(wall, 1), "submissions": int(to_grade[1]),
            "to_grade": int(to_grade[2]), "sent": int(queued[1]) if queued else 0,
            "enqueue_s": float(queued[2]) if queued else 0.0,
            "collect_s": float(collected[2]) if collected else 0.0,
            "load": load.summary(), "stderr_tail": proc.stderr[-600:]}


def check(ws: Path, assignment: str, db: str, n: int, changed: int) -> list[str]:
    """What is wrong with the outcome: results saved, jobs (a changed notebook is a new
    job), gradebook rows."""
    import sqlalchemy as sa

    wrong = []
    saved = len(list((ws / "results" / assignment).glob("*.json")))
    if saved != n:
        wrong.append(f"{saved} results saved, not {n}")
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT count(*) FROM submitted_assignment s JOIN assignment a ON "
            "s.assignment_id = a.id WHERE a.name = :a"), {"a": assignment}).scalar_one()
        scored = conn.execute(sa.text(
            "SELECT count(*) FROM grade WHERE auto_score IS NOT NULL")).scalar_one()
        states = dict(conn.execute(sa.text(
            "SELECT state, count(*) FROM autograder_jobs GROUP BY state")).all())
    engine.dispose()
    if rows != n:
        wrong.append(f"{rows} gradebook submissions, not {n}")
    if scored == 0:
        wrong.append("no automatic score in the gradebook")
    if states != {"done": n + changed}:
        wrong.append(f"jobs {states}, not all {n + changed} done")
    return wrong


def run(args, work: Path) -> dict:
    ws = work / "ws"
    started = time.perf_counter()
    size = make_workspace(ws, args.assignment, args.submissions)
    print(f"{args.submissions} submissions of {size} bytes written in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    with services.redis_server() as broker, services.postgres_server() as postgres:
        db = services.create_database(postgres, "pipeline")
        env = dict(os.environ, AUTOGRADER_BROKER=broker, AUTOGRADER_DB=db)
        stand_ins = [subprocess.Popen([PY, __file__, "--stand-in", "--concurrency",
                                       str(args.concurrency)], env=env,
                                      start_new_session=True,
                                      stdout=open(work / f"stand-in-{i}.log", "wb"),
                                      stderr=subprocess.STDOUT)
                     for i in range(args.stand_ins)]
        try:
            first = timed_grade(ws, args.assignment, broker, db)
            print(f"first run: {first['wall_s']} s", flush=True)
            unchanged = timed_grade(ws, args.assignment, broker, db)
            changed = change(ws, args.assignment, args.submissions, 100)
            rerun = timed_grade(ws, args.assignment, broker, db)
        finally:
            for proc in stand_ins:
                services.stop(proc, group=True)
        wrong = check(ws, args.assignment, db, args.submissions, changed)
    return {"notebook_bytes": size, "first": first, "rerun_unchanged": unchanged,
            "rerun_changed": dict(rerun, changed=changed), "problems": wrong}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--submissions", type=int, default=50000)
    p.add_argument("--assignment", default="adaptive")
    p.add_argument("--stand-ins", type=int, default=2, help="stand-in worker processes")
    p.add_argument("--concurrency", type=int, default=2, help="children per stand-in")
    p.add_argument("--no-write", action="store_true", help="do not write the results file")
    p.add_argument("--stand-in", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.stand_in:
        return stand_in_worker(args.concurrency)
    if services.missing():
        raise SystemExit(f"cannot start the servers: {services.missing()}")
    before = grading_cost.load()
    with tempfile.TemporaryDirectory(prefix="queue-pipeline-") as tmp:
        figures = run(args, Path(tmp))
    first, n = figures["first"], args.submissions
    figures.update(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        machine=dict(grading_cost.machine(False, "stand-in workers: no kernel", "none"),
                     load_before=before, load_after=grading_cost.load()),
        submissions=n, assignment=args.assignment, stand_ins=args.stand_ins,
        concurrency=args.concurrency, stand_in_task_events=False,
        enqueue_per_s=round(first["sent"] / first["enqueue_s"]),
        collect_and_record_per_s=round(n / first["collect_s"]),
        end_to_end_s=first["wall_s"], goal_s=GOAL_S)
    print(f"enqueue: {figures['enqueue_per_s']} submissions/s")
    print(f"collect and record: {figures['collect_and_record_per_s']} submissions/s")
    print(f"end to end: {first['wall_s']:.0f} s for {n} submissions (goal: under "
          f"{GOAL_S:.0f} s), load average {first['load']['mean']} (max "
          f"{first['load']['max']}) on {os.cpu_count()} cores")
    print(f"rerun, nothing changed: {figures['rerun_unchanged']['wall_s']} s, "
          f"{figures['rerun_unchanged']['sent']} sent; rerun, "
          f"{figures['rerun_changed']['changed']} changed: "
          f"{figures['rerun_changed']['wall_s']} s, {figures['rerun_changed']['sent']} sent")
    for problem in figures["problems"]:
        print(f"PROBLEM: {problem}")
    if not args.no_write:
        RESULTS.write_text(json.dumps(figures, indent=1) + "\n")
        print(f"written to {RESULTS.relative_to(REPO)}")
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
