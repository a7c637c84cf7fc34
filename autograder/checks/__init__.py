"""Hidden checks of the graded notebooks, one ``Check`` per graded test cell.

Contract: ``autograder/checks/<assignment>.py`` defines
``CHECKS: dict[grade_id, Check]``. A check's ``probe`` (``probe.Probe``) is a function
of ``in_kernel/`` and its hidden inputs: it runs in the student's kernel after the
student's answers and returns plain JSON data (what the student's code gave on the
hidden inputs). Its ``judge(got, reference)`` runs in the grader's process and returns
teaching messages, ``[]`` meaning the part passes. References (the expected outputs)
live in ``autograder/references/<assignment>.json``, produced by
``python -m autograder references``; they never reach the student.
"""

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from autograder.checks.probe import Probe

ASSIGNMENTS = ("sgd_momentum", "adaptive", "adam", "keras_six_steps", "subclass_cnn")
REFERENCES_DIR = Path(__file__).resolve().parent.parent / "references"


@dataclass(frozen=True)
class Check:
    probe: Probe
    judge: Callable[[Any, Any], list[str]]


@dataclass(frozen=True)
class Mistake:
    """A classic mistake, written as a small edit of the solution (a fake submission).

    Replacing ``old`` by ``new`` in the answer cell ``cell`` must make the check
    ``check`` fail, and only it. The tests grade every mistake; the references record
    what each gives, so that the judge can name the mistake (``hint``) to a student
    whose numbers match it.
    """

    check: str
    cell: str
    name: str
    old: str
    new: str
    hint: str


def load(name):
    """``(CHECKS, references)`` of one assignment."""
    if name not in ASSIGNMENTS:
        raise KeyError(f"unknown assignment {name!r}; known: {', '.join(ASSIGNMENTS)}")
    module = importlib.import_module(f"autograder.checks.{name}")
    references = json.loads((REFERENCES_DIR / f"{name}.json").read_text())
    return module.CHECKS, references
