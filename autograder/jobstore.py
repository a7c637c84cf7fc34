"""The task queue's two tables, beside nbgrader's in the gradebook database (``--db``).

``autograder_jobs``: one row per submission to grade, keyed by (student, submission
sha256, grader fingerprint); ``state`` queued / running / done, ``sends`` (how many
times the instructor queued it) and ``deliveries`` (how many times a worker started
it). ``autograder_results``: at most one result per key (a unique key, written with
INSERT ... ON CONFLICT DO NOTHING), the result JSON and the notebook as it ran.

Workers write here and nowhere else; the instructor's ``grade`` reads the results and
records them in nbgrader's tables itself (``grading.run_pool``). SQLAlchemy Core only,
so any database SQLAlchemy speaks works; PostgreSQL and SQLite use their native
``ON CONFLICT``, others fall back to catching the unique-key violation.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

METADATA = sa.MetaData()
KEY = ("student", "submission_sha256", "grader_sha256")


def _key_columns() -> list[sa.Column]:
    return [sa.Column("student", sa.String(255), nullable=False),
            sa.Column("submission_sha256", sa.String(64), nullable=False),
            sa.Column("grader_sha256", sa.String(64), nullable=False)]


JOBS = sa.Table(
    "autograder_jobs", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *_key_columns(),
    sa.Column("assignment", sa.String(255), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # queued, running, done
    sa.Column("sends", sa.Integer, nullable=False, default=0),
    sa.Column("deliveries", sa.Integer, nullable=False, default=0),
    sa.Column("worker", sa.String(255)),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint(*KEY, name="autograder_jobs_key"))

RESULTS = sa.Table(
    "autograder_results", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *_key_columns(),
    sa.Column("assignment", sa.String(255), nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("graded_notebook", sa.Text),
    sa.Column("worker", sa.String(255)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint(*KEY, name="autograder_results_key"))


@dataclass(frozen=True)
class JobKey:
    """One submission graded by one version of the grader."""

    student: str
    submission_sha256: str
    grader_sha256: str

    def where(self, table: sa.Table):
        return sa.and_(*(table.c[name] == getattr(self, name) for name in KEY))

    def values(self) -> dict:
        return {name: getattr(self, name) for name in KEY}


def database_url(url: str) -> str:
    """``postgresql://`` names the driver SQLAlchemy 2.1 prefers (psycopg 3); the
    course's environment has psycopg2, so a plain URL uses it."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None:
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def connect(url: str) -> sa.Engine:
    """An engine on the database, with both tables created if missing."""
    engine = sa.create_engine(database_url(url), pool_pre_ping=True)
    METADATA.create_all(engine, checkfirst=True)
    return engine


def insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table, values: dict) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was written."""
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        module = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"])
        statement = module.insert(table).values(**values).on_conflict_do_nothing()
        return conn.execute(statement).rowcount == 1
    return insert_or_catch(conn, table, values)


def insert_or_catch(conn: sa.Connection, table: sa.Table, values: dict) -> bool:
    """The same for other databases: a savepoint, rolled back on the unique key."""
    try:
        with conn.begin_nested():
            conn.execute(table.insert().values(**values))
        return True
    except IntegrityError:
        return False


# ----------------------------------------------------------------------------- instructor
def job_state(conn: sa.Connection, key: JobKey) -> str | None:
    row = conn.execute(sa.select(JOBS.c.state).where(key.where(JOBS))).first()
    return row[0] if row else None


def stored_result(conn: sa.Connection, key: JobKey) -> dict | None:
    row = conn.execute(sa.select(RESULTS.c.result).where(key.where(RESULTS))).first()
    return json.loads(row[0]) if row else None


def mark_queued(conn: sa.Connection, key: JobKey, assignment: str) -> None:
    """The instructor queues it (again): any earlier result of this key is dropped."""
    conn.execute(RESULTS.delete().where(key.where(RESULTS)))
    now = time.time()
    if not insert_ignoring_duplicates(conn, JOBS, dict(
            key.values(), assignment=assignment, state="queued", sends=1, deliveries=0,
            updated_at=now)):
        conn.execute(JOBS.update().where(key.where(JOBS)).values(
            state="queued", sends=JOBS.c.sends + 1, deliveries=0, updated_at=now))


def new_results(conn: sa.Connection, after_id: int) -> list[tuple[int, JobKey]]:
    """(id, key) of every result stored after ``after_id``, oldest first (no blobs)."""
    rows = conn.execute(sa.select(RESULTS.c.id, *(RESULTS.c[n] for n in KEY))
                        .where(RESULTS.c.id > after_id).order_by(RESULTS.c.id))
    return [(row[0], JobKey(*row[1:])) for row in rows]


def last_result_id(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.max(RESULTS.c.id))).scalar_one() or 0


def results_of_students(conn: sa.Connection, students: list[str]) -> list[tuple[int, JobKey]]:
    rows = conn.execute(sa.select(RESULTS.c.id, *(RESULTS.c[n] for n in KEY))
                        .where(RESULTS.c.student.in_(students)))
    return [(row[0], JobKey(*row[1:])) for row in rows]


def result_and_notebook(conn: sa.Connection, key: JobKey) -> tuple[dict, str | None]:
    row = conn.execute(sa.select(RESULTS.c.result, RESULTS.c.graded_notebook)
                       .where(key.where(RESULTS))).one()
    return json.loads(row[0]), row[1]


def counts(conn: sa.Connection) -> dict[JobKey, tuple[int, int]]:
    """{key: (sends, deliveries)} of every job (what the tests check)."""
    rows = conn.execute(sa.select(*(JOBS.c[n] for n in KEY), JOBS.c.sends,
                                  JOBS.c.deliveries))
    return {JobKey(*row[:3]): (row[3], row[4]) for row in rows}


# ----------------------------------------------------------------------------- worker
def has_result(engine: sa.Engine, key: JobKey) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(RESULTS.c.id).where(key.where(RESULTS))).first() \
            is not None


def start(engine: sa.Engine, key: JobKey, assignment: str, worker: str) -> int:
    """A worker starts the job: count this delivery; returns the count, this one
    included (a job queued by an instructor who died before committing gets its row)."""
    with engine.begin() as conn:
        insert_ignoring_duplicates(conn, JOBS, dict(
            key.values(), assignment=assignment, state="queued", sends=1, deliveries=0,
            updated_at=time.time()))
        conn.execute(JOBS.update().where(key.where(JOBS)).values(
            state="running", deliveries=JOBS.c.deliveries + 1, worker=worker,
            updated_at=time.time()))
        return conn.execute(sa.select(JOBS.c.deliveries).where(key.where(JOBS))).scalar_one()


def store(engine: sa.Engine, key: JobKey, assignment: str, result: dict,
          graded_notebook: str | None, worker: str) -> bool:
    """The result and the job's end in one transaction; False when a result of the
    same key was there already (a task delivered twice writes one row)."""
    with engine.begin() as conn:
        written = insert_ignoring_duplicates(conn, RESULTS, dict(
            key.values(), assignment=assignment, result=json.dumps(result),
            graded_notebook=graded_notebook, worker=worker, created_at=time.time()))
        conn.execute(JOBS.update().where(key.where(JOBS)).values(
            state="done", updated_at=time.time()))
    return written
