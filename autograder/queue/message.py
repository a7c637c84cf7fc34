"""One submission on the task queue: ``Message``, the task's JSON arguments.

Data only: which job (its row and generation in ``autograder_jobs``), whose and which
assignment, the key of the submitted notebook's bytes in ``autograder_submissions``,
the key the results are filed under, and the limits the instructor asked for (each
within the worker's maxima, the default limits). Never a path, a module or a sandbox
choice: a worker loads the assignment, its checks and references from its own
checkout and grades in its own sandbox, whatever a message says. JSON only, never
pickle, and a message with any other field is refused whole (``BadMessage``).
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field

from autograder.queue.tables import JobKey, Queued
from autograder.sandbox.limits import Limits

#: The limits a message may set (the others are the worker's own).
MESSAGE_LIMITS = ("cell_timeout", "notebook_timeout", "memory_bytes")
SHA256 = re.compile(r"[0-9a-f]{64}")
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")


class BadMessage(ValueError):
    """A message that is not one ``grade`` sends: never graded, never retried."""


@dataclass(frozen=True)
class Message:
    job: int
    generation: int
    key: JobKey
    assignment: str
    notebook_sha256: str | None  # None: the submission has no notebook
    filename: str  # the notebook's name in the student's submission
    limits: dict = field(default_factory=dict)  # some of MESSAGE_LIMITS
    fresh_kernels: bool = False
    queued_at: float = field(default_factory=time.time)

    @classmethod
    def of(cls, queued: Queued, limits: Limits, fresh_kernels: bool) -> Message:
        default = Limits()
        asked = {name: getattr(limits, name) for name in MESSAGE_LIMITS
                 if getattr(limits, name) != getattr(default, name)}
        return cls(queued.job, queued.generation, queued.key, queued.assignment,
                   queued.notebook_sha256, queued.filename, asked, fresh_kernels)

    def to_json(self) -> dict:
        return {"job": self.job, "generation": self.generation,
                "student": self.key.student, "assignment": self.assignment,
                "submission_sha256": self.key.submission_sha256,
                "fingerprint": self.key.grader_sha256,
                "notebook_sha256": self.notebook_sha256, "filename": self.filename,
                "limits": dict(self.limits), "fresh_kernels": self.fresh_kernels,
                "queued_at": self.queued_at}

    @classmethod
    def from_json(cls, data: dict) -> Message:
        """The message, or ``BadMessage`` saying what is wrong with it."""
        expected = set(cls(0, 0, JobKey("", "", ""), "", None, "").to_json())
        if set(data) != expected:
            extra, missing = sorted(set(data) - expected), sorted(expected - set(data))
            raise BadMessage("not a grading message: " + "; ".join(
                filter(None, [extra and f"unknown fields {', '.join(extra)}",
                              missing and f"missing {', '.join(missing)}"])))
        _check(isinstance(data["job"], int) and isinstance(data["generation"], int),
               "job and generation are integers")
        _check(all(isinstance(data[k], str) and SHA256.fullmatch(data[k])
                   for k in ("submission_sha256", "fingerprint")), "keys are sha256")
        _check(data["notebook_sha256"] is None or (isinstance(data["notebook_sha256"], str)
               and SHA256.fullmatch(data["notebook_sha256"])), "notebook key is sha256")
        _check(isinstance(data["assignment"], str) and NAME.fullmatch(data["assignment"]),
               "assignment is a name")
        _check(isinstance(data["student"], str) and isinstance(data["filename"], str)
               and "/" not in data["filename"], "student and filename are text")
        limits = data["limits"]
        _check(isinstance(limits, dict) and set(limits) <= set(MESSAGE_LIMITS)
               and all(isinstance(v, (int, float)) and v > 0 for v in limits.values()),
               f"limits are some of {', '.join(MESSAGE_LIMITS)}, positive numbers")
        return cls(data["job"], data["generation"],
                   JobKey(data["student"], data["submission_sha256"], data["fingerprint"]),
                   data["assignment"], data["notebook_sha256"], data["filename"],
                   dict(limits), bool(data["fresh_kernels"]), float(data["queued_at"]))

    def limits_within(self, maxima: Limits) -> Limits:
        """The kernel's limits: the worker's, lowered where the message asks; a message
        asking for more than the worker's maximum is refused (``BadMessage``)."""
        over = [f"{name} {value:g} (this worker's maximum: {getattr(maxima, name):g})"
                for name, value in self.limits.items() if value > getattr(maxima, name)]
        if over:
            raise BadMessage(f"asks for more than this worker allows: {', '.join(over)}")
        return dataclasses.replace(maxima, **self.limits)


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise BadMessage(f"not a grading message: {what}")
