"""What grading one submission gives: a ``Result`` and its ``Part``s.

One definition for everyone: the grader fills it, the local pool and the task queue
carry it, ``grade`` saves it (``results/<assignment>/<student>.json``, ``save``) and
records it in the gradebook, and feedback, export and the report read it
(``load_results``). ``to_json``/``from_json`` are its one serialisation; a file written
by an earlier version reads the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from autograder.errors import UsageError
from autograder.workspace import (
    Writes, assignments_in, atomic_write_text, read_json, results_dir,
)

#: A result's status: the notebook was graded, could not be (its reason says why), or
#: holds parts the grader could not judge, left for the instructor's review.
STATUSES = ("graded", "failed", "review")


@dataclass
class Part:
    """One graded cell of the notebook: an autograded test (``auto``) or a part graded
    by hand (its points None until the instructor grades it)."""

    title: str
    max_points: float
    auto: bool
    points: float | None = None
    passed: bool | None = None
    messages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    review: str | None = None  # why the grader could not judge it, for the instructor
    check_seconds: float | None = None  # wall time of its hidden checks (every attempt)

    @classmethod
    def blank(cls, graded_part: dict) -> Part:
        """A part before grading (``graded_part``: one of ``graded_parts(notebook)``):
        no automatic point yet; a written answer waits for a grade by hand."""
        auto = graded_part["auto"]
        return cls(graded_part["title"], graded_part["max_points"], auto,
                   points=0.0 if auto else None, passed=False if auto else None,
                   messages=[] if auto else ["graded by hand"])

    def fail(self) -> None:
        """No automatic point (a part graded by hand keeps its None)."""
        if self.auto:
            self.points, self.passed = 0.0, False

    def hold_for_review(self, cause: str) -> None:
        """The grader could not judge the part for a reason of its own: no point yet,
        and the cause for the instructor (never the student's 0 as a verdict)."""
        self.points, self.passed, self.review = 0.0, False, cause
        self.messages.append(f"not graded yet: {cause}; your instructor will review it")


@dataclass
class Result:
    """One submission's grade: its status, why when it is not "graded", its parts, and
    what identifies it (filled in by ``grade`` before it is saved)."""

    status: str
    reason: str | None = None
    parts: dict[str, Part] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    final: bool = True  # False: not the student's doing; the next run grades it again
    # how it was graded
    assignment: str | None = None
    seconds: float | None = None
    kernel: str | None = None  # "warm" or "fresh"
    kernel_note: str | None = None  # why a fresh kernel where a warm one was asked for
    traceback: str | None = None  # of an internal grader error
    profile: list[dict] | None = None  # CPU and wall seconds per step (stopwatch.py)
    # what it belongs to (``grade``)
    student: str | None = None
    submission_sha256: str | None = None
    grader_sha256: str | None = None
    sandboxed: bool | None = None
    graded_at: str | None = None
    language: str | None = None  # the notebook's, when not English: its words' language

    @property
    def score(self) -> float:
        return sum(p.points or 0.0 for p in self.parts.values())

    @property
    def max_score(self) -> float:
        return sum(p.max_points for p in self.parts.values())

    def held_for_review(self) -> list[str]:
        """The parts the grader could not judge."""
        return [gid for gid, part in self.parts.items() if part.review]

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["parts"] = {gid: {f.name: getattr(part, f.name) for f in fields(part)
                               if f.name != "review" or part.review is not None}
                         for gid, part in self.parts.items()}
        data.update(score=self.score, max_score=self.max_score)
        return {key: value for key, value in data.items()
                if value is not None or key == "reason"}

    @classmethod
    def from_json(cls, data: dict) -> Result:
        known = {f.name for f in fields(cls)} - {"parts"}
        part_fields = {f.name for f in fields(Part)}
        parts = {gid: Part(**{k: v for k, v in part.items() if k in part_fields})
                 for gid, part in (data.get("parts") or {}).items()}
        return cls(parts=parts, **{k: v for k, v in data.items() if k in known})

    @classmethod
    def failure(cls, reason: str, final: bool = True) -> Result:
        """A submission that could not be graded at all; ``final=False``: not the
        student's doing (a worker crashed), graded again on the next run."""
        return cls("failed", reason, final=final)

    def with_every_part(self, parts: list[dict]) -> Result:
        """A failure without parts (from a worker) gets every part of the notebook
        (``graded_parts``), none scored, so that the gradebook, feedback and export see
        the same parts for every student."""
        if not self.parts:
            for part in parts:
                blank = self.parts[part["grade_id"]] = Part.blank(part)
                blank.messages = ["not graded: " + (self.reason or "")]
        return self

    def save(self, workspace: Path, writes: Writes | None = None) -> None:
        """Write it to ``results/<assignment>/<student>.json``, whole or not at all
        (by ``writes``' threads when given: done once ``writes.wait()`` returns)."""
        path = results_dir(workspace, self.assignment) / f"{self.student}.json"
        (writes.write if writes else atomic_write_text)(
            path, json.dumps(self.to_json(), indent=1))


def load_results(workspace: Path, assignment: str) -> dict[str, Result]:
    """{student: result} of every graded submission of the assignment."""
    out = {}
    folder = results_dir(workspace, assignment)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = read_json(path)
        if isinstance(data, dict) and "status" in data:
            result = out[path.stem] = Result.from_json(data)
            result.student = result.student or path.stem
            result.assignment = result.assignment or assignment
    return out


def graded_results(workspace: Path, assignment: str) -> dict[str, Result]:
    """``load_results``, refused when there is none (feedback, export and report need
    a graded assignment)."""
    results = load_results(workspace, assignment)
    if not results:
        graded = assignments_in(workspace)
        known = f" (graded: {', '.join(graded)})" if graded else ""
        raise UsageError(f"no results for {assignment} in {workspace / 'results'}"
                         f"{known}: run grade first")
    return results
