"""Grading workers on many machines: the Celery app, its one task, and ``worker``.

What travels where:

- the broker (Redis by default; an ``amqp://`` URL for RabbitMQ) carries one small
  JSON message per submission (``message.py``): which job, whose, which assignment,
  the key of the notebook's bytes and of the result, the limits asked for. Data, never
  code locations: the worker owns the rules. It grades the assignments of its own
  checkout (a message whose fingerprint differs from the worker's is refused), in its
  own sandbox (unless it was started with ``--unsandboxed``), within its own maximum
  limits;
- the database (PostgreSQL; the gradebook's own) holds the notebooks, the jobs and the
  results (``tables.py``). The worker reads the notebook there, grades it, and writes
  the result and the job's end in one transaction; only then is the message
  acknowledged (late acknowledgement).

What can go wrong, and what follows (the failure classes):

- the infrastructure: the database out of reach (a restart, a network cut: the result
  is kept and stored once it is back, or the message retried later with growing
  pauses), a worker stopped, evicted or lost (its message goes to another worker; the
  job counts a retry). Never a final result;
- a submission whose grading process dies while its worker runs on (a crash, the
  grading's hard time limit), twice: poison, stored as a final failure, a dead letter;
- a value the database refuses (``DataError`` and the like): stored as a failure with
  its reason, once, a dead letter (``grade --retry-dead`` queues them again);
- this worker cannot grade (another fingerprint, a kernel that does not start): the
  message goes back for another worker; after ``MAX_REFUSALS`` in a row the worker
  stops itself and exits with status 3 (``selfcheck.py``: its checks at start).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import tempfile
from pathlib import Path

import sqlalchemy as sa
from celery.exceptions import TimeLimitExceeded, WorkerLostError
from celery.worker import state as worker_state
from celery.worker.request import Request

from autograder import sandbox as kernels
from autograder.checks import ASSIGNMENTS
from autograder.errors import UsageError
from autograder.grading import submission
from autograder.grading.grader import Grader
from autograder.grading.result import Result
from autograder.grading.run import Run, Submission
from autograder.pool import KERNEL_THREAD_ENV, default_workers
from autograder.queue import claims, selfcheck, settings, tables
from autograder.queue.settings import WorkerSettings
from autograder.queue.message import BadMessage, Message

TASK_NAME = "autograder.grade"
QUEUE = "autograder"
#: deaths of a submission's grading process (under a running worker) before it is poison
MAX_KILLS = 2
POISON = "this submission stopped its grading process twice (a crash or the time limit)"
#: refusals in a row before a worker stops itself
MAX_REFUSALS = 3
REFUSED_EXIT = 3


class Refusal(Exception):
    """This worker cannot grade the message (its own fault, not the submission's)."""


def backstop(limits: kernels.Limits) -> float:
    return submission.task_backstop(limits)


def default_visibility_timeout(maxima: kernels.Limits | None = None) -> float:
    return backstop(maxima or kernels.Limits()) + 600


def make_app(broker: str, worker: WorkerSettings | None = None):
    """The Celery app of the broker URL: JSON only, late acknowledgement, one message
    per child at a time, events on (Flower), no result backend (results go to the
    database). The instructor's side makes it without ``worker``."""
    from celery import Celery

    worker = worker or WorkerSettings(db="")
    visibility = float(worker.visibility_timeout
                       or default_visibility_timeout(worker.maxima))
    app = Celery("autograder", broker=broker, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], task_ignore_result=True,
        task_acks_late=True, task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1, task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
        worker_send_task_events=True, task_send_sent_event=True,
        broker_use_ssl=settings.broker_ssl(broker),
        # a child's start loads the assignments and its warm zygote (import tensorflow:
        # up to 30 s on a busy machine); Celery's default would kill it after 4 s
        worker_proc_alive_timeout=600,
        # Redis only (other transports ignore them): redeliver an unacknowledged
        # message after ``visibility``, and look for such messages often enough
        broker_transport_options={
            "visibility_timeout": visibility,
            "unacked_restore_interval": max(1, min(10, int(visibility / 10))),
            "unacked_restore_throttle": 1},
        autograder=worker, autograder_visibility=visibility)
    # A hard time limit leaves the message to be delivered again (counted as a kill).
    app.task(bind=True, name=TASK_NAME, acks_on_timeout=False,
             Request="autograder.queue.worker:GradeRequest")(grade_task)
    from celery import signals

    signals.worker_process_init.connect(_child_init, weak=False)
    signals.worker_process_shutdown.connect(_child_exit, weak=False)
    return app


class GradeRequest(Request):
    """In the worker's main process: a grading process that died (or hit the hard time
    limit) while the worker itself was not stopping counts against the submission; the
    message then goes back to the queue, as Celery does. A death by SIGTERM is the
    machine being stopped (systemd's default KillMode signals every process), never
    the submission's doing."""

    def on_failure(self, exc_info, send_failed_event=True, return_ok=False):
        error = exc_info.exception
        error = getattr(error, "exc", error)  # billiard's ExceptionWithTraceback
        died = isinstance(error, (WorkerLostError, TimeLimitExceeded))
        stopping = (worker_state.should_stop or worker_state.should_terminate
                    or "SIGTERM" in str(error))
        if died and not stopping:
            _count_kill(self.task.app, self.kwargs)
        return super().on_failure(exc_info, send_failed_event, return_ok)


_MAIN: dict = {"engine": None}


def _count_kill(app, fields: dict) -> None:
    try:
        message = Message.from_json(fields)
        if _MAIN["engine"] is None:
            _MAIN["engine"] = tables.connect(app.conf.autograder.db)
        claims.count_kill(_MAIN["engine"], message.job, message.generation)
        print(f"the grading process of {message.assignment}/{message.key.student} died; "
              "counted against the submission", flush=True)
    except (BadMessage, sa.exc.SQLAlchemyError) as error:
        print(f"could not count a grading process's death: {tables.first_line(error)}",
              flush=True)


# ----------------------------------------------------------------------------- in a child
_CHILD: dict = {"engine": None, "grader": None, "refusals": 0, "warned": set()}


def _child_init(**_) -> None:
    """After the fork: no database connection of the parent's, and a Grader for the
    course's assignments with the default limits ready before the first message."""
    if _MAIN["engine"] is not None:
        _MAIN["engine"].dispose(close=False)  # the parent's connections stay the parent's
        _MAIN["engine"] = None
    _CHILD.update(engine=None, grader=None, refusals=0)
    from celery import current_app

    worker = current_app.conf.get("autograder")
    if worker is not None:
        try:
            _grader_for(worker, worker.maxima, False)
        except Exception as error:  # noqa: BLE001 - each message then refuses and says why
            print(f"could not prepare the course's assignments: "
                  f"{type(error).__name__}: {error}", flush=True)


def _child_exit(**_) -> None:
    if _CHILD["grader"] is not None:
        _CHILD["grader"].close()  # its zygote, if any


def _engine(db: str) -> sa.Engine:
    if _CHILD["engine"] is None:
        _CHILD["engine"] = tables.connect(db)
    return _CHILD["engine"]


def _grader_for(worker: WorkerSettings, limits: kernels.Limits, fresh: bool) -> Grader:
    """A Grader of this checkout's assignments, in this worker's sandbox, with these
    limits (one Grader, and its warm zygote, per child at a time)."""
    run = Run.of(ASSIGNMENTS, limits, sandbox=worker.sandbox, fresh_kernels=fresh)
    grader = _CHILD["grader"]
    if grader is not None and grader.run == run:
        return grader
    if grader is not None:
        grader.close()
    _CHILD["grader"] = None
    _CHILD["grader"] = Grader(run)
    return _CHILD["grader"]


def backoff(retries: int) -> float:
    """Seconds before the next try: 5, 10, 20 ... up to 5 minutes, with jitter so that
    many workers do not come back at the same moment."""
    return min(300.0, 5.0 * 2 ** min(retries, 6)) * random.uniform(0.8, 1.2)


def grade_task(self, **fields) -> str:
    """Grade one submission and store its result; acknowledged when this returns."""
    from celery.exceptions import Reject

    worker: WorkerSettings = self.app.conf.autograder
    name = self.request.hostname or "worker"
    try:
        message = Message.from_json(fields)
        limits = message.limits_within(worker.maxima)
    except BadMessage as error:
        print(f"dropped a message: {error}", flush=True)
        return "dropped"
    try:
        return handle(_engine(worker.db), message, name,
                      lambda notebook: _grade(self.app, worker, message, limits, notebook,
                                              name))
    except Refusal as why:
        _refused(worker, message, name, str(why))
        raise Reject(str(why), requeue=True) from None
    except sa.exc.SQLAlchemyError as error:
        if not tables.out_of_reach(error):
            raise
        pause = backoff(self.request.retries)
        print(f"the database is out of reach ({tables.first_line(error)}); "
              f"{message.assignment}/{message.key.student} is tried again in {pause:.0f} s",
              flush=True)
        raise self.retry(countdown=pause, max_retries=None) from None


def handle(engine: sa.Engine, message: Message, worker: str, grade) -> str:
    """Claim the job, grade it (``grade(notebook bytes) -> (result, graded notebook)``,
    which may raise ``Refusal``) and store the result; what happened, in a word or two.
    A database out of reach propagates (the task retries it later)."""
    claim = claims.claim(engine, message.job, message.generation, worker, MAX_KILLS)
    if claim.outcome == "poison":
        failure = Result.failure(POISON)
        claims.store_patiently(engine, message, failure, None, worker, dead=POISON)
        return "poison"
    if claim.outcome != "grade":
        return claim.outcome
    result, graded = grade(claim.notebook)
    _CHILD["refusals"] = 0
    return claims.store_patiently(engine, message, result, graded, worker)


def _grade(app, worker: WorkerSettings, message: Message, limits: kernels.Limits,
           notebook: bytes | None, name: str) -> tuple[Result, str | None]:
    assignment = message.assignment
    if assignment not in ASSIGNMENTS:
        raise Refusal(f"the grading worker {name} has no assignment {assignment} in its "
                      "checkout: check out the instructor's commit there")
    _warn_if_redelivered_early(app, limits)
    try:
        grader = _grader_for(worker, limits, message.fresh_kernels)
    except Exception as error:  # noqa: BLE001 - a worker that cannot load refuses
        raise Refusal(f"the grading worker {name} cannot load the assignments: "
                      f"{type(error).__name__}: {error}") from None
    ours, theirs = grader.assignments[assignment].fingerprint, message.key.grader_sha256
    if ours != theirs:
        raise Refusal(
            f"the grading worker {name} has another version of {assignment} (fingerprint "
            f"{ours[:12]}, the instructor's {theirs[:12]}): check out the instructor's "
            "commit and its lock on that machine and restart its worker")
    with tempfile.TemporaryDirectory(prefix="autograder-queued-") as tmp:
        path = Path(tmp) / (Path(message.filename).name or f"{assignment}.ipynb")
        if notebook is not None:
            path.write_bytes(notebook)
        graded = Path(tmp) / "graded" / path.name
        try:
            result = grader.grade(Submission(message.key.student, assignment, path, graded))
        except Exception as error:  # noqa: BLE001 - store why, never loop on a bug
            result = Result.failure(f"internal error on the grading worker {name}: "
                                    f"{type(error).__name__}: {error}", final=False)
        if not result.final and result.reason and "kernel did not start" in result.reason:
            raise Refusal(f"the grading worker {name}: {result.reason}")
        text = graded.read_text(encoding="utf-8") if graded.exists() else None
    result.sandboxed = grader.sandboxed
    return result, text


def _refused(worker: WorkerSettings, message: Message, name: str, why: str) -> None:
    """Put the job back; after ``MAX_REFUSALS`` in a row, stop this worker."""
    print(f"refused {message.assignment}/{message.key.student}: {why}", flush=True)
    _CHILD["refusals"] += 1
    try:
        engine = _engine(worker.db)
        claims.release(engine, message.job, message.generation, why)
        if _CHILD["refusals"] >= MAX_REFUSALS:
            claims.register_worker(engine, name, "", worker.sandbox is not None,
                                   state="refused", reason=why)
    except sa.exc.SQLAlchemyError as error:
        print(f"could not record the refusal: {tables.first_line(error)}", flush=True)
    if _CHILD["refusals"] >= MAX_REFUSALS:
        print(f"{MAX_REFUSALS} refusals in a row: this worker stops", flush=True)
        os.kill(os.getppid(), signal.SIGTERM)  # a warm shutdown of the whole worker


def _warn_if_redelivered_early(app, limits: kernels.Limits) -> None:
    """A grading longer than the broker's patience is handed to a second worker too:
    double work, one stored result. Say so (once per child) rather than refuse."""
    why = settings.patience_problem(str(app.conf.broker_url), backstop(limits),
                                    app.conf.autograder_visibility,
                                    app.conf.autograder.consumer_timeout)
    if why and why not in _CHILD["warned"]:
        _CHILD["warned"].add(why)
        print(f"warning: {why}", flush=True)


# ----------------------------------------------------------------------------- worker
def node_name() -> str:
    return f"autograder-{os.getpid()}@{socket.gethostname()}"


def run_worker(broker: str, worker: WorkerSettings, concurrency: int | None = None,
               loglevel: str = "INFO") -> int:
    """``python -m autograder worker``: check this worker, then a Celery worker in the
    foreground; exit status 3 when it stopped itself after refusals."""
    db = tables.database_url(worker.db)
    worker = WorkerSettings(db, worker.unsandboxed, worker.maxima, worker.visibility_timeout,
                            worker.consumer_timeout)
    try:
        engine = tables.connect(db)  # the tables exist; the database is reachable
    except (sa.exc.SQLAlchemyError, ImportError) as error:
        raise UsageError(f"database {settings.shown(db)}: {tables.first_line(error)}"
                         ) from None
    name = node_name()
    for key, value in KERNEL_THREAD_ENV.items():  # one core's threads per kernel
        os.environ.setdefault(key, value)
    app = make_app(broker, worker)
    check = selfcheck.check_worker(worker.unsandboxed, str(app.conf.broker_url),
                                   backstop(worker.maxima), app.conf.autograder_visibility,
                                   worker.consumer_timeout)
    sandboxed = bool(worker.sandbox and kernels.sandbox_available())
    if check.problem:
        claims.register_worker(engine, name, check.fingerprint, sandboxed, state="refused",
                               reason=check.problem)
        engine.dispose()
        raise UsageError(f"this worker does not start: {check.problem}")
    for line in check.notes:
        print(line, flush=True)
    claims.register_worker(engine, name, check.fingerprint, sandboxed)
    try:
        app.worker_main(["worker", "--pool=prefork", f"--loglevel={loglevel}",
                         f"--concurrency={concurrency or default_workers()}",
                         "--without-gossip", "--without-mingle", "-E", "-Q", QUEUE,
                         "-n", name])
    except SystemExit:
        pass
    with engine.connect() as conn:
        row = next((r for r in tables.workers(conn) if r[0] == name), None)
    if row is not None and row[1] == "refused":
        print(f"stopped after {MAX_REFUSALS} refusals in a row: {row[2]}", flush=True)
        engine.dispose()
        return REFUSED_EXIT
    claims.register_worker(engine, name, check.fingerprint, sandboxed, state="stopped")
    engine.dispose()
    return 0
