"""A worker's reads and writes of the queue's tables: claim a job, store its result (a
dead letter when the database refuses it), count a grading process's death, hand a job
back, and the worker's own row.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import sqlalchemy as sa

from autograder.grading.result import Result
from autograder.queue.tables import (
    JOBS, RESULTS, SUBMISSIONS, WORKERS, JobKey, first_line, insert_statement, out_of_reach,
)

#: how long a grading's result waits for the database before the message is retried
STORE_PATIENCE = 120.0

@dataclass
class Claim:
    """What a worker may do with a delivered message: ``grade`` it (with the
    notebook's bytes), or not, and why (``outcome``)."""

    outcome: str  # grade, stale, graded already, poison
    notebook: bytes | None = None
    retried: bool = False  # an earlier delivery never finished (a worker stopped)
    kills: int = 0


def claim(engine: sa.Engine, job: int, generation: int, worker: str, max_kills: int
          ) -> Claim:
    """Take the job for grading, in one transaction that locks its row: a message of
    another generation than the job's is stale (the instructor queued it again, or it
    is gone); a result of this generation means graded already; a job whose grading
    process died ``max_kills`` times is poison. Otherwise it is running, here."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(JOBS.c.generation, JOBS.c.state, JOBS.c.kills,
                                     JOBS.c.notebook_sha256)
                           .where(JOBS.c.id == job).with_for_update()).first()
        if row is None or row.generation != generation or row.state == "dead":
            return Claim("stale")
        if row.state == "done":
            return Claim("graded already")
        if row.kills >= max_kills:
            return Claim("poison", kills=row.kills)
        retried = row.state == "running"
        conn.execute(JOBS.update().where(JOBS.c.id == job).values(
            state="running", deliveries=JOBS.c.deliveries + 1,
            retries=JOBS.c.retries + int(retried), worker=worker, updated_at=time.time()))
        notebook = None
        if row.notebook_sha256 is not None:
            notebook = conn.execute(sa.select(SUBMISSIONS.c.notebook).where(
                SUBMISSIONS.c.sha256 == row.notebook_sha256)).scalar_one_or_none()
            if notebook is None:
                raise LookupError(f"submitted notebook {row.notebook_sha256[:12]} is not in "
                                  "the database (removed by hand?)")
        return Claim("grade", bytes(notebook) if notebook is not None else None, retried,
                     row.kills)


@dataclass(frozen=True)
class Target:
    """Where a result goes: the job and generation it grades, its key and assignment
    (a ``Message`` has the same four)."""

    job: int
    generation: int
    key: JobKey
    assignment: str


def store(engine: sa.Engine, target: Target, result: Result, graded_notebook: str | None,
          worker: str, dead: str | None = None) -> bool:
    """The result and the job's end in one transaction, if the job is still of this
    generation (else nothing: the instructor queued it again meanwhile); ``dead``: the
    reason it is a dead letter. False when nothing was written."""
    job, generation, key = target.job, target.generation, target.key
    assignment = target.assignment
    with engine.begin() as conn:
        current = conn.execute(sa.select(JOBS.c.generation).where(JOBS.c.id == job)
                               .with_for_update()).scalar_one_or_none()
        if current != generation:
            return False
        written = conn.execute(insert_statement(conn, RESULTS).values(dict(
            key.values(), generation=generation, assignment=assignment,
            status=result.status, final=result.final, result=json.dumps(result.to_json()),
            graded_notebook=graded_notebook, worker=worker, created_at=time.time()))
            .on_conflict_do_nothing()).rowcount == 1
        conn.execute(JOBS.update().where(JOBS.c.id == job).values(
            state="dead" if dead else "done", reason=dead, updated_at=time.time()))
    return written


def bury(engine: sa.Engine, job: int, generation: int, reason: str) -> None:
    """A dead letter without a result row (the database refused even the failure)."""
    with engine.begin() as conn:
        conn.execute(JOBS.update().where(JOBS.c.id == job, JOBS.c.generation == generation)
                     .values(state="dead", reason=reason[:2000], updated_at=time.time()))


def count_kill(engine: sa.Engine, job: int, generation: int) -> None:
    """The grading process of this job died while its worker ran on."""
    with engine.begin() as conn:
        conn.execute(JOBS.update().where(JOBS.c.id == job, JOBS.c.generation == generation)
                     .values(kills=JOBS.c.kills + 1, updated_at=time.time()))


def release(engine: sa.Engine, job: int, generation: int, reason: str) -> None:
    """A worker hands the job back (it could not grade it): queued again."""
    with engine.begin() as conn:
        conn.execute(JOBS.update().where(JOBS.c.id == job, JOBS.c.generation == generation,
                                         JOBS.c.state == "running")
                     .values(state="queued", reason=reason[:2000], updated_at=time.time()))


def register_worker(engine: sa.Engine, name: str, fingerprint: str, sandboxed: bool,
                    state: str = "running", reason: str | None = None) -> None:
    now = time.time()
    with engine.begin() as conn:
        values = dict(fingerprint=fingerprint, sandboxed=sandboxed, state=state,
                      reason=reason, updated_at=now)
        conn.execute(insert_statement(conn, WORKERS).values(name=name, started_at=now, **values)
                     .on_conflict_do_update(index_elements=["name"], set_=values))


def store_patiently(engine, message, result: Result, graded: str | None, worker: str,
                    dead: str | None = None) -> str:
    """Store the result of ``message`` (its job, generation, key and assignment),
    waiting up to ``STORE_PATIENCE`` for a database out of reach; a value the database
    refuses is stored as a failure instead, a dead letter. What happened, in a word."""
    deadline, pause = time.monotonic() + STORE_PATIENCE, 1.0
    while True:
        try:
            return _store_or_refused(engine, message, result, graded, worker, dead)
        except sa.exc.SQLAlchemyError as error:
            if not out_of_reach(error) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


def _store_or_refused(engine, message, result: Result, graded: str | None,
                      worker: str, dead: str | None) -> str:
    try:
        written = store(engine, message, result, graded, worker, dead)
        return (dead and "dead letter" or result.status) if written else "superseded"
    except sa.exc.SQLAlchemyError as error:
        if out_of_reach(error):
            raise
        why = f"the database refused the result: {first_line(error)}"
    print(f"{message.assignment}/{message.key.student}: {why}", flush=True)
    try:
        store(engine, message, Result.failure(why), None, worker, dead=why)
    except sa.exc.SQLAlchemyError as error:
        if out_of_reach(error):
            raise
        bury(engine, message.job, message.generation, why)
    return "dead letter"
