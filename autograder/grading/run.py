"""What a grading run asks of every worker (``Run``), and what one submission to grade
is (``Submission``): the same for the local pool and the task queue's workers.

``Run.to_json``/``Run.from_json`` are the one way a run travels: on a pool worker's
command line and in each task-queue message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from autograder.sandbox.limits import Limits


@dataclass(frozen=True)
class AssignmentSource:
    """Where one assignment's grading inputs are; None means the course's own."""

    source: str | None = None  # folder of instructor notebooks (default solutions/)
    checks: str | None = None  # checks module (default autograder.checks.<name>)
    references: str | None = None  # references JSON (autograder/references/<name>.json)


@dataclass(frozen=True)
class Run:
    """What every submission of a run is graded with: the assignments and where their
    inputs are, the kernel's limits, the sandbox (None: when available) and whether
    kernels start fresh instead of forking from a worker's warm zygote."""

    assignments: dict[str, AssignmentSource]
    limits: Limits = field(default_factory=Limits)
    sandbox: bool | None = None
    fresh_kernels: bool = False

    @classmethod
    def of(cls, names, limits: Limits | None = None, **kernels) -> Run:
        """The course's own assignments ``names`` (``kernels``: sandbox, fresh_kernels)."""
        return cls({name: AssignmentSource() for name in names}, limits or Limits(),
                   **kernels)

    def only(self, name: str) -> Run:
        """The same run for one of its assignments (what a queue message carries)."""
        return dataclasses.replace(self, assignments={name: self.assignments[name]})

    def same_kernels(self, other: Run) -> bool:
        """Whether ``other`` grades with the same limits, sandbox and kernels."""
        return (self.limits, self.sandbox, self.fresh_kernels) == \
            (other.limits, other.sandbox, other.fresh_kernels)

    def to_json(self) -> dict:
        return {"assignments": {name: dataclasses.asdict(where)
                                for name, where in self.assignments.items()},
                "limits": dataclasses.asdict(self.limits), "sandbox": self.sandbox,
                "fresh_kernels": self.fresh_kernels}

    @classmethod
    def from_json(cls, data: dict) -> Run:
        return cls({name: AssignmentSource(**where)
                    for name, where in data["assignments"].items()},
                   Limits(**data.get("limits", {})), data.get("sandbox"),
                   bool(data.get("fresh_kernels", False)))


@dataclass(frozen=True)
class Submission:
    """One notebook to grade: whose, for which assignment, and where the notebook as
    it ran goes (nbgrader's ``autograded/`` copy)."""

    student: str
    assignment: str
    notebook: Path
    graded: Path | None = None

    @property
    def id(self) -> str:
        return f"{self.assignment}/{self.student}"

    def to_json(self) -> dict:
        return {"student": self.student, "assignment": self.assignment,
                "notebook": str(self.notebook),
                "graded": None if self.graded is None else str(self.graded)}

    @classmethod
    def from_json(cls, data: dict) -> Submission:
        graded = data.get("graded")
        return cls(data["student"], data["assignment"], Path(data["notebook"]),
                   None if graded is None else Path(graded))
