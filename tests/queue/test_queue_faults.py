"""What the task queue does when things go wrong, against real servers (tests/services.py):
a worker without a sandbox or one commit behind, a message that names code, a re-queue
racing a worker, workers lost and evicted, the database restarted mid-run, a value the
database refuses, a notebook over the size cap.

Each test drives ``python -m autograder grade`` and ``worker`` processes as an instructor
and an operator would; the faults are made from the test's side (signals, a copied
checkout, a PostgreSQL trigger or lock), never by a hook in the grader.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

import services
from autograder.queue import tables as jobstore
from autograder.queue import worker as taskqueue
from test_queue import (
    ASSIGNMENT, REPO, SERVICES, STOP_SECONDS, as_expected, autograder, expected_verdicts,
    job_counts, new_workspace, only, results_of, sigint_as_in_a_terminal, slow_down,
    wait_for_job, workers,
)

pytestmark = SERVICES


def start_grade(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade", *map(str, args)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=sigint_as_in_a_terminal)


def run_sql(db: str, *statements: str) -> None:
    engine = sa.create_engine(db, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def wait_until(condition, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not in {timeout:g} s")
        time.sleep(0.2)


def log_of(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


# ----------------------------------------------------------------------------- the rules
def test_a_worker_without_a_sandbox_does_not_start_and_grade_cannot_turn_it_off(
        servers, demo_class, tmp_path):
    broker, postgres = servers
    root, manifest = demo_class
    db = services.create_database(postgres, "nosandbox")
    log = tmp_path / "worker.log"
    worker = services.start_worker(f"{broker}/8", db, log,
                                   env={"AUTOGRADER_NO_SANDBOX": "1"})
    try:
        assert worker.wait(timeout=300) == 2, log_of(log)
    finally:
        services.stop(worker, group=True)
    assert ("error: this worker does not start: no sandbox (unsandboxed: "
            "AUTOGRADER_NO_SANDBOX is set); install bubblewrap, or start the worker with "
            "--unsandboxed") in log_of(log)
    status = autograder("status", "--db", db)
    assert "refused" in status.stdout and "no sandbox" in status.stdout
    ws = new_workspace(tmp_path, "ws", manifest)
    for choice in ("--no-sandbox", "--sandbox"):
        refused = autograder("grade", ASSIGNMENT, "-w", ws, "--broker", f"{broker}/8",
                             "--db", db, choice, check=False)
        assert refused.returncode == 2
        assert refused.stderr.startswith("error: --sandbox and --no-sandbox choose for "
                                         "this machine only")
    refused = autograder("grade", ASSIGNMENT, "-w", ws, "--broker", f"{broker}/8", "--db",
                         db, "--checks", "os", check=False)
    assert refused.stderr.startswith("error: --source, --checks and --references grade on "
                                     "this machine only")


PLANTED = '''
import pathlib
pathlib.Path({marker!r}).write_text("imported by a grading worker")
CHECKS = {{}}
'''


def flower_tasks(port: int) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/tasks", timeout=10) as reply:
        return json.load(reply)


def test_a_message_that_names_code_is_dropped_and_the_code_never_imported(
        servers, tmp_path):
    """What an older grade (or anyone who can write to the broker) could send: a run
    naming a checks module and no sandbox. The worker drops it unread; Flower, started
    as the large-class page says, shows the task and what became of it."""
    broker, postgres = servers
    broker, db = f"{broker}/9", services.create_database(postgres, "planted")
    planted, marker = tmp_path / "planted", tmp_path / "imported"
    planted.mkdir()
    (planted / "planted_checks.py").write_text(PLANTED.format(marker=str(marker)))
    port = services.free_port()
    flower = subprocess.Popen(
        [sys.executable, "-m", "celery", "flower", "--address=127.0.0.1", f"--port={port}"],
        env=dict(os.environ, CELERY_BROKER_URL=broker, FLOWER_UNAUTHENTICATED_API="true"),
        stdout=open(tmp_path / "flower.log", "wb"), stderr=subprocess.STDOUT)
    try:
        services.wait_for_port(port, flower, "flower")
        with workers(broker, db, tmp_path, n=1, env={"PYTHONPATH": str(planted)}):
            from celery import Celery

            Celery(broker=broker).send_task(taskqueue.TASK_NAME, queue=taskqueue.QUEUE, kwargs={
                "student": "s1", "assignment": ASSIGNMENT, "filename": "x.ipynb",
                "notebook": None, "submission_sha256": "a" * 64, "fingerprint": "b" * 64,
                "queued_at": 0.0, "run": {"assignments": {ASSIGNMENT: {
                    "source": None, "checks": "planted_checks", "references": None}},
                    "limits": {}, "sandbox": False, "fresh_kernels": True}})
            wait_until(lambda: "dropped a message: not a grading message: unknown fields "
                       "notebook, run" in log_of(tmp_path / "worker-0.log"),
                       "the worker dropped the message")
            wait_until(lambda: any(
                task["name"] == taskqueue.TASK_NAME and task["state"] == "SUCCESS"
                and task["result"] == "'dropped'" for task in flower_tasks(port).values()),
                "Flower shows the task", timeout=60)
    finally:
        services.stop(flower)
    assert not marker.exists()


def test_a_worker_one_commit_behind_refuses_its_messages_and_stops(
        servers, demo_class, tmp_path):
    """A worker whose checkout differs from the instructor's in the grading code only
    (one comment in autograder/grading/): another fingerprint. It hands the message
    back three times, stops with status 3, and a current worker grades it."""
    broker, postgres = servers
    root, manifest = demo_class
    broker, db = f"{broker}/10", services.create_database(postgres, "behind")
    behind = tmp_path / "behind"
    for folder in ("autograder", "solutions"):
        shutil.copytree(REPO / folder, behind / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "requirements.txt", behind)
    changed = behind / "autograder" / "grading" / "notebook_run.py"
    changed.write_text(changed.read_text() + "\n# one commit behind\n")
    student = sorted(manifest["students"])[1]
    ws = new_workspace(tmp_path, "ws", manifest)
    stale_log = tmp_path / "stale.log"
    stale = services.start_worker(broker, db, stale_log, cwd=behind,
                                  env={"PYTHONPATH": str(behind)})
    grade = start_grade(ASSIGNMENT, "-w", ws, "--broker", broker, "--db", db, "--student",
                        student)
    try:
        assert stale.wait(timeout=900) == taskqueue.REFUSED_EXIT, log_of(stale_log)
        assert results_of(ws) == {}
        assert log_of(stale_log).count(f"has another version of {ASSIGNMENT}") >= 3
        assert f"stopped after {taskqueue.MAX_REFUSALS} refusals in a row" in \
            log_of(stale_log)
        with workers(broker, db, tmp_path, n=1):
            out, err = grade.communicate(timeout=900)
    finally:
        services.stop(stale, group=True)
        services.stop(grade)
    assert grade.returncode == 0, err
    assert as_expected(results_of(ws)) == expected_verdicts(manifest, [student])
    row = wait_for_job(db, lambda row: True, "at all")
    assert (row["state"], row["kills"], row["worker"].split("-")[0]) == \
        ("done", 0, "autograder")


def test_an_oversized_notebook_is_failed_before_anything_is_sent(
        servers, demo_class, tmp_path):
    """No worker runs: the notebook over the size cap gets its verdict from grade itself
    and never reaches the broker; the other's message carries a key, not its bytes."""
    import redis

    from autograder.notebook.intake import MAX_BYTES

    broker, postgres = servers
    root, manifest = demo_class
    broker, db = f"{broker}/11", services.create_database(postgres, "oversized")
    big, small = sorted(manifest["students"])[2:4]
    ws = new_workspace(tmp_path, "ws", manifest)
    notebook = ws / "submitted" / big / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    content = json.loads(notebook.read_text())
    content["metadata"]["padding"] = "x" * (MAX_BYTES + 2**20)
    notebook.write_text(json.dumps(content))
    grade = start_grade(ASSIGNMENT, "-w", ws, "--broker", broker, "--db", db,
                        *only([big, small]))
    client = redis.Redis.from_url(broker)
    try:
        wait_until(lambda: big in results_of(ws) and client.llen(taskqueue.QUEUE) >= 1,
                   "the oversized notebook failed and the other queued", timeout=300)
        messages = client.lrange(taskqueue.QUEUE, 0, -1)
    finally:
        grade.send_signal(signal.SIGINT)
        grade.communicate(timeout=STOP_SECONDS)
        client.close()
    result = results_of(ws)[big]
    assert result["status"] == "failed"
    assert result["reason"].startswith("file too large: 21.")
    assert result["reason"].endswith(" MB (limit 20.0 MB)")
    assert len(messages) == 1 and len(messages[0]) < 4096, [len(m) for m in messages]


# ----------------------------------------------------------------------------- exactly once
HOLD = 4242
HOLD_COMMIT = f"""
CREATE FUNCTION hold_commit() RETURNS trigger AS $$
BEGIN
  IF NEW.state = 'queued' AND (to_jsonb(NEW) ->> 'published') IS DISTINCT FROM 'true' THEN
    PERFORM pg_advisory_xact_lock_shared({HOLD});
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT OR UPDATE ON autograder_jobs
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit();
"""


def commit_is_held(db: str) -> bool:
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        waiting = conn.execute(sa.text(
            f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {HOLD} "
            "AND NOT granted")).scalar_one()
    engine.dispose()
    return waiting > 0


def test_a_requeue_racing_a_worker_cannot_hang_grade(servers, demo_class, tmp_path):
    """``grade --force`` of a graded submission, its commit held (a deferred trigger
    waits on a lock the test holds) while a worker takes whatever the broker has; then
    the commit goes through. The re-queue must still be graded, once more."""
    import redis

    broker, postgres = servers
    root, manifest = demo_class
    broker, db = f"{broker}/12", services.create_database(postgres, "race")
    student = sorted(manifest["students"])[4]
    ws = new_workspace(tmp_path, "ws", manifest)
    grade = ("-w", ws, "--broker", broker, "--db", db, "--student", student)
    client = redis.Redis.from_url(broker)
    with workers(broker, db, tmp_path, n=1):
        autograder("grade", ASSIGNMENT, *grade, timeout=900)
        run_sql(db, HOLD_COMMIT)
        holder = sa.create_engine(db).connect()
        holder.execute(sa.text(f"SELECT pg_advisory_lock({HOLD})"))
        forced = start_grade(ASSIGNMENT, *grade, "--force")
        try:
            wait_until(lambda: commit_is_held(db), "grade --force waits on its commit")
            # whatever the broker holds now, the worker takes and finishes
            wait_until(lambda: client.llen(taskqueue.QUEUE) == 0
                       and client.hlen("unacked") == 0, "the broker is empty")
            holder.execute(sa.text(f"SELECT pg_advisory_unlock({HOLD})"))
            holder.close()
            out, err = forced.communicate(timeout=600)
        finally:
            services.stop(forced)
            client.close()
    assert forced.returncode == 0, err
    assert as_expected(results_of(ws)) == expected_verdicts(manifest, [student])
    assert job_counts(db) == {student: (2, 1)}


# ----------------------------------------------------------------------------- failures
def kill_while_grading(db: str, worker: subprocess.Popen, signals: list) -> None:
    """Wait until ``worker`` grades the job, then send it ``signals``: SIGTERM to its
    main process (as Kubernetes and systemd's KillMode=mixed do), SIGKILL to all its
    processes; a number: that many seconds of grace first."""
    wait_for_job(db, lambda row: row["state"] == "running"
                 and row["worker"].startswith(f"autograder-{worker.pid}@"),
                 f"graded by worker {worker.pid}")
    for sig in signals:
        if not isinstance(sig, signal.Signals):
            time.sleep(sig)
        elif sig == signal.SIGTERM:
            os.kill(worker.pid, sig)
        else:
            os.killpg(worker.pid, sig)
    worker.wait(timeout=120)


def test_a_submission_outlives_a_lost_worker_and_an_evicted_one(
        servers, demo_class, tmp_path):
    """Its first worker is killed whole while grading (a lost machine), its second gets
    SIGTERM and, 2 s later, SIGKILL (a spot or Kubernetes eviction); the broker gives the
    message to the next worker each time (a 60 s visibility timeout). Infrastructure,
    not the submission: the third worker grades it, and nothing counts as a kill."""
    broker, postgres = servers
    root, manifest = demo_class
    broker, db = f"{broker}/13", services.create_database(postgres, "evicted")
    student = sorted(manifest["students"])[5]
    ws = new_workspace(tmp_path, "ws", manifest)
    slow_down(ws / "submitted" / student / ASSIGNMENT, seconds=10)
    grade = start_grade(ASSIGNMENT, "-w", ws, "--broker", broker, "--db", db, "--student",
                        student)
    try:
        for number, plan in enumerate(([signal.SIGKILL],
                                       [signal.SIGTERM, 2, signal.SIGKILL])):
            lost = services.start_worker(broker, db, tmp_path / f"lost-{number}.log",
                                         visibility_timeout=60)
            try:
                kill_while_grading(db, lost, plan)
            finally:
                services.stop(lost, group=True)
        with workers(broker, db, tmp_path, n=1, visibility_timeout=60):
            out, err = grade.communicate(timeout=900)
    finally:
        services.stop(grade)
    assert grade.returncode == 0, err
    assert as_expected(results_of(ws)) == expected_verdicts(manifest, [student])
    row = wait_for_job(db, lambda row: True, "at all")
    assert (row["state"], row["deliveries"], row["retries"], row["kills"]) == \
        ("done", 3, 2, 0)


def test_grade_and_workers_ride_out_a_database_restart(servers, demo_class, tmp_path):
    """PostgreSQL restarted (every connection cut, 5 s down) once the first result is
    recorded: grade waits for it and goes on, the workers too; every result once."""
    broker, postgres = servers
    root, manifest = demo_class
    broker, db = f"{broker}/14", services.create_database(postgres, "restart")
    students = sorted(manifest["students"])[6:9]
    ws = new_workspace(tmp_path, "ws", manifest)
    with workers(broker, db, tmp_path, n=1):
        grade = start_grade(ASSIGNMENT, "-w", ws, "--broker", broker, "--db", db,
                            *only(students))
        try:
            wait_until(lambda: results_of(ws), "a first result")
            time.sleep(3)  # recorded in the gradebook (a batch at most 2 s old)
            postgres.restart(down=5)
            out, err = grade.communicate(timeout=900)
        finally:
            services.stop(grade)
    assert grade.returncode == 0, err
    assert as_expected(results_of(ws)) == expected_verdicts(manifest, students)
    assert {s: sends for s, (sends, _) in job_counts(db).items()} == dict.fromkeys(
        students, 1)
    export = autograder("export", ASSIGNMENT, "-w", ws, "--db", db)
    assert export.returncode == 0


REFUSE_NOTEBOOK = """
CREATE FUNCTION refuse_notebook() RETURNS trigger AS $$
BEGIN
  IF NEW.student = '{student}' AND NEW.graded_notebook IS NOT NULL THEN
    RAISE EXCEPTION 'value too long for the graded notebook' USING ERRCODE = '22001';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER refuse_notebook BEFORE INSERT ON autograder_results
  FOR EACH ROW EXECUTE FUNCTION refuse_notebook();
"""


def test_a_value_the_database_refuses_is_stored_failed_once_and_retried_on_request(
        servers, demo_class, tmp_path):
    """PostgreSQL refuses one student's graded notebook (a DataError, raised by a
    trigger the test installs): stored as failed with the database's reason, once, a
    dead letter; grade ends. ``--retry-dead`` grades it again once the cause is gone."""
    broker, postgres = servers
    root, manifest = demo_class
    broker, db = f"{broker}/15", services.create_database(postgres, "dataerror")
    refused, fine = sorted(manifest["students"])[9:11]
    ws = new_workspace(tmp_path, "ws", manifest)
    jobstore.connect(db).dispose()  # the tables, for the trigger
    run_sql(db, REFUSE_NOTEBOOK.format(student=refused))
    grade = ("grade", ASSIGNMENT, "-w", ws, "--broker", broker, "--db", db,
             *only([refused, fine]))
    with workers(broker, db, tmp_path, n=1):
        autograder(*grade, timeout=900)
        result = results_of(ws)[refused]
        assert (result["status"], result["reason"]) == (
            "failed", "the database refused the result: DataError: value "
                      "too long for the graded notebook")
        assert as_expected({fine: results_of(ws)[fine]}) == \
            expected_verdicts(manifest, [fine])
        status = autograder("status", "--db", db)
        assert status.stdout.split("\n")[1].split() == [ASSIGNMENT, "0", "0", "1", "0", "1"]
        assert "1 submissions, 0 to grade" in autograder(*grade[:-4], "--student",
                                                          refused).stderr
        run_sql(db, "DROP TRIGGER refuse_notebook ON autograder_results")
        autograder(*grade, "--retry-dead", timeout=900)
    assert as_expected(results_of(ws)) == expected_verdicts(manifest, [refused, fine])
    assert job_counts(db) == {refused: (2, 1), fine: (1, 1)}
