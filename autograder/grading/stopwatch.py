"""Where the time of grading goes: a ``Stopwatch`` of CPU and wall seconds per step.

A step is what the grader does for a submission (start the kernel, run the set-up
cell, the student's cells of a part, that part's visible checks, its probe, its judge,
write the graded notebook ...). Each ``lap`` charges everything since the previous lap
to one step, so the steps add up to the whole: nothing between two laps goes
uncounted. CPU time is read from every clock the stopwatch watches: the grading
process's own, and the kernel's processes or the zygote's while they live (they run
in other processes, often in a sandbox, where this process's own clock cannot see
them). ``benchmarks/grading_cost.py`` adds the steps of a class up, per assignment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

#: the steps of one grading, in the order they happen (parts have their own four);
#: the first two are paid once per worker or zygote, not per submission
ONCE = ("worker start", "zygote imports")
PART_STEPS = ("student's cells", "visible checks", "probe", "judge")
STEPS = (*ONCE, "between submissions", "read and assemble", "kernel start",
         "set-up cell", *PART_STEPS, "kernel stop", "write graded notebook",
         "record result")


@dataclass
class Lap:
    """One step's CPU and wall seconds (``part``: the graded part it belongs to)."""

    step: str
    part: str | None
    cpu_s: float
    wall_s: float

    def to_json(self) -> dict:
        out = {"step": self.step, "cpu_s": round(self.cpu_s, 4),
               "wall_s": round(self.wall_s, 4)}
        if self.part is not None:
            out["part"] = self.part
        return out


class Stopwatch:
    """Laps of CPU and wall time; CPU summed over the clocks watched (``watch``)."""

    def __init__(self, since: float | None = None):
        """``since``: the CPU seconds of this process already counted (None: all it
        spent so far: a stopwatch that starts with the process)."""
        self.clocks: dict[str, tuple[Callable[[], float], str | None]] = {}
        self.readings: dict[str, float] = {}
        self.watch("grader", time.process_time,
                   time.process_time() if since is None else since)
        self.wall = time.monotonic()
        self.laps: list[Lap] = []

    def watch(self, name: str, clock: Callable[[], float], since: float = 0.0,
              step: str | None = None) -> None:
        """Count ``clock`` (CPU seconds, only ever growing) from now on: what it reads
        above ``since`` goes to the next lap (0: all its time, as for a process that
        starts now); with ``step``, to that step whatever the lap (a zygote importing
        in the background)."""
        self.clocks[name], self.readings[name] = (clock, step), since

    def unwatch(self, name: str) -> None:
        """Stop counting a clock (its processes are about to go)."""
        self.clocks.pop(name, None)
        self.readings.pop(name, None)

    def lap(self, step: str, part: str | None = None, wall: bool = True) -> None:
        """Charge everything since the last lap to ``step`` (of ``part``); with
        ``wall=False`` its wall time is left out (a worker waiting for work)."""
        cpu = 0.0
        for name, (clock, fixed_step) in self.clocks.items():
            try:
                now = clock()
            except Exception:  # noqa: BLE001 - a process gone: nothing more to count
                continue
            spent = max(0.0, now - self.readings[name])
            self.readings[name] = max(now, self.readings[name])
            if fixed_step is None:
                cpu += spent
            elif spent:
                self.add(fixed_step, None, spent, 0.0)
        now = time.monotonic()
        wall_s, self.wall = (now - self.wall if wall else 0.0), now
        self.add(step, part, cpu, wall_s)

    def add(self, step: str, part: str | None, cpu_s: float, wall_s: float) -> None:
        """Charge measured seconds to a step (the same step and part add up)."""
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r} (one of {', '.join(STEPS)})")
        for lap in self.laps:
            if (lap.step, lap.part) == (step, part):
                lap.cpu_s += cpu_s
                lap.wall_s += wall_s
                return
        self.laps.append(Lap(step, part, cpu_s, wall_s))

    def take(self) -> list[dict]:
        """The laps so far, as JSON, and a new start: the next submission's."""
        laps, self.laps = [lap.to_json() for lap in self.laps], []
        return laps

