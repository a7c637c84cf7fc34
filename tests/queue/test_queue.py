"""Grading through the task queue: real redis-server and PostgreSQL 15 servers
on loopback ports (tests/services.py), ``python -m autograder worker`` processes, and
``grade --broker --db`` against the local pool on the same demo class.

The servers' tests are marked ``services`` and ``slow`` (``make test-fast`` leaves them
out); CI installs both servers (.ci/run), so there they run and never skip. The first
tests need no server: the queue's bookkeeping on SQLite.
"""

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa

import services
from autograder.commands import demo
from autograder import gradebook as gbook
from autograder.grading.result import Result
from autograder.queue import claims, selfcheck, settings
from autograder.queue import tables as jobstore
from autograder.queue import worker as taskqueue
from autograder.queue.instructor import needs_sending
from autograder.queue.message import BadMessage, Message
from autograder.sandbox.limits import Limits

REPO = Path(__file__).resolve().parents[2]
#: the demo class (``python -m autograder demo``'s default: the first two assignments);
#: the kill and rerun tests use its first assignment only
CLASS = demo.available_assignments()[:2]
ASSIGNMENT = CLASS[0]
#: seconds a stopped ``grade`` gets to exit: 8 and 13 s measured from SIGINT to exit at
#: load 16 and 19 on 2 cores; longer is a hang, not a busy machine
STOP_SECONDS = 300
SERVICES = [pytest.mark.slow, pytest.mark.services,
            pytest.mark.skipif(services.missing() is not None,
                               reason=f"task-queue servers: {services.missing()}")]


def sigint_as_in_a_terminal() -> None:
    """Run in a ``grade`` child before it starts: SIGINT as a terminal's foreground job
    has it. A shell without job control starts background jobs (``make test &``) with
    SIGINT ignored, children inherit that, and Python then leaves it ignored: a test's
    SIGINT (a Ctrl-C) would not stop ``grade``."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# ----------------------------------------------------------------------------- no server
def queued_job(engine, key, generation_before=None):
    """Queue ``key`` (again) as grade does: one transaction; its Queued row."""
    with engine.begin() as conn:
        existing = jobstore.jobs_of(conn, [key])
        return jobstore.queue_jobs(conn, [jobstore.Queued(0, 0, key, "hw", None, "hw.ipynb")],
                                   existing)[0]


def test_a_message_of_an_earlier_generation_is_dropped_and_its_result_never_stored(
        tmp_path):
    """Queued, claimed, stored; queued again (--force): the first message is stale, a
    grading of it still running stores nothing, the new generation's is stored."""
    engine = jobstore.connect(f"sqlite:///{tmp_path / 'jobs.db'}")
    key = jobstore.JobKey("s1", "a" * 64, "b" * 64)
    first = queued_job(engine, key)
    assert first.generation == 1
    assert claims.claim(engine, first.job, 1, "w1", 2).outcome == "grade"
    old, new = claims.Target(first.job, 1, key, "hw"), claims.Target(first.job, 2, key, "hw")
    assert claims.store(engine, old, Result("graded"), "{}", "w1")
    assert claims.claim(engine, first.job, 1, "w2", 2).outcome == "graded already"
    second = queued_job(engine, key)  # --force: the old result is dropped
    assert (second.job, second.generation) == (first.job, 2)
    with engine.connect() as conn:
        assert jobstore.jobs_of(conn, [key])[key].result is None
    assert claims.claim(engine, first.job, 1, "w1", 2).outcome == "stale"
    assert claims.store(engine, old, Result("graded"), "{}", "w1") is False
    assert claims.claim(engine, second.job, 2, "w2", 2).outcome == "grade"
    assert claims.store(engine, new, Result.failure("x"), None, "w2")
    with engine.connect() as conn:
        job = jobstore.jobs_of(conn, [key])[key]
        assert (job.state, job.generation, job.result) == ("done", 2, Result.failure("x"))
        assert jobstore.counts(conn) == {key: (2, 1)}


def test_a_delivery_that_finds_the_last_one_unfinished_is_a_retry_not_a_kill(tmp_path):
    engine = jobstore.connect(f"sqlite:///{tmp_path / 'jobs.db'}")
    key = jobstore.JobKey("s1", "a" * 64, "b" * 64)
    job = queued_job(engine, key)
    for worker in ("w1", "w2", "w3", "w4"):  # each lost without a trace
        claim = claims.claim(engine, job.job, 1, worker, 2)
        assert claim.outcome == "grade" and claim.retried is (worker != "w1")
    claims.count_kill(engine, job.job, 1)
    claims.count_kill(engine, job.job, 1)
    assert claims.claim(engine, job.job, 1, "w5", 2).outcome == "poison"


def job(state, result=None, published=True):
    return jobstore.Job(1, state, 1, published, result)


@pytest.mark.parametrize("found, force, requeue, retry_dead, send", [
    (None, False, False, False, True),                              # new
    (job("queued"), False, False, False, False),                    # the broker has it
    (job("queued", published=False), False, False, False, True),    # never published
    (job("running"), False, False, False, False),
    (job("running"), False, True, False, True),                     # --requeue
    (job("done", Result("graded")), False, False, False, False),    # graded, same inputs
    (job("done", Result.failure("no kernel", final=False)), False, False, False, True),
    (job("done", Result("graded")), True, False, False, True),      # --force
    (job("dead", Result.failure("poison")), False, False, False, False),
    (job("dead", Result.failure("poison")), False, False, True, True),  # --retry-dead
])
def test_what_a_rerun_queues(found, force, requeue, retry_dead, send):
    assert needs_sending(found, force, requeue, retry_dead) is send


def a_message(**changed) -> dict:
    fields = Message(7, 2, jobstore.JobKey("s1", "a" * 64, "b" * 64), ASSIGNMENT,
                     "c" * 64, f"{ASSIGNMENT}.ipynb").to_json()
    return dict(fields, **changed)


def test_a_message_carries_data_and_nothing_that_chooses_code_or_sandbox():
    assert Message.from_json(a_message()).job == 7
    for extra in ({"sandbox": False}, {"run": {"assignments": {ASSIGNMENT: {
            "checks": "os"}}}}, {"checks": "evil"}, {"source": "/tmp"}):
        with pytest.raises(BadMessage, match="unknown fields"):
            Message.from_json(a_message(**extra))
    for bad in ({"assignment": "../x"}, {"filename": "a/b.ipynb"}, {"fingerprint": "x"},
                {"limits": {"max_processes": 10**6}}, {"limits": {"cell_timeout": -1}}):
        with pytest.raises(BadMessage):
            Message.from_json(a_message(**bad))
    asked = Message.from_json(a_message(limits={"cell_timeout": 10}))
    assert asked.limits_within(Limits()).cell_timeout == 10
    with pytest.raises(BadMessage, match="cell_timeout 600 .this worker's maximum: 60"):
        Message.from_json(a_message(limits={"cell_timeout": 600})).limits_within(Limits())


def test_the_status_counts_jobs_by_state_and_verdict(tmp_path):
    engine = jobstore.connect(f"sqlite:///{tmp_path / 'jobs.db'}")
    keys = [jobstore.JobKey(f"s{i}", "a" * 64, "b" * 64) for i in range(5)]
    jobs = [queued_job(engine, key) for key in keys]
    claims.claim(engine, jobs[1].job, 1, "w", 2)
    for number, result, dead in ((2, Result("graded"), None),
                                 (3, Result.failure("missing notebook"), None),
                                 (4, Result.failure("poison"), "poison")):
        claims.claim(engine, jobs[number].job, 1, "w", 2)
        claims.store(engine, claims.Target(jobs[number].job, 1, keys[number], "hw"), result,
                     None, "w", dead=dead)
    with engine.connect() as conn:
        assert jobstore.status_counts(conn) == {"hw": dict(
            queued=1, running=1, done=1, failed=1, dead=1)}
        assert jobstore.dead_letters(conn) == [("hw", "s4", "poison", "w")]


def test_a_worker_reads_its_urls_from_an_env_file_never_its_command_line(tmp_path):
    env = tmp_path / "worker.env"
    env.write_text("# the worker's URLs\nAUTOGRADER_BROKER=redis://:p@h:6379/0\n\n"
                   "AUTOGRADER_DB='postgresql://g:p@h/course'\n")
    assert settings.urls(str(env)) == ("redis://:p@h:6379/0", "postgresql://g:p@h/course")
    refused = autograder("worker", "--broker", "redis://:secret@h/0", check=False)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: the worker takes no URL on its command line")
    missing = autograder("worker", check=False, env={"AUTOGRADER_BROKER": "",
                                                     "AUTOGRADER_DB": ""})
    assert missing.stderr == ("error: no AUTOGRADER_BROKER or AUTOGRADER_DB: set it in the "
                              "environment or in an environment file (--env-file), as "
                              "NAME=URL\n")


def test_a_package_at_another_version_than_the_lock_is_named(tmp_path):
    lock = tmp_path / "requirements.txt"
    text = selfcheck.LOCK.read_text()
    assert selfcheck.lock_mismatches(selfcheck.LOCK) == []
    lock.write_text(text.replace("\ncelery==", "\ncelery==0.0.1 ; python_version >= '3'\n"
                                 "# was celery==", 1))
    assert selfcheck.lock_mismatches(lock)[0].startswith("celery: installed 5.")
    assert selfcheck.lock_mismatches(lock)[0].endswith(", locked 0.0.1")


def test_a_gradebook_out_of_reach_is_one_line_without_its_password():
    from autograder.errors import UsageError

    port = services.free_port()  # nothing listens there
    with pytest.raises(UsageError) as error:
        gbook.open_gradebook(gbook.db_url(".", f"postgresql://me:secret@127.0.0.1:{port}/db"))
    message = str(error.value)
    assert message.startswith(f"the gradebook postgresql+psycopg2://me:***@127.0.0.1:{port}"
                              "/db is out of reach: ")
    assert "secret" not in message and "\n" not in message


def test_plain_postgresql_urls_use_the_installed_driver():
    url = jobstore.database_url("postgresql://u@h:5/db")
    assert sa.make_url(url).get_dialect().driver in ("psycopg2", "psycopg")
    assert jobstore.database_url("sqlite:///x.db") == "sqlite:///x.db"


# ----------------------------------------------------------------------------- helpers
def autograder(*args, check=True, env=None, **kwargs):
    proc = subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=REPO,
                          env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})),
                          capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"autograder {args} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@contextlib.contextmanager
def workers(broker: str, db: str, logs: Path, n: int = 2, **options):
    procs = [services.start_worker(broker, db, logs / f"worker-{i}.log", **options)
             for i in range(n)]
    try:
        yield procs
    finally:
        for proc in procs:
            services.stop(proc, group=True)


def results_of(ws: Path, assignment: str = ASSIGNMENT) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (ws / "results" / assignment)
            .glob("*.json")}


def verdicts(results: dict[str, dict]) -> dict[str, tuple]:
    return {s: (r["status"], r.get("reason"), r["score"],
                {g: p["points"] for g, p in r["parts"].items()}) for s, r in results.items()}


def expected_verdicts(manifest, students, assignment=ASSIGNMENT) -> dict[str, tuple]:
    return {s: (manifest["expected"][s][assignment]["status"],
                manifest["expected"][s][assignment]["score"],
                manifest["expected"][s][assignment]["parts"]) for s in students}


def as_expected(results: dict[str, dict]) -> dict[str, tuple]:
    return {s: (r["status"], r["score"], {g: (p["points"] if p["auto"] else None)
                                          for g, p in r["parts"].items()})
            for s, r in results.items()}


def job_counts(db: str) -> dict[str, tuple[int, int]]:
    """{student: (times queued by grade, times started by a worker)}."""
    engine = jobstore.connect(db)
    with engine.connect() as conn:
        counts = jobstore.counts(conn)
        rows = conn.execute(sa.select(jobstore.RESULTS.c.student)).scalars().all()
    engine.dispose()
    assert len(rows) == len(set(rows)), f"a student has two stored results: {rows}"
    return {key.student: value for key, value in counts.items()}


def class_job_counts(db: str) -> dict[tuple[str, str], tuple[int, int]]:
    """{(student, assignment): (times queued, times started)}, and one stored result
    per job at most."""
    engine = jobstore.connect(db)
    with engine.connect() as conn:
        jobs = conn.execute(sa.select(*(jobstore.JOBS.c[k] for k in jobstore.KEY),
                                      jobstore.JOBS.c.assignment)).all()
        stored = conn.execute(sa.select(*(jobstore.RESULTS.c[k] for k in jobstore.KEY))
                              ).all()
        counts = jobstore.counts(conn)
    engine.dispose()
    assert len(stored) == len(set(stored)), "a submission has two stored results"
    return {(row[0], row[-1]): counts[jobstore.JobKey(*row[:-1])] for row in jobs}


def only(students):
    return [arg for s in students for arg in ("--student", s)]


# ----------------------------------------------------------------------------- fixtures
def new_workspace(root: Path, name: str, manifest, assignments=(ASSIGNMENT,)) -> Path:
    ws = root / name
    for assignment in assignments:
        autograder("collect", manifest["sources"][assignment], "-a", assignment, "-w", ws)
    return ws


@pytest.fixture(scope="module")
def queue_and_local(servers, demo_class):
    """The demo class (both its assignments, one grade command) through two workers
    into PostgreSQL, then feedback, export and report on that gradebook; and the local
    pool into SQLite."""
    broker, postgres = servers
    root, manifest = demo_class
    db = services.create_database(postgres, "whole_class")
    ws = new_workspace(root, "queue-ws", manifest, CLASS)
    started = time.monotonic()
    with workers(f"{broker}/1", db, root) as procs:
        graded = autograder("grade", *CLASS, "-w", ws, "--broker", f"{broker}/1",
                            "--db", db, timeout=2400)
        seconds = time.monotonic() - started
        assert all(proc.poll() is None for proc in procs), "a worker died"
    for assignment in CLASS:
        for command in ("feedback", "export", "report"):
            autograder(command, assignment, "-w", ws, "--db", db)
    local = new_workspace(root, "local-ws", manifest, CLASS)
    autograder("grade", *CLASS, "-w", local, "-j", 2, timeout=2400)
    for assignment in CLASS:
        autograder("export", assignment, "-w", local)
    print(f"queue: {len(manifest['students']) * len(CLASS)} notebooks in {seconds:.0f} s")
    return ws, db, local, manifest, graded


# ----------------------------------------------------------------------------- servers
def needs_servers(test):
    for mark in SERVICES:
        test = mark(test)
    return test


@needs_servers
def test_two_workers_grade_each_student_once_with_the_local_pools_verdicts(
        queue_and_local):
    ws, db, local, manifest, graded = queue_and_local
    students = set(manifest["students"])
    for assignment in CLASS:
        ours = results_of(ws, assignment)
        assert set(ours) == students
        assert verdicts(ours) == verdicts(results_of(local, assignment))
        assert as_expected(ours) == expected_verdicts(manifest, students, assignment)
    # every student's every notebook queued once, started once, stored once
    assert class_job_counts(db) == {(s, a): (1, 1) for s in students for a in CLASS}
    assert "graded by the task queue's workers" in graded.stderr
    assert graded.stdout.count(f"{len(students)} submissions:") == len(CLASS)
    # the notebooks as they ran, for the formgrader, as the local pool writes them
    ran = sorted(p.relative_to(ws) for p in (ws / "autograded").rglob("*.ipynb"))
    assert ran and ran == sorted(p.relative_to(local)
                                 for p in (local / "autograded").rglob("*.ipynb"))


@needs_servers
def test_the_postgres_gradebook_equals_the_local_sqlite_one(queue_and_local):
    ws, db, local, manifest, _ = queue_and_local
    for assignment in CLASS:
        with gbook.open_gradebook(gbook.db_url(ws, db)) as gb:
            queue_scores = gbook.notebook_scores(gb, assignment, assignment)
            queue_counts = gbook.submitted_notebook_counts(gb, assignment)
        with gbook.open_gradebook(gbook.db_url(local)) as gb:
            local_scores = gbook.notebook_scores(gb, assignment, assignment)
        assert queue_scores == local_scores
        assert queue_counts == {(s, assignment): 1 for s in manifest["students"]}
        with open(ws / "export" / f"{assignment}.csv", newline="") as a, \
                open(local / "export" / f"{assignment}.csv", newline="") as b:
            assert list(csv.DictReader(a)) == list(csv.DictReader(b))
    assert len(list((ws / "feedback").rglob("*.html"))) == \
        len(manifest["students"]) * len(CLASS)
    assert (ws / "report.html").stat().st_size > 0


@needs_servers
def test_recording_again_on_postgres_keeps_a_manual_grade(queue_and_local):
    ws, db, _, manifest, _ = queue_and_local
    student = sorted(manifest["students"])[0]
    result = results_of(ws)[student]
    part = next(g for g, p in result["parts"].items() if p["auto"])
    with gbook.open_gradebook(gbook.db_url(ws, db)) as gb:
        grade = gb.find_grade(part, ASSIGNMENT, ASSIGNMENT, student)
        grade.manual_score = 0.5
        gb.db.commit()
        changed = Result.from_json(result)
        changed.parts[part].points = 0.0
        gbook.record(gb, changed, ASSIGNMENT)
        grade = gb.find_grade(part, ASSIGNMENT, ASSIGNMENT, student)
        assert (grade.manual_score, grade.auto_score, grade.score) == (0.5, 0.0, 0.5)


def running_job(db: str, timeout: float = 300) -> tuple[str, str]:
    """(student, worker name) of the first job a worker started."""
    engine = jobstore.connect(db)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                row = conn.execute(sa.select(jobstore.JOBS.c.student, jobstore.JOBS.c.worker)
                                   .where(jobstore.JOBS.c.state == "running")).first()
            if row:
                return row[0], row[1]
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise AssertionError(f"no worker started a job in {timeout:g} s")


@needs_servers
def test_a_worker_killed_while_grading_loses_nothing_and_grades_nothing_twice(
        servers, demo_class, tmp_path):
    """SIGKILL one worker's whole process group mid-grading: its submission goes to the
    other worker after the visibility timeout (120 s here: several times a grading's
    length on a busy machine, so no other submission is handed out twice); each result
    is stored once."""
    broker, postgres = servers
    root, manifest = demo_class
    broker, db = f"{broker}/2", services.create_database(postgres, "kill")
    students = sorted(manifest["students"])[:3]
    ws = new_workspace(tmp_path, "ws", manifest)
    with workers(broker, db, tmp_path, visibility_timeout=120) as procs:
        grade = subprocess.Popen(
            [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "-w", str(ws),
             "--broker", broker, "--db", db, *only(students)], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        victim_student, victim = running_job(db)
        killed = next(p for p in procs if victim.startswith(f"autograder-{p.pid}@"))
        os.killpg(killed.pid, signal.SIGKILL)
        out, err = grade.communicate(timeout=900)
        assert grade.returncode == 0, err
    assert as_expected(results_of(ws)) == expected_verdicts(manifest, students)
    counts = job_counts(db)
    assert counts == {s: (1, 2 if s == victim_student else 1) for s in students}, err
    engine = jobstore.connect(db)
    with engine.connect() as conn:
        by = dict(conn.execute(sa.select(jobstore.RESULTS.c.student,
                                         jobstore.RESULTS.c.worker)).all())
    engine.dispose()
    assert by[victim_student] != victim


def slow_down(folder: Path, seconds: float) -> None:
    """The notebook(s) in ``folder`` sleep at the end of their first answer cell (the
    grader keeps only the answers): grading outlasts an eviction's grace, or results
    arrive ``seconds`` apart (an idle machine grades this assignment in about 2 s, and a
    worker that gets SIGTERM finishes its task when it can)."""
    for path in folder.glob("*.ipynb"):
        notebook = nbformat.read(str(path), 4)
        answer = next(cell for cell in notebook.cells
                      if cell.metadata.get("nbgrader", {}).get("solution"))
        answer.source += f"\nimport time\ntime.sleep({seconds})\n"
        nbformat.write(notebook, str(path))


@needs_servers
def test_grade_stopped_halfway_and_run_again_queues_nothing_twice(
        servers, demo_class, tmp_path):
    broker, postgres = servers
    root, manifest = demo_class
    broker, db = f"{broker}/3", services.create_database(postgres, "rerun")
    students = sorted(manifest["students"])[3:7]
    ws = new_workspace(tmp_path, "ws", manifest)
    for student in students:  # one worker: results at least 8 s apart, even on a busy
        slow_down(ws / "submitted" / student / ASSIGNMENT, seconds=8)  # machine
    with workers(broker, db, tmp_path, n=1):
        grade = subprocess.Popen(
            [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "-w", str(ws),
             "--broker", broker, "--db", db, *only(students)], cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            preexec_fn=sigint_as_in_a_terminal)
        deadline = time.monotonic() + 600
        while not results_of(ws) and time.monotonic() < deadline:
            assert grade.poll() is None, "grade ended before it could be stopped"
            time.sleep(0.2)
        grade.send_signal(signal.SIGINT)
        _, err = grade.communicate(timeout=STOP_SECONDS)
        assert grade.returncode == 130, err
        collected = set(results_of(ws))
        assert 1 <= len(collected) < len(students)
        rerun = autograder("grade", ASSIGNMENT, "-w", ws, "--broker", broker, "--db", db,
                           *only(students), timeout=900)
    left = len(students) - len(collected)
    assert f"{left} to grade ({len(collected)} unchanged)" in rerun.stderr
    assert f"queued 0 on {broker} ({left} queued, running or graded already)" \
        in rerun.stderr
    assert as_expected(results_of(ws)) == expected_verdicts(manifest, students)
    assert job_counts(db) == {s: (1, 1) for s in students}


def wait_for_job(db: str, ready, what: str, timeout: float = 600):
    """The first job row (a mapping) for which ``ready(row)`` holds, polled."""
    engine = jobstore.connect(db)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                for row in conn.execute(sa.select(jobstore.JOBS)).mappings():
                    if ready(row):
                        return row
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise AssertionError(f"no job {what} in {timeout:g} s")


def pool_children(worker: subprocess.Popen) -> list:
    import psutil

    return psutil.Process(worker.pid).children()


@needs_servers
def test_a_submission_whose_grading_process_dies_twice_is_a_dead_letter(
        servers, demo_class, tmp_path):
    """The worker's grading process is killed (SIGKILL, as a crash would) twice while it
    grades the submission, its worker running on: the third delivery stores it as a
    final failure, a dead letter, and a rerun leaves it alone."""
    broker, postgres = servers
    root, manifest = demo_class
    broker, db = f"{broker}/4", services.create_database(postgres, "crash")
    student = sorted(manifest["students"])[0]
    ws = new_workspace(tmp_path, "ws", manifest)
    grade = ("grade", ASSIGNMENT, "-w", ws, "--broker", broker, "--db", db, "--student",
             student)
    with workers(broker, db, tmp_path, n=1) as procs:
        graded = subprocess.Popen([sys.executable, "-m", "autograder", *map(str, grade)],
                                  cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        for deliveries in (1, 2):
            wait_for_job(db, lambda row, n=deliveries: row["state"] == "running"
                         and row["deliveries"] == n, f"delivered {deliveries} times")
            children = pool_children(procs[0])
            assert len(children) == 1, children
            os.kill(children[0].pid, signal.SIGKILL)
        out, err = graded.communicate(timeout=900)
        assert graded.returncode == 0, err
    result = results_of(ws)[student]
    assert (result["status"], result["reason"]) == ("failed", taskqueue.POISON)
    assert taskqueue.POISON in out
    row = wait_for_job(db, lambda row: True, "at all")
    assert (row["state"], row["kills"], row["deliveries"]) == ("dead", 2, 2)  # the 3rd: no grading
    status = autograder("status", "--db", db, "--dead-letters")
    assert f"{ASSIGNMENT}/{student}: {taskqueue.POISON}" in status.stdout
    again = autograder(*grade)
    assert "1 submissions, 0 to grade" in again.stderr


def jobs_in_state(db: str, state: str) -> int:
    engine = jobstore.connect(db)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(jobstore.JOBS)
                         .where(jobstore.JOBS.c.state == state)).scalar_one()
    engine.dispose()
    return n


@needs_servers
def test_requeue_after_the_broker_lost_its_messages(servers, demo_class, tmp_path):
    """Queued with no worker running, then Redis flushed: ``--requeue`` sends them again
    (a plain rerun would wait for messages that no longer exist)."""
    import redis

    broker, postgres = servers
    root, manifest = demo_class
    broker, db = f"{broker}/5", services.create_database(postgres, "requeue")
    students = sorted(manifest["students"])[9:11]
    ws = new_workspace(tmp_path, "ws", manifest)
    grade = subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "-w", str(ws),
         "--broker", broker, "--db", db, *only(students)], cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=sigint_as_in_a_terminal)
    client = redis.Redis.from_url(broker)
    deadline = time.monotonic() + 120
    while (jobs_in_state(db, "queued") < len(students)
           or client.llen(taskqueue.QUEUE) < len(students)) and time.monotonic() < deadline:
        time.sleep(0.2)
    grade.send_signal(signal.SIGINT)
    assert grade.wait(timeout=STOP_SECONDS) == 130, grade.stderr.read()
    assert client.llen(taskqueue.QUEUE) == len(students)
    client.flushdb()
    client.close()
    with workers(broker, db, tmp_path, n=1):
        rerun = autograder("grade", ASSIGNMENT, "-w", ws, "--broker", broker, "--db", db,
                           "--requeue", *only(students), timeout=900)
    assert f"queued {len(students)} on {broker}" in rerun.stderr
    assert as_expected(results_of(ws)) == expected_verdicts(manifest, students)
    assert job_counts(db) == {s: (2, 1) for s in students}


@needs_servers
def test_rabbitmq_works_by_changing_the_broker_url_only(servers, demo_class, tmp_path):
    _, postgres = servers
    root, manifest = demo_class
    db = services.create_database(postgres, "rabbitmq")
    students = sorted(manifest["students"])[11:13]
    ws = new_workspace(tmp_path, "ws", manifest)
    with services.rabbitmq_server() as broker, workers(broker, db, tmp_path, n=1):
        graded = autograder("grade", ASSIGNMENT, "-w", ws, "--broker", broker, "--db", db,
                            *only(students), timeout=900)
    assert "amqp://guest:**@127.0.0.1:" in graded.stderr  # the password masked
    assert as_expected(results_of(ws)) == expected_verdicts(manifest, students)
    assert job_counts(db) == {s: (1, 1) for s in students}
