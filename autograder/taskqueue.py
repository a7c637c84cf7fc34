"""Grading workers on many machines: the Celery app, its one task, and ``worker``.

What travels where:

- the broker (Redis by default; an ``amqp://`` URL for RabbitMQ) carries one JSON
  message per submission (never pickle): the student, the assignment, the notebook's
  bytes (base64), the submission's sha256, the assignment's fingerprint as the
  instructor's checkout computes it, and the limits and sandbox choice of the run;
- the database named by ``--db`` (PostgreSQL for a class of thousands; the gradebook's
  own database) holds the jobs and results tables (``jobstore.py``): the worker writes
  each result and the notebook as it ran there, in one transaction, and only then is the
  message acknowledged (late acknowledgement). Results never travel back through the
  broker; the instructor's ``grade`` reads them and records the gradebook itself.

A worker machine needs: this repository checked out at the instructor's commit (a
worker whose assignment fingerprint differs refuses to grade and says so), its
``.venv``, bubblewrap when the instructor's run is sandboxed, and network access to
the broker and the database. ``python -m autograder worker --broker URL --db URL``
starts one prefork child per core; each child builds its own ``grade_one.Grader``
after the fork and grades one submission at a time, exactly as the local pool does.

Delivery: a child killed while grading is noticed by its parent, which puts the
message back at once (``task_reject_on_worker_lost``); a whole worker killed (a lost
machine) leaves the message unacknowledged in Redis, which gives it to another worker
after the transport's visibility timeout (``--visibility-timeout``, by default the
grading backstop plus ten minutes, so a live grading is not handed out twice; a worker
with a shorter one warns: a long grading may then run twice, its result stored once). Each
start is counted in the jobs table: the third start of a submission whose two earlier
starts never finished is stored as failed ("this submission stopped its grading worker
twice") instead of looping.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import signal
import tempfile
import time
from pathlib import Path

from autograder import grade_one, jobstore
from autograder import sandbox as kernels
from autograder.checks import ASSIGNMENTS
from autograder.errors import UsageError
from autograder.scheduler import KERNEL_THREAD_ENV, default_workers

TASK_NAME = "autograder.grade"
QUEUE = "autograder"
MAX_STARTS = 2
WORKER_LOST = "this submission stopped its grading worker twice"
# Test-only: a worker child kills itself on this student's submission (tests/test_queue.py).
CRASH_ENV = "AUTOGRADER_TEST_CRASH_STUDENT"


def default_visibility_timeout() -> float:
    return grade_one.task_backstop(kernels.Limits()) + 600


def make_app(broker: str, db: str, visibility_timeout: float | None = None):
    """The Celery app of the broker URL: JSON only, late acknowledgement, one message
    per child at a time, no result backend (results go to ``db``)."""
    from celery import Celery

    visibility = float(visibility_timeout or default_visibility_timeout())
    app = Celery("autograder", broker=broker, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], task_ignore_result=True,
        task_acks_late=True, task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1, task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
        # a child's start loads the assignments and its warm zygote (import tensorflow:
        # up to 30 s on a busy machine); Celery's default would kill it after 4 s
        worker_proc_alive_timeout=600,
        # Redis only (other transports ignore them): redeliver an unacknowledged
        # message after ``visibility``, and look for such messages often enough
        broker_transport_options={
            "visibility_timeout": visibility,
            "unacked_restore_interval": max(1, min(10, int(visibility / 10))),
            "unacked_restore_throttle": 1},
        autograder_db=db, autograder_visibility=visibility)
    # A hard time limit leaves the message to be delivered again (and counted).
    app.task(bind=True, name=TASK_NAME, acks_on_timeout=False)(grade_task)
    from celery import signals

    signals.worker_process_init.connect(_child_init, weak=False)
    signals.worker_process_shutdown.connect(_child_exit, weak=False)
    return app


# ----------------------------------------------------------------------------- in a child
_CHILD: dict = {"engine": None, "grader": None}


def _child_init(**_) -> None:
    """After the fork: a database engine of our own, and a Grader for a default run of
    the course's assignments ready before the first message."""
    _CHILD["engine"] = _CHILD["grader"] = None
    try:  # what `grade --broker` sends by default
        _grader_for({"assignments": {name: {"source": None, "checks": None,
                                            "references": None} for name in ASSIGNMENTS},
                     "limits": dataclasses.asdict(kernels.Limits()),
                     "sandbox": kernels.sandbox_available(), "fresh_kernels": False})
    except Exception:  # noqa: BLE001 - a task will load what it needs and report
        pass


def _child_exit(**_) -> None:
    if _CHILD["grader"] is not None:
        _CHILD["grader"].close()  # its zygote, if any


def _engine(db: str):
    if _CHILD["engine"] is None:
        _CHILD["engine"] = jobstore.connect(db)
    return _CHILD["engine"]


def _grader_for(spec: dict) -> grade_one.Grader:
    """A Grader that grades this message's assignment with its limits and sandbox."""
    grader = _CHILD["grader"]
    if grader is not None:
        same_run = all(grader.spec.get(k) == v for k, v in spec.items()
                       if k != "assignments")  # limits, sandbox, kernels
        if same_run and all(grader.spec["assignments"].get(name) == where
                            for name, where in spec["assignments"].items()):
            return grader
        grader.close()  # one Grader (and its warm zygote) per child at a time
    _CHILD["grader"] = None
    _CHILD["grader"] = grade_one.Grader(spec)
    return _CHILD["grader"]


def _not_final(reason: str) -> dict:
    """Not the student's doing: the next ``grade`` run queues it again."""
    return {"status": "failed", "reason": reason, "final": False}


def grade_task(self, **message) -> str:
    """Grade one submission and store its result; acknowledged when this returns. A
    database out of reach puts the message back (after a pause) rather than lose it."""
    from celery.exceptions import Reject
    from sqlalchemy.exc import DBAPIError

    try:
        return _grade_and_store(self, message)
    except DBAPIError as error:
        print(f"the database is out of reach ({type(error).__name__}); the submission "
              "goes back to the queue", flush=True)
        time.sleep(10)
        raise Reject(str(error).splitlines()[0], requeue=True) from None


def _grade_and_store(self, message: dict) -> str:
    db = self.app.conf.autograder_db
    engine = _engine(db)
    key = jobstore.JobKey(message["student"], message["submission_sha256"],
                          message["fingerprint"])
    worker = self.request.hostname or "worker"
    if jobstore.has_result(engine, key):
        return "already graded"  # a second delivery of a stored result
    starts = jobstore.start(engine, key, message["assignment"], worker)
    if starts > MAX_STARTS:
        result = {"status": "failed", "reason": WORKER_LOST, "final": True}
        jobstore.store(engine, key, message["assignment"], result, None, worker)
        return "failed"
    if os.environ.get(CRASH_ENV) == message["student"]:
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        result, graded = _grade(self.app, message, worker)
    except Exception as error:  # noqa: BLE001 - store why, never loop on a bug
        result, graded = _not_final(f"internal error on the grading worker {worker}: "
                                    f"{type(error).__name__}: {error}"), None
    jobstore.store(engine, key, message["assignment"], result, graded, worker)
    return result["status"]


def _grade(app, message: dict, worker: str) -> tuple[dict, str | None]:
    spec, name = message["spec"], message["assignment"]
    refusal = _refusal(spec, worker)
    if refusal:
        return _not_final(refusal), None
    _warn_if_redelivered_early(app, spec)
    grader = _grader_for(spec)
    ours = grader.assignments[name].fingerprint
    if ours != message["fingerprint"]:
        return _not_final(
            f"the grading worker {worker} has another version of {name} (fingerprint "
            f"{ours[:12]}, the instructor's {message['fingerprint'][:12]}): check out "
            "the instructor's commit on that machine and restart its worker"), None
    with tempfile.TemporaryDirectory(prefix="autograder-queued-") as tmp:
        path = Path(tmp) / Path(message["filename"]).name
        if message["notebook"] is not None:
            path.write_bytes(base64.b64decode(message["notebook"]))
        graded = Path(tmp) / "graded" / path.name
        result = grader.grade(str(path), name, str(graded))
        text = graded.read_text(encoding="utf-8") if graded.exists() else None
    return result, text


def _refusal(spec: dict, worker: str) -> str | None:
    """Why this worker cannot grade the run as the instructor asked, if it cannot."""
    if spec.get("sandbox") and not kernels.sandbox_available():
        return (f"the grading worker {worker} has no sandbox ({kernels.sandbox_status()}),"
                " and this run is sandboxed: install bubblewrap there")
    return None


def _warn_if_redelivered_early(app, spec: dict) -> None:
    """A grading longer than the visibility timeout is handed to a second worker too:
    double work, one stored result. Say so rather than refuse the whole run."""
    needed = grade_one.task_backstop(kernels.Limits(**spec["limits"]))
    visibility = app.conf.autograder_visibility
    if str(app.conf.broker_url).startswith("redis") and needed > visibility \
            and needed not in _CHILD.setdefault("warned", set()):  # once per child
        _CHILD["warned"].add(needed)
        print(f"warning: --visibility-timeout {visibility:g} s is shorter than this run's "
              f"grading time limit {needed:g} s: a grading longer than {visibility:g} s "
              f"goes to a second worker as well (give --visibility-timeout {needed + 600:g})",
              flush=True)


# ----------------------------------------------------------------------------- worker
def run_worker(broker: str, db: str, concurrency: int | None = None,
               visibility_timeout: float | None = None, loglevel: str = "INFO") -> int:
    """``python -m autograder worker``: a Celery worker in the foreground."""
    from sqlalchemy.exc import SQLAlchemyError

    db = jobstore.database_url(db)
    try:
        jobstore.connect(db).dispose()  # the tables exist; the database is reachable
    except (SQLAlchemyError, ImportError) as error:
        from kombu.utils.url import maybe_sanitize_url

        raise UsageError(f"--db {maybe_sanitize_url(db)}: {type(error).__name__}: "
                         f"{str(error).splitlines()[0]}") from None
    for name, value in KERNEL_THREAD_ENV.items():  # one core's threads per kernel
        os.environ.setdefault(name, value)
    app = make_app(broker, db, visibility_timeout)
    app.worker_main(["worker", "--pool=prefork", f"--loglevel={loglevel}",
                     f"--concurrency={concurrency or default_workers()}",
                     "--without-gossip", "--without-mingle", "-Q", QUEUE,
                     "-n", f"autograder-{os.getpid()}@%h"])
    return 0


def message(student: str, assignment: str, notebook: Path, submission_sha256: str,
            fingerprint: str, spec: dict) -> dict:
    """The task's JSON message for one submission (a missing notebook travels as None:
    the worker then reports it missing, as the local pool does)."""
    data = notebook.read_bytes() if notebook.is_file() else None
    return {"student": student, "assignment": assignment, "filename": notebook.name,
            "notebook": base64.b64encode(data).decode("ascii") if data is not None
            else None,
            "submission_sha256": submission_sha256, "fingerprint": fingerprint,
            "spec": spec, "queued_at": time.time()}
