"""``status``: the task queue's state, read from its database.

Per assignment, how many jobs are queued, running, done (graded), failed (the grader's
verdict: the notebook could not be graded) and dead letters (the queue gave up: a
submission that stopped its grading process twice, a value the database refused);
then each worker with its state and, for one that stopped itself, why. With
``--dead-letters``, each dead letter: whose, and why (``grade --retry-dead`` queues
them again).
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from tabulate import tabulate

from autograder.errors import UsageError
from autograder.queue import tables
from autograder.queue.settings import shown

COLUMNS = ("queued", "running", "done", "failed", "dead")


def print_status(db: str, list_dead: bool = False, out=None) -> int:
    try:
        engine = tables.connect(db)
    except sa.exc.SQLAlchemyError as error:
        raise UsageError(f"database {shown(db)}: {tables.first_line(error)}") from None
    try:
        with engine.connect() as conn:
            counts = tables.status_counts(conn)
            workers = tables.workers(conn)
            dead = tables.dead_letters(conn) if list_dead else []
    finally:
        engine.dispose()
    rows = [(name, *(by[c] for c in COLUMNS)) for name, by in sorted(counts.items())]
    if len(rows) > 1:
        rows.append(("all", *(sum(by[c] for by in counts.values()) for c in COLUMNS)))
    print(tabulate(rows, headers=("assignment", *COLUMNS[:-1], "dead letter"),
                   tablefmt="plain") if rows else "no jobs", file=out)
    print(f"\n{len(workers)} worker(s)" + (":" if workers else ""), file=out)
    for name, state, reason, fingerprint, started, _updated in workers:
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
        line = f"  {name}  {state} (started {since}, fingerprint {fingerprint[:12] or '?'})"
        print(line + (f": {reason}" if reason and state != "running" else ""), file=out)
    if list_dead:
        print(f"\n{len(dead)} dead letter(s)" + (":" if dead else ""), file=out)
        for assignment, student, reason, worker in dead:
            print(f"  {assignment}/{student}: {reason} ({worker})", file=out)
        if dead:
            print("python -m autograder grade ASSIGNMENT --broker ... --db ... "
                  "--retry-dead queues them again", file=out)
    return 0
