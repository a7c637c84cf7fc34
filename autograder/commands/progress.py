"""The grading progress bar with ETA, on stderr.

On a terminal it is rich's live bar. Anywhere else (a log file, CI) a live bar would
write control characters, so it prints one plain line per finished submission, and one
every ``quiet_every`` seconds when nothing finishes.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress


def clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """``start()``, then ``advance(failed)`` per finished submission, ``tick()`` while
    waiting, ``close()`` at the end."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None,
                 width: int = 24, quiet_every: float = 30.0):
        self.total, self.label, self.width = total, label, width
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.monotonic()
        self.done = self.failed = 0
        self.quiet_every = quiet_every
        self._last_print = 0.0
        self._bar = self._task = None
        if self.tty:
            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TaskProgressColumn(), TextColumn("elapsed"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[failed]}"),
                console=Console(file=self.stream), auto_refresh=True)

    def line(self) -> str:
        """The plain line written when the stream is not a terminal."""
        elapsed = time.monotonic() - self.started
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(frac * self.width))
        eta = (clock(elapsed / self.done * (self.total - self.done))
               if self.done else "--:--")
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{self.done}/{self.total} {frac:4.0%} elapsed {clock(elapsed)} "
                f"ETA {eta}{failed}")

    def _print_line(self) -> None:
        self._last_print = time.monotonic()
        self.stream.write(self.line() + "\n")
        self.stream.flush()

    def start(self) -> None:
        if self._bar is None:
            self._print_line()
            return
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=self.total, failed="")

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if self._bar is None:
            self._print_line()
            return
        self._bar.update(self._task, advance=1,
                         failed=f"{self.failed} failed" if self.failed else "")

    def tick(self) -> None:
        """Called while waiting: a plain line now and then (rich redraws by itself)."""
        if self._bar is None and time.monotonic() - self._last_print >= self.quiet_every:
            self._print_line()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
