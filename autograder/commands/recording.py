"""Results into nbgrader's gradebook in batches, and which are there already.

``grade`` saves each result as it arrives (``results/<assignment>/<student>.json``) and
hands it to a ``Recorder``, which writes the gradebook a batch at a time (``BATCH``
results, or whatever arrived in ``FLUSH_EVERY`` seconds) and then appends one line per
result to ``results/<assignment>/.recorded``: the student, which result (``stamp``)
and which gradebook. A later ``grade`` records only the saved results that this log
does not list (an interrupted run's last batch, another ``--db``), so a rerun of a class
of 50,000 does not write 50,000 unchanged results again.

A database out of reach while recording (a restart) is waited for, up to
``DB_PATIENCE``; the batch is then written again (recording is idempotent).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import sqlalchemy as sa

from autograder import gradebook as gbook
from autograder.errors import UsageError
from autograder.grading.result import Result
from autograder.queue.settings import shown
from autograder.queue.tables import first_line, out_of_reach
from autograder.workspace import results_dir

BATCH = 500
FLUSH_EVERY = 2.0  # seconds
DB_PATIENCE = 600.0
LOG = ".recorded"


def gradebook_tag(url: str) -> str:
    """A short name of a gradebook (its URL without password) for the log."""
    return hashlib.sha256(shown(url).encode()).hexdigest()[:12]


def stamp(result: Result) -> str:
    """What tells one saved result of a student from another."""
    return (f"{result.graded_at}/{(result.submission_sha256 or '')[:12]}/"
            f"{(result.grader_sha256 or '')[:12]}")


def recorded(workspace: Path, assignment: str, url: str) -> set[tuple[str, str]]:
    """(student, ``stamp``) of every result the log says is in this gradebook."""
    path = results_dir(workspace, assignment) / LOG
    tag, found = gradebook_tag(url), set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split("\t")
            if len(fields) == 3 and fields[2] == tag:
                found.add((fields[0], fields[1]))
    return found


class Recorder:
    """Writes results into the gradebook ``gb`` (opened at ``url``) in batches, per
    assignment; ``details(result)``: (its notebook's name, the submission's timestamp,
    the student's name)."""

    def __init__(self, gb, url: str, workspace: Path, details, err):
        self.gb, self.url, self.workspace = gb, url, workspace
        self.details, self.err = details, err
        self.tag = gradebook_tag(url)
        self.waiting: dict[str, list[Result]] = {}
        self.flushed = time.monotonic()

    def add(self, result: Result) -> None:
        self.waiting.setdefault(result.assignment, []).append(result)
        if (sum(map(len, self.waiting.values())) >= BATCH
                or time.monotonic() - self.flushed >= FLUSH_EVERY):
            self.flush()

    def flush(self) -> None:
        """Record every waiting result, a batch per transaction, and log them."""
        for assignment, results in self.waiting.items():
            for start in range(0, len(results), BATCH):
                batch = results[start:start + BATCH]
                self._patiently([gbook.Entry(r, *self.details(r)) for r in batch])
                self._log(assignment, batch)
        self.waiting.clear()
        self.flushed = time.monotonic()

    def _patiently(self, entries: list[gbook.Entry]) -> None:
        pause, since = 1.0, None
        while True:
            try:
                gbook.record_many(self.gb, entries)
                if since is not None:
                    print("the gradebook is back; recording goes on", file=self.err)
                return
            except sa.exc.SQLAlchemyError as error:
                if not out_of_reach(error):
                    raise
                now = time.monotonic()
                if since is None:
                    since = now
                    print(f"the gradebook is out of reach ({first_line(error)}); waiting "
                          "for it", file=self.err)
                if now - since > DB_PATIENCE:
                    raise UsageError(f"the gradebook has been out of reach for "
                                     f"{DB_PATIENCE:g} s: run grade again once it is "
                                     "back (what was graded is saved)") from None
                time.sleep(pause)
                pause = min(2 * pause, 15.0)

    def _log(self, assignment: str, results: list[Result]) -> None:
        path = results_dir(self.workspace, assignment) / LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as log:
            log.writelines(f"{r.student}\t{stamp(r)}\t{self.tag}\n" for r in results)
