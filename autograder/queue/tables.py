"""The task queue's tables, beside nbgrader's in the gradebook database (``--db``).

- ``autograder_submissions``: each submitted notebook's bytes, once, keyed by their
  sha256 (a message carries the key, never the bytes).
- ``autograder_jobs``: one row per submission to grade, keyed by (student, submission
  sha256, grader fingerprint). ``state`` is queued, running, done or dead (a dead
  letter: the queue gave up on it, ``reason`` says why). ``generation`` grows each
  time the instructor queues it; a message carries the generation it was sent for,
  so a message left over from an earlier send is recognised and dropped. ``published``
  turns true once its message is on the broker; ``sends``, ``deliveries``,
  ``retries`` (a delivery that found the previous one unfinished: a worker stopped,
  evicted or cut off) and ``kills`` (its grading process died under a running
  worker) count what happened.
- ``autograder_results``: at most one result per key, of the generation it grades.
- ``autograder_workers``: each worker, its fingerprint, and why it stopped.

Workers write here and nowhere else; the instructor's ``grade`` reads the results and
records them in nbgrader's tables itself. SQLAlchemy Core only; PostgreSQL is what a
class of thousands uses, SQLite what the tests without servers use.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import sqlalchemy as sa

from autograder.errors import UsageError
from autograder.grading.result import Result
from autograder.queue.storage import compress_with_lz4, engine_options

METADATA = sa.MetaData()
KEY = ("student", "submission_sha256", "grader_sha256")
STATES = ("queued", "running", "done", "dead")
CREATE_LOCK = 7_251_601  # a PostgreSQL advisory lock held while the tables are created


def _key_columns() -> list[sa.Column]:
    return [sa.Column("student", sa.String(255), nullable=False),
            sa.Column("submission_sha256", sa.String(64), nullable=False),
            sa.Column("grader_sha256", sa.String(64), nullable=False)]


SUBMISSIONS = sa.Table(
    "autograder_submissions", METADATA,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("notebook", sa.LargeBinary, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False))

JOBS = sa.Table(
    "autograder_jobs", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *_key_columns(),
    sa.Column("assignment", sa.String(255), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False, default=1),
    sa.Column("published", sa.Boolean, nullable=False, default=False),
    sa.Column("notebook_sha256", sa.String(64)),  # None: no notebook was handed in
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("sends", sa.Integer, nullable=False, default=1),
    sa.Column("deliveries", sa.Integer, nullable=False, default=0),
    sa.Column("retries", sa.Integer, nullable=False, default=0),
    sa.Column("kills", sa.Integer, nullable=False, default=0),
    sa.Column("worker", sa.String(255)),
    sa.Column("reason", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint(*KEY, name="autograder_jobs_key"))

RESULTS = sa.Table(
    "autograder_results", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *_key_columns(),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("assignment", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("final", sa.Boolean, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("graded_notebook", sa.Text),
    sa.Column("worker", sa.String(255)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint(*KEY, name="autograder_results_key"))

WORKERS = sa.Table(
    "autograder_workers", METADATA,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("sandboxed", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # running, stopped, refused
    sa.Column("reason", sa.Text),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False))


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
    """An engine on the database, with the tables created if missing. Connections are
    tested before use (``pool_pre_ping``), so a database restarted meanwhile costs a
    reconnection, not an error."""
    url = database_url(url)
    engine = sa.create_engine(url, pool_pre_ping=True, **engine_options(url))
    with engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:  # workers starting together create once
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                         {"key": CREATE_LOCK})
        new = set(METADATA.tables) - set(sa.inspect(conn).get_table_names())
        METADATA.create_all(conn, checkfirst=True)
        if postgres:
            compress_with_lz4(conn, new)
    _refuse_old_tables(engine)
    return engine


def _refuse_old_tables(engine: sa.Engine) -> None:
    """Tables of an earlier version of the queue lack columns: say so in one line."""
    inspector = sa.inspect(engine)
    for table in METADATA.sorted_tables:
        have = {column["name"] for column in inspector.get_columns(table.name)}
        missing = [column.name for column in table.columns if column.name not in have]
        if missing:
            raise UsageError(
                f"the database's table {table.name} is an earlier version's (no "
                f"{', '.join(missing)}): drop the autograder_* tables (nbgrader's "
                "are not touched) and grade again")


OUT_OF_REACH = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError,
                sa.exc.TimeoutError)


def out_of_reach(error: BaseException) -> bool:
    """Whether a database error means the database could not be reached (a restart, a
    network cut, a full connection pool): worth trying again, unlike a value the
    database refuses (``sqlalchemy.exc.DataError`` and the like)."""
    return isinstance(error, OUT_OF_REACH) or bool(
        getattr(error, "connection_invalidated", False))


def first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def insert_statement(conn: sa.Connection, table: sa.Table):
    """INSERT with ``on_conflict_do_nothing`` and ``on_conflict_do_update``."""
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        return __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"]).insert(table)
    raise UsageError(f"the task queue needs PostgreSQL (or SQLite for a test), not {dialect}")


# ----------------------------------------------------------------------------- instructor
@dataclass
class Job:
    """What the instructor's side knows of one job before queueing it."""

    id: int
    state: str
    generation: int
    published: bool
    result: Result | None


def jobs_of(conn: sa.Connection, keys: list[JobKey]) -> dict[JobKey, Job]:
    """The jobs of ``keys`` that exist, with their stored result of the current
    generation (no notebooks), in two queries."""
    if not keys:
        return {}
    wanted = set(keys)
    students = sorted({key.student for key in keys})
    rows = conn.execute(sa.select(JOBS.c.id, *(JOBS.c[n] for n in KEY), JOBS.c.state,
                                  JOBS.c.generation, JOBS.c.published)
                        .where(JOBS.c.student.in_(students))).all()
    jobs = {}
    for row in rows:
        key = JobKey(*row[1:4])
        if key in wanted:
            jobs[key] = Job(row[0], row[4], row[5], row[6], None)
    results = conn.execute(sa.select(*(RESULTS.c[n] for n in KEY), RESULTS.c.generation,
                                     RESULTS.c.result)
                           .where(RESULTS.c.student.in_(students))).all()
    for row in results:
        job = jobs.get(JobKey(*row[:3]))
        if job is not None and row[3] == job.generation:
            job.result = Result.from_json(json.loads(row[4]))
    return jobs


def store_notebooks(conn: sa.Connection, notebooks: dict[str, bytes]) -> None:
    """Each notebook's bytes once (a notebook already stored is not sent again)."""
    if not notebooks:
        return
    have = set(conn.execute(sa.select(SUBMISSIONS.c.sha256)
                            .where(SUBMISSIONS.c.sha256.in_(list(notebooks)))).scalars())
    now = time.time()
    rows = [dict(sha256=sha, notebook=data, size=len(data), created_at=now)
            for sha, data in notebooks.items() if sha not in have]
    if rows:
        conn.execute(insert_statement(conn, SUBMISSIONS).on_conflict_do_nothing(), rows)


@dataclass(frozen=True)
class Queued:
    """A job as queued (committed) by the instructor: what its message carries."""

    job: int
    generation: int
    key: JobKey
    assignment: str
    notebook_sha256: str | None
    filename: str


def queue_jobs(conn: sa.Connection, new: list[Queued], existing: dict[JobKey, Job]
               ) -> list[Queued]:
    """Queue jobs (again): a new generation for each, not yet published, its earlier
    result dropped. ``new`` have job 0 and generation 0; returns them as stored."""
    now = time.time()
    fresh = [q for q in new if q.key not in existing]
    if fresh:
        conn.execute(insert_statement(conn, JOBS).on_conflict_do_nothing(), [
            dict(q.key.values(), assignment=q.assignment, state="queued", generation=0,
                 published=False, notebook_sha256=q.notebook_sha256, filename=q.filename,
                 sends=0, deliveries=0, retries=0, kills=0, updated_at=now)
            for q in fresh])
    ids = _job_ids(conn, [q.key for q in new])
    bump = JOBS.update().where(JOBS.c.id == sa.bindparam("job_id")).values(
        state="queued", generation=JOBS.c.generation + 1, published=False,
        notebook_sha256=sa.bindparam("sha"), filename=sa.bindparam("name"),
        sends=JOBS.c.sends + 1, deliveries=0, retries=0, kills=0, reason=None,
        updated_at=now)
    conn.execute(bump, [dict(job_id=ids[q.key], sha=q.notebook_sha256, name=q.filename)
                        for q in new])
    students = sorted({q.key.student for q in new})
    wanted = set(ids)
    stale = [row[0] for row in conn.execute(
        sa.select(RESULTS.c.id, *(RESULTS.c[n] for n in KEY))
        .where(RESULTS.c.student.in_(students))) if JobKey(*row[1:]) in wanted]
    if stale:
        conn.execute(RESULTS.delete().where(RESULTS.c.id.in_(stale)))
    generations = dict(conn.execute(sa.select(JOBS.c.id, JOBS.c.generation)
                                    .where(JOBS.c.id.in_(list(ids.values())))).all())
    return [Queued(ids[q.key], generations[ids[q.key]], q.key, q.assignment,
                   q.notebook_sha256, q.filename) for q in new]


def _job_ids(conn: sa.Connection, keys: list[JobKey]) -> dict[JobKey, int]:
    wanted = set(keys)
    rows = conn.execute(sa.select(JOBS.c.id, *(JOBS.c[n] for n in KEY))
                        .where(JOBS.c.student.in_(sorted({k.student for k in keys}))))
    return {JobKey(*row[1:]): row[0] for row in rows if JobKey(*row[1:]) in wanted}


def mark_published(conn: sa.Connection, queued: list[Queued]) -> None:
    """Their messages are on the broker (of the generation each was sent for)."""
    conn.execute(JOBS.update().where(sa.and_(JOBS.c.id == sa.bindparam("job_id"),
                                             JOBS.c.generation == sa.bindparam("gen")))
                 .values(published=True),
                 [dict(job_id=q.job, gen=q.generation) for q in queued])


def new_results(conn: sa.Connection, after_id: int, limit: int = 2000
                ) -> list[tuple[int, JobKey, int]]:
    """(id, key, generation) of results stored after ``after_id``, oldest first."""
    rows = conn.execute(sa.select(RESULTS.c.id, *(RESULTS.c[n] for n in KEY),
                                  RESULTS.c.generation)
                        .where(RESULTS.c.id > after_id).order_by(RESULTS.c.id).limit(limit))
    return [(row[0], JobKey(*row[1:4]), row[4]) for row in rows]


def last_result_id(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.max(RESULTS.c.id))).scalar_one() or 0


def results_of_students(conn: sa.Connection, students: list[str]
                        ) -> list[tuple[int, JobKey, int]]:
    rows = conn.execute(sa.select(RESULTS.c.id, *(RESULTS.c[n] for n in KEY),
                                  RESULTS.c.generation)
                        .where(RESULTS.c.student.in_(students)))
    return [(row[0], JobKey(*row[1:4]), row[4]) for row in rows]


def dead_jobs_of_students(conn: sa.Connection, students: list[str]
                          ) -> list[tuple[JobKey, int, str]]:
    """(key, generation, reason) of dead jobs without a result row (the database
    refused even the failure)."""
    stored = sa.select(RESULTS.c.id).where(sa.and_(
        *(RESULTS.c[n] == JOBS.c[n] for n in KEY))).exists()
    rows = conn.execute(sa.select(*(JOBS.c[n] for n in KEY), JOBS.c.generation,
                                  JOBS.c.reason)
                        .where(JOBS.c.student.in_(students), JOBS.c.state == "dead",
                               ~stored))
    return [(JobKey(*row[:3]), row[3], row[4] or "") for row in rows]


def results_by_id(conn: sa.Connection, ids: list[int]
                  ) -> dict[int, tuple[Result, str | None]]:
    rows = conn.execute(sa.select(RESULTS.c.id, RESULTS.c.result, RESULTS.c.graded_notebook)
                        .where(RESULTS.c.id.in_(ids)))
    return {row[0]: (Result.from_json(json.loads(row[1])), row[2]) for row in rows}


def forget_graded_notebooks(conn: sa.Connection, ids: list[int] | None = None,
                            older_than: float | None = None) -> int:
    """Drop graded notebooks from the database (the instructor's copy in
    ``autograded/`` stays): of results ``ids``, or of results older than a time."""
    where = [RESULTS.c.graded_notebook.is_not(None)]
    if ids is not None:
        where.append(RESULTS.c.id.in_(ids))
    if older_than is not None:
        where.append(RESULTS.c.created_at < older_than)
    return conn.execute(RESULTS.update().where(*where).values(graded_notebook=None)
                        ).rowcount


def forget_notebooks(conn: sa.Connection, older_than: float) -> int:
    """Submitted notebooks no queued or running job needs, stored before a time."""
    needed = sa.select(JOBS.c.id).where(JOBS.c.notebook_sha256 == SUBMISSIONS.c.sha256,
                                        JOBS.c.state.in_(("queued", "running"))).exists()
    return conn.execute(SUBMISSIONS.delete().where(SUBMISSIONS.c.created_at < older_than,
                                                   ~needed)).rowcount


def dead_letters(conn: sa.Connection, assignment: str | None = None
                 ) -> list[tuple[str, str, str, str]]:
    """(assignment, student, reason, worker) of every dead job, by assignment and
    student."""
    query = sa.select(JOBS.c.assignment, JOBS.c.student, JOBS.c.reason, JOBS.c.worker) \
        .where(JOBS.c.state == "dead").order_by(JOBS.c.assignment, JOBS.c.student)
    if assignment:
        query = query.where(JOBS.c.assignment == assignment)
    return [(a, s, r or "", w or "") for a, s, r, w in conn.execute(query)]


def status_counts(conn: sa.Connection) -> dict[str, dict[str, int]]:
    """{assignment: {queued, running, done, failed, dead}}: a job is done or failed by
    its result's status (failed: the grader could not grade the notebook itself)."""
    stored = sa.select(RESULTS.c.status).where(sa.and_(
        *(RESULTS.c[n] == JOBS.c[n] for n in KEY)),
        RESULTS.c.generation == JOBS.c.generation).scalar_subquery()
    rows = conn.execute(sa.select(JOBS.c.assignment, JOBS.c.state, stored.label("status"),
                                  sa.func.count())
                        .group_by(JOBS.c.assignment, JOBS.c.state, "status"))
    out: dict[str, dict[str, int]] = {}
    for assignment, state, status, n in rows:
        counts = out.setdefault(assignment, dict.fromkeys(
            ("queued", "running", "done", "failed", "dead"), 0))
        if state == "done":
            state = "failed" if status == "failed" else "done"
        counts[state] += n
    return out


def workers(conn: sa.Connection) -> list[tuple]:
    """(name, state, reason, fingerprint, started_at, updated_at) of every worker."""
    return [tuple(row) for row in conn.execute(
        sa.select(WORKERS.c.name, WORKERS.c.state, WORKERS.c.reason, WORKERS.c.fingerprint,
                  WORKERS.c.started_at, WORKERS.c.updated_at).order_by(WORKERS.c.name))]


def counts(conn: sa.Connection) -> dict[JobKey, tuple[int, int]]:
    """{key: (sends, deliveries)} of every job (what the tests check)."""
    rows = conn.execute(sa.select(*(JOBS.c[n] for n in KEY), JOBS.c.sends,
                                  JOBS.c.deliveries))
    return {JobKey(*row[:3]): (row[3], row[4]) for row in rows}
