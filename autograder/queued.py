"""The instructor's side of grading through a task queue: ``grade --broker URL --db URL``.

``QueuePool`` has the local pool's interface (``start``, ``run``, ``shutdown``), so
``grading.run_pool`` drives it unchanged: the same progress bar and ETA, and each
result goes through the same ``save_result`` and ``gradebook.record`` (one transaction
per submission; manual grades never overwritten) as it arrives.

``run`` queues one message per submission (``taskqueue.message``) unless the jobs
table says it is queued, running or graded already with the same inputs, then polls
the results table that the workers fill (``jobstore``). Stopping ``grade`` (Ctrl-C,
a closed terminal) stops nothing on the workers: a rerun queues nothing twice and
collects every result stored meanwhile. After a broker lost its messages (flushed, a
new Redis without persistence) ``--requeue`` queues again what is queued or running.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from autograder import jobstore, taskqueue
from autograder.errors import UsageError
from autograder.scheduler import Task
from autograder.workspace import atomic_write_text

SWEEP_EVERY = 20.0  # seconds between full sweeps (rows committed out of id order)


@dataclass
class QueueConfig:
    broker: str
    db: str
    spec: dict  # what the local pool's workers get: assignments, limits, sandbox
    backstop: float  # a message's hard time limit on the worker
    keys: dict[str, jobstore.JobKey]  # task id -> key
    force: bool = False
    requeue: bool = False
    poll_every: float = 0.5
    err: object = field(default=sys.stderr)


def shown(url: str) -> str:
    """A broker or database URL with its password masked, for messages."""
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)


def needs_sending(state: str | None, result: dict | None, force: bool,
                  requeue: bool) -> bool:
    """Whether to put a submission on the queue, from its job's state."""
    if state is None or force:
        return True
    if state == "done":  # a non-final failure (a worker's fault) is graded again
        return result is None or not result.get("final", True)
    return requeue  # queued or running: the broker has it


class QueuePool:
    def __init__(self, config: QueueConfig):
        self.config = config

    def start(self, n: int) -> None:
        """Nothing to start here: the workers run on their own machines."""

    def shutdown(self, kill: bool = False) -> None:
        """Queued work goes on in the workers; a rerun collects it."""

    def run(self, tasks: list[Task], on_result: Callable[[str, dict], None],
            tick: Callable[[], None] = lambda: None) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            engine = jobstore.connect(self.config.db)
        except SQLAlchemyError as error:
            raise UsageError(f"--db {shown(self.config.db)}: "
                             f"{str(error).splitlines()[0]}") from None
        try:
            sent = self._queue(engine, tasks)
            print(f"queued {sent} on {shown(self.config.broker)} "
                  f"({len(tasks) - sent} queued, running or graded already)",
                  file=self.config.err)
            self._collect(engine, {self.config.keys[t.id]: t for t in tasks}, on_result,
                          tick)
        finally:
            engine.dispose()

    def _queue(self, engine, tasks: list[Task]) -> int:
        """Send what needs sending; each job row commits after its message is sent, so
        a crash in between can only queue a message twice (harmless), never lose one."""
        from kombu.exceptions import OperationalError

        app = taskqueue.make_app(self.config.broker, self.config.db)
        sent = 0
        try:
            with app.producer_or_acquire() as producer:
                for task in tasks:
                    key = self.config.keys[task.id]
                    with engine.begin() as conn:
                        state = jobstore.job_state(conn, key)
                        result = jobstore.stored_result(conn, key) if state else None
                        if not needs_sending(state, result, self.config.force,
                                             self.config.requeue):
                            continue
                        jobstore.mark_queued(conn, key, task.assignment)
                        app.send_task(taskqueue.TASK_NAME, producer=producer,
                                      queue=taskqueue.QUEUE,
                                      time_limit=self.config.backstop,
                                      kwargs=self._message(task, key))
                    sent += 1
        except OperationalError as error:
            raise UsageError(f"--broker {shown(self.config.broker)}: {error}") from None
        return sent

    def _message(self, task: Task, key: jobstore.JobKey) -> dict:
        spec = dict(self.config.spec)  # limits, sandbox, kernels: as the local pool's
        spec["assignments"] = {task.assignment: spec["assignments"][task.assignment]}
        return taskqueue.message(key.student, task.assignment, Path(task.path),
                                 key.submission_sha256, key.grader_sha256, spec)

    def _collect(self, engine, pending: dict, on_result, tick) -> None:
        """Hand each stored result of ours to ``on_result`` as it appears."""
        with engine.connect() as conn:  # older rows: the first sweep finds ours
            after = jobstore.last_result_id(conn)
        swept, heard, warned = 0.0, time.monotonic(), False
        while pending:
            now = time.monotonic()
            with engine.connect() as conn:
                if now - swept >= SWEEP_EVERY:
                    found, swept = self._sweep(conn, pending), now
                else:
                    found = jobstore.new_results(conn, after)
                for row_id, key in found:
                    after = max(after, row_id)
                    task = pending.pop(key, None)
                    if task is not None:
                        heard = now
                        self._deliver(conn, key, task, on_result)
            if not warned and now - heard > self.config.backstop:
                warned = True
                print(f"no result for {now - heard:.0f} s: is a worker running "
                      f"(python -m autograder worker --broker {shown(self.config.broker)} "
                      "--db ...)?", file=self.config.err)
            tick()
            if pending:
                time.sleep(self.config.poll_every)

    def _sweep(self, conn, pending: dict) -> list[tuple[int, jobstore.JobKey]]:
        """Every stored result of a pending key (ids can commit out of order)."""
        found = []
        students = sorted({key.student for key in pending})
        for start in range(0, len(students), 500):
            found += jobstore.results_of_students(conn, students[start:start + 500])
        return [(row_id, key) for row_id, key in found if key in pending]

    def _deliver(self, conn, key, task: Task, on_result) -> None:
        result, notebook = jobstore.result_and_notebook(conn, key)
        if task.graded:
            graded = Path(task.graded)
            if notebook is None:
                graded.unlink(missing_ok=True)
            else:
                atomic_write_text(graded, notebook)
        on_result(task.id, result)
