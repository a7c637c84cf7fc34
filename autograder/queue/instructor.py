"""The instructor's side of grading through a task queue: ``grade --broker URL --db URL``.

``QueuePool`` has the local pool's interface (``start``, ``run``, ``shutdown``), so
``commands.grade.run_pool`` drives it unchanged: the same progress bar and ETA, and each
result goes through the same ``save_result`` and gradebook recording as it arrives.

``run`` works in batches of ``BATCH`` submissions. For each batch, in one transaction:
which jobs need sending (``needs_sending``: new, changed, ``--force``, a failure that was
not the student's doing, ``--requeue``, ``--retry-dead``), their notebooks stored once
(``autograder_submissions``; over the size cap a notebook is failed here, never sent),
and their jobs queued with a new generation. Only after that commit are the messages
published (a worker can never see a job older than its message), then marked published
(a crash in between leaves unpublished jobs, which the next run sends). Then it collects
the results of the generations it waits for, a page at a time, and hands each to
``on_result``.

Stopping ``grade`` (Ctrl-C, a closed terminal) stops nothing on the workers: a rerun
queues nothing twice and collects every result stored meanwhile. A database out of
reach (a restart) makes it wait and try again, up to ``DB_PATIENCE``. After a broker
lost its messages (flushed, a new Redis without persistence) ``--requeue`` queues again
what is queued or running.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import sqlalchemy as sa

from autograder.errors import UsageError
from autograder.grading.result import Result
from autograder.grading.run import Run, Submission
from autograder.notebook import intake
from autograder.queue import tables, worker
from autograder.queue.message import Message
from autograder.queue.settings import shown
from autograder.queue.tables import Job, JobKey, Queued
from autograder.sandbox.limits import Limits
from autograder.workspace import Writes

BATCH = 500  # submissions per transaction and per page of results
SWEEP_EVERY = 20.0  # seconds between full sweeps (rows committed out of id order)
DB_PATIENCE = 600.0  # seconds the database may stay out of reach before grade gives up
DAY = 86400.0


@dataclass
class QueueConfig:
    broker: str
    db: str
    run: Run  # limits and kernels asked for (the workers own the sandbox and checks)
    backstop: float  # a message's hard time limit on the worker
    keys: dict[str, JobKey]  # submission id -> key
    force: bool = False
    requeue: bool = False
    retry_dead: bool = False
    keep_graded_days: float = 0.0  # graded notebooks in the database after collection
    poll_every: float = 0.5
    err: object = field(default=sys.stderr)


def needs_sending(job: Job | None, force: bool, requeue: bool, retry_dead: bool = False
                  ) -> bool:
    """Whether to put a submission on the queue, from its job."""
    if job is None or force:
        return True
    if job.state == "done":  # a non-final failure (not the student's doing) goes again
        return job.result is None or not job.result.final
    if job.state == "dead":
        return retry_dead
    return requeue or not job.published  # queued or running: the broker has it


def limits_problem(limits: Limits) -> str | None:
    """Workers grade within their maxima (the default limits): a larger limit asked
    for here would be refused by every worker."""
    default = Limits()
    over = [f"--{name.replace('_', '-').replace('-bytes', '-gb')} "
            f"(at most {getattr(default, name) / (2**30 if name == 'memory_bytes' else 1):g})"
            for name in ("cell_timeout", "notebook_timeout", "memory_bytes")
            if getattr(limits, name) > getattr(default, name)]
    if over:
        return (f"the queue's workers grade within their own maximum limits: "
                f"{', '.join(over)}")
    return None


@dataclass
class Delivery:
    """Where collected results go: ``on_result`` takes each, ``tick`` shows progress,
    ``saved()`` returns once what ``on_result`` took is saved, ``writes`` writes the
    graded notebooks."""
    on_result: Callable[[Submission, Result], None]
    tick: Callable[[], None]
    saved: Callable[[], None]
    writes: Writes


class QueuePool:
    def __init__(self, config: QueueConfig):
        self.config = config
        self._outage: float | None = None  # when the database went out of reach

    def start(self, n: int) -> None:
        """Nothing to start here: the workers run on their own machines."""

    def shutdown(self, kill: bool = False) -> None:
        """Queued work goes on in the workers; a rerun collects it."""

    def run(self, tasks: list[Submission], on_result: Callable[[Submission, Result], None],
            tick: Callable[[], None] = lambda: None,
            saved: Callable[[], None] = lambda: None) -> None:
        """Queue ``tasks`` and hand each result to ``on_result``; ``saved()`` returns
        once what ``on_result`` was handed is saved (the graded notebooks of those
        results are then forgotten in the database)."""
        try:
            engine = tables.connect(self.config.db)
        except sa.exc.SQLAlchemyError as error:
            raise UsageError(f"--db {shown(self.config.db)}: "
                             f"{tables.first_line(error)}") from None
        try:
            self._forget_old(engine)
            with engine.connect() as conn:  # results stored from now on: the first page
                after = tables.last_result_id(conn)
            pending: dict[JobKey, tuple[Submission, int]] = {}
            started = time.monotonic()
            sent = self._queue(engine, tasks, pending, on_result, tick)
            print(f"queued {sent} on {shown(self.config.broker)} "
                  f"({len(pending) - sent} queued, running or graded already) in "
                  f"{time.monotonic() - started:.1f} s", file=self.config.err)
            started, waiting = time.monotonic(), len(pending)
            with Writes() as writes:
                self._collect(engine, pending, after,
                              Delivery(on_result, tick, saved, writes))
            print(f"collected {waiting} results in {time.monotonic() - started:.1f} s",
                  file=self.config.err)
        finally:
            engine.dispose()

    # ------------------------------------------------------------------------- database
    def _patiently(self, work):
        """``work()``, tried again while the database is out of reach (a restart), for
        up to ``DB_PATIENCE`` in all; a refusal or a longer outage propagates."""
        pause = 1.0
        while True:
            try:
                value = work()
                if self._outage is not None:
                    print(f"the database is back after {time.monotonic() - self._outage:.0f}"
                          " s", file=self.config.err)
                    self._outage = None
                return value
            except sa.exc.SQLAlchemyError as error:
                if not tables.out_of_reach(error):
                    raise
                now = time.monotonic()
                if self._outage is None:
                    self._outage = now
                    print(f"the database {shown(self.config.db)} is out of reach "
                          f"({tables.first_line(error)}); waiting for it",
                          file=self.config.err)
                if now - self._outage > DB_PATIENCE:
                    raise UsageError(f"the database {shown(self.config.db)} has been out "
                                     f"of reach for {DB_PATIENCE:g} s: run grade again "
                                     "once it is back") from None
                time.sleep(pause)
                pause = min(pause * 2, 15.0)

    def _forget_old(self, engine) -> None:
        """Graded and submitted notebooks older than the instructor keeps them."""
        if self.config.keep_graded_days > 0:
            before = time.time() - self.config.keep_graded_days * DAY
            with engine.begin() as conn:
                tables.forget_graded_notebooks(conn, older_than=before)
                tables.forget_notebooks(conn, older_than=before)

    # ------------------------------------------------------------------------- queueing
    def _queue(self, engine, tasks: list[Submission], pending: dict, on_result, tick) -> int:
        """Queue ``tasks`` in batches; fill ``pending`` with what to wait for."""
        from kombu.exceptions import BatchPublishError, OperationalError

        app = worker.make_app(self.config.broker)
        sent = 0
        try:
            with app.producer_or_acquire() as producer:
                for start in range(0, len(tasks), BATCH):
                    wanted, notebooks = self._read(tasks[start:start + BATCH], on_result)
                    queued = self._queue_or_refuse(engine, wanted, notebooks, pending,
                                                   on_result)
                    # the batch's messages (and their task-sent events) in one round
                    # trip: a Redis pipeline, sent when the block ends (other brokers
                    # publish each at once). A failure leaves the batch's jobs
                    # unpublished: the next run sends them again (with a new generation:
                    # a copy that got through is dropped as stale)
                    with producer.batch(max_size=2 * BATCH):
                        for item, _ in queued:
                            app.send_task(worker.TASK_NAME, producer=producer,
                                          queue=worker.QUEUE,
                                          time_limit=self.config.backstop,
                                          kwargs=Message.of(item, self.config.run.limits,
                                                            self.config.run.fresh_kernels)
                                          .to_json())
                    for item, task in queued:
                        pending[item.key] = (task, item.generation)
                    self._patiently(lambda queued=queued: _mark_published(
                        engine, [item for item, _ in queued]))
                    sent += len(queued)
                    tick()
        except (OperationalError, BatchPublishError) as error:
            raise UsageError(f"--broker {shown(self.config.broker)}: {error}") from None
        return sent

    def _read(self, batch: list[Submission], on_result):
        """([(submission, key, notebook sha256 or None)], {sha256: bytes}); a notebook
        over the size cap (or a link, or empty) is failed here and never sent."""
        notebooks: dict[str, bytes] = {}
        wanted = []
        for task in batch:
            key = self.config.keys[task.id]
            if not task.notebook.exists() and not task.notebook.is_symlink():
                wanted.append((task, key, None))  # the worker says it is missing
                continue
            try:
                data = intake.read_capped(task.notebook)
            except intake.Rejected as refused:
                on_result(task, Result.failure(refused.reason))
                continue
            sha = hashlib.sha256(data).hexdigest()
            notebooks[sha] = data
            wanted.append((task, key, sha))
        return wanted, notebooks

    def _queue_or_refuse(self, engine, wanted, notebooks, pending, on_result):
        """The batch queued in one transaction; when the database refuses a value in
        it, each submission alone, and those it refuses fail with its reason."""
        try:
            return self._patiently(lambda: self._queue_batch(engine, wanted, notebooks,
                                                             pending))
        except sa.exc.SQLAlchemyError:
            if len(wanted) == 1:
                raise
        queued = []
        for one in wanted:
            try:
                queued += self._queue_or_refuse(engine, [one], notebooks, pending,
                                                on_result)
            except sa.exc.SQLAlchemyError as error:
                on_result(one[0], Result.failure(
                    f"the database refused this submission: {tables.first_line(error)}"))
        return queued

    def _queue_batch(self, engine, wanted, notebooks: dict[str, bytes], pending: dict
                     ) -> list[tuple[Queued, Submission]]:
        """One transaction: the jobs that need sending, queued (committed) with their
        notebooks; the others go to ``pending`` as they are."""
        with engine.begin() as conn:
            jobs = tables.jobs_of(conn, [key for _, key, _ in wanted])
            new, by_key, needed = [], {}, {}
            for task, key, sha in wanted:
                job = jobs.get(key)
                if needs_sending(job, self.config.force, self.config.requeue,
                                 self.config.retry_dead):
                    new.append(Queued(0, 0, key, task.assignment, sha, task.notebook.name))
                    by_key[key] = task
                    if sha:
                        needed[sha] = notebooks[sha]
                else:
                    pending[key] = (task, job.generation)
            tables.store_notebooks(conn, needed)
            queued = tables.queue_jobs(conn, new, jobs) if new else []
        return [(item, by_key[item.key]) for item in queued]

    # ------------------------------------------------------------------------- collecting
    def _collect(self, engine, pending: dict, after: int, delivery: Delivery) -> None:
        """Hand each stored result of the generation we wait for to ``on_result``."""
        swept, heard, warned = 0.0, time.monotonic(), False
        while pending:
            now = time.monotonic()
            sweep = now - swept >= SWEEP_EVERY
            found, after, dead = self._patiently(partial(self._page, engine, pending,
                                                         after, sweep))
            swept = now if sweep else swept
            if found or dead:
                heard = now
                self._patiently(partial(self._deliver, engine, pending, (found, dead),
                                        delivery))
            if not warned and now - heard > self.config.backstop:
                warned = True
                print(f"no result for {now - heard:.0f} s: is a worker running (python -m "
                      "autograder worker; python -m autograder status shows the jobs)?",
                      file=self.config.err)
            delivery.tick()
            if pending and len(found) < BATCH:
                time.sleep(self.config.poll_every)

    def _page(self, engine, pending: dict, after: int, sweep: bool):
        """(result ids of ours, the last id seen, dead jobs of ours without a result)."""
        with engine.connect() as conn:
            rows = tables.new_results(conn, after, BATCH)
            last = max([after] + [row[0] for row in rows])
            dead = []
            if sweep:  # every stored result of a pending key (ids commit out of order)
                students = sorted({key.student for key in pending})
                for start in range(0, len(students), BATCH):
                    part = students[start:start + BATCH]
                    rows += tables.results_of_students(conn, part)
                    dead += tables.dead_jobs_of_students(conn, part)
        ours = {row_id: key for row_id, key, generation in rows
                if key in pending and generation >= pending[key][1]}
        dead = [(key, reason) for key, generation, reason in dead
                if key in pending and generation >= pending[key][1]]
        return ours, last, dead

    def _deliver(self, engine, pending: dict, page, delivery: Delivery) -> None:
        """Each result of ``page`` (ours, dead jobs without a result) to ``on_result``,
        ``BATCH`` at a time (a sweep may find thousands)."""
        found, dead = page
        ids = sorted(found)
        for start in range(0, len(ids), BATCH):
            batch = {row_id: found[row_id] for row_id in ids[start:start + BATCH]}
            self._deliver_batch(engine, pending, batch, delivery)
        for key, reason in dead:
            entry = pending.pop(key, None)
            if entry is not None:
                delivery.on_result(entry[0], Result.failure(reason))
        delivery.saved()

    def _deliver_batch(self, engine, pending: dict, found: dict, delivery: Delivery
                       ) -> None:
        """Results ``found`` ({row id: key}) to ``on_result``, once their graded
        notebooks are written; then forgotten in the database, once saved."""
        with engine.connect() as conn:
            rows = tables.results_by_id(conn, list(found))
        ours = []
        for row_id, (result, notebook) in sorted(rows.items()):
            entry = pending.get(found[row_id])
            if entry is None:
                continue
            task = entry[0]
            if task.graded:
                if notebook is None:
                    task.graded.unlink(missing_ok=True)
                else:
                    delivery.writes.write(task.graded, notebook)  # the batch's together
            ours.append((found[row_id], task, result))
        delivery.writes.wait()
        for key, task, result in ours:
            pending.pop(key, None)
            delivery.on_result(task, result)
        delivery.saved()  # the results are saved: their graded notebooks may go
        if rows and self.config.keep_graded_days <= 0:  # kept in autograded/ only
            with engine.begin() as conn:
                tables.forget_graded_notebooks(conn, ids=list(rows))


def _mark_published(engine, queued: list[Queued]) -> None:
    if queued:
        with engine.begin() as conn:
            tables.mark_published(conn, queued)
