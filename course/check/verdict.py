"""From the cells' outcomes to what the check reports: per part, the first limit grading
would stop at, and warnings; in the grader's words (``course.grading_terms``)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from course.check.cells import TEXT_STUB
from course.check.kernel import CellOutcome
from course.check.plan import Part, Plan, RunCell
from course.grading_terms import LIMITS, GradingLimits, say

#: Results that cost points.
LOSING = ("not_passed", "not_answered", "not_run")
_NAME_ERROR = re.compile(r"^NameError: name '(\w+)' is not defined")


@dataclass
class PartVerdict:
    grade_id: str
    title: str
    points: float
    auto: bool
    result: str  # "passes", "not_passed", "not_answered", "not_run" or "by_hand"
    messages: list[str] = field(default_factory=list)
    passed_before: bool = False  # its test passed in the student's own kernel


@dataclass
class Report:
    name: str
    language: str
    parts: list[PartVerdict]
    failure: str | None  # the first limit grading would stop at, in its words
    warnings: list[str]
    seconds: float  # the student's cells, set-up not counted
    limits: GradingLimits = LIMITS
    name_problem: bool = False  # the file is not named as the instructor expects

    @property
    def losing(self) -> list[PartVerdict]:
        return [p for p in self.parts if p.result in LOSING
                or (not p.auto and p.result == "not_answered")]

    @property
    def exit_code(self) -> int:
        """0: nothing found that would cost points; 1: something would."""
        return 1 if self.losing or self.failure or self.name_problem else 0


def label(cell: RunCell, number: int, language: str) -> str:
    """A cell as grading names it: by its grade_id, else its place among code cells."""
    if cell.grade_id:
        return say("cell_label", language, grade_id=cell.grade_id)
    return say("code_cell_label", language, number=number)


class Judge:
    """Reads the outcomes of one run against its plan."""

    def __init__(self, plan: Plan, outcomes: list[CellOutcome], language: str,
                 limits: GradingLimits = LIMITS):
        self.plan, self.outcomes, self.language, self.limits = plan, outcomes, language, limits
        self.labels = [label(c, i + 1, language) for i, c in enumerate(plan.cells)]
        self.failure: str | None = None
        self.warnings: list[str] = []

    def say(self, key: str, **fields) -> str:
        return say(key, self.language, **fields)

    def report(self, name: str) -> Report:
        self._limits()
        parts = [self._part(p) for p in self.plan.parts.values()]
        self._hidden_state(parts)
        self.warnings += [self.say(key, **fields) for key, fields in self.plan.notes]
        self._slow()
        seconds = sum(o.seconds for c, o in zip(self.plan.cells, self.outcomes)
                      if c.kind != "setup")
        return Report(name, self.language, parts, self.failure, self.warnings, seconds,
                      self.limits)

    def _where(self, index: int) -> str:
        cell = self.plan.cells[index]
        if cell.kind == "test":
            return self.say("visible_label", grade_id=cell.grade_id)
        return self.labels[index]

    def _limits(self) -> None:
        """The first limit reached, as grading words it (it notes only the first)."""
        limits = self.limits
        for index, outcome in enumerate(self.outcomes):
            where, setup = self._where(index), self.plan.cells[index].kind == "setup"
            if outcome.limit == "time":
                seconds = limits.setup_seconds if setup else limits.cell_seconds
                self.failure = self.say("cell_time", seconds=seconds, label=where)
            elif outcome.limit == "notebook time" and outcome.ran:
                self.failure = self.say("notebook_time", seconds=limits.notebook_seconds,
                                        label=where)
            elif outcome.limit == "notebook time":
                self.failure = self.say("notebook_time_before",
                                        seconds=limits.notebook_seconds, label=where)
            elif outcome.limit == "output":
                self.failure = self.say("output_limit", bytes=limits.output_bytes,
                                        label=where)
            elif outcome.kernel_dead and outcome.ran:
                self.failure = self.say("kernel_stopped", label=where,
                                        error=outcome.error or self.say("kernel_died"))
            if self.failure:
                return

    def _part(self, part: Part) -> PartVerdict:
        verdict = PartVerdict(part.grade_id, part.title, part.points, part.auto, "passes")
        if not part.auto:
            answered = part.text.strip() not in ("", TEXT_STUB)
            verdict.result = "by_hand" if answered else "not_answered"
            verdict.messages.append(self.say("answered_by_hand") if answered
                                    else self.say("text_stub_left"))
            return verdict
        indexes = [i for i, c in enumerate(self.plan.cells) if c.part == part.grade_id]
        test = next(i for i in indexes if self.plan.cells[i].kind == "test")
        saved = self.plan.cells[test].saved
        verdict.passed_before = bool(saved and saved.get("execution_count") and not any(
            o.get("output_type") == "error" for o in saved.get("outputs", [])))
        stubs = [i for i in indexes if self.plan.cells[i].grade_id in part.untouched
                 or self.outcomes[i].ename == "NotImplementedError"]
        outcome = self.outcomes[test]
        if stubs:
            verdict.result = "not_answered"
            verdict.messages += [self.say("stub_left", label=self.labels[i])
                                 for i in stubs if i != test] or [self.say("stub_called")]
            return verdict
        # the causes first: what the part's other cells raised or reached
        verdict.messages += self._errors(i for i in indexes if i != test)
        if not outcome.ran:
            verdict.result = "not_run"
            verdict.messages.append(self.say("not_run", reason=self.failure or ""))
        elif outcome.limit or outcome.error:
            verdict.result = "not_passed"
            verdict.messages.append(self._test_message(test, outcome))
        return verdict

    def _test_message(self, index: int, outcome: CellOutcome) -> str:
        if outcome.limit == "time":
            setup = self.plan.cells[index].kind == "setup"
            return self.say("cell_time", label=self._where(index),
                            seconds=self.limits.setup_seconds if setup
                            else self.limits.cell_seconds)
        if outcome.limit == "output":
            return self.say("output_limit", bytes=self.limits.output_bytes,
                            label=self._where(index))
        if outcome.limit:
            return self.say("not_run", reason=self.failure or "")
        return self.say("visible_failed", error=outcome.error) + self._hint(index, outcome)

    def _errors(self, indexes) -> list[str]:
        """The errors and limits of a part's other cells, each with its cell."""
        found = []
        for i in indexes:
            outcome = self.outcomes[i]
            if outcome.limit in ("time", "output"):
                found.append(self._test_message(i, outcome))
            elif outcome.error and not outcome.limit:
                found.append(self.say("raised", label=self.labels[i], error=outcome.error)
                             + self._hint(i, outcome))
        return found

    def _hint(self, index: int, outcome: CellOutcome) -> str:
        """Where a name the cell missed is defined: further down, or nowhere."""
        match = _NAME_ERROR.match(outcome.error or "")
        if not match:
            return ""
        name = match.group(1)
        for later in range(index + 1, len(self.plan.cells)):
            if name in defined_names(self.plan.cells[later].source):
                return " (" + self.say("defined_later", name=name,
                                       label=self.labels[later]) + ")"
        if any(name in defined_names(c.source) for c in self.plan.cells[:index]):
            return ""  # defined above, in a cell that failed before defining it
        return " (" + self.say("defined_nowhere", name=name) + ")"

    def _hidden_state(self, parts: list[PartVerdict]) -> None:
        """Parts that passed in the student's kernel but fail from a fresh start."""
        changed = [p for p in parts if p.passed_before and p.result in LOSING]
        for part in changed:
            self.warnings.append(self.say("hidden_state", part=part.title or part.grade_id))
        if changed:
            order = out_of_order(self.plan.cells)
            if order:
                self.warnings.append(self.say("out_of_order", later=f"In [{order[0]}]",
                                              earlier=f"In [{order[1]}]"))

    def _slow(self) -> None:
        limits = self.limits
        for index, (cell, outcome) in enumerate(zip(self.plan.cells, self.outcomes)):
            if cell.kind != "setup" and not outcome.limit and \
                    outcome.seconds > limits.cell_seconds / 2:
                self.warnings.append(self.say("slow_cell", label=self._where(index),
                                              seconds=outcome.seconds,
                                              limit=limits.cell_seconds))
        used = sum(o.seconds for c, o in zip(self.plan.cells, self.outcomes)
                   if c.kind != "setup")
        if used > limits.notebook_seconds / 2 and not self.failure:
            self.warnings.append(self.say("slow_notebook", seconds=used,
                                          limit=limits.notebook_seconds))


def defined_names(source: str) -> set[str]:
    """The names a cell binds at its top level (functions, classes, imports, targets)."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            names |= {n.id for n in ast.walk(node)
                      if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names


def out_of_order(cells: list[RunCell]) -> tuple[int, int] | None:
    """(a count, a smaller count below it) among the saved cells' execution counts."""
    counts = [c.saved.get("execution_count") for c in cells if c.saved]
    counts = [n for n in counts if isinstance(n, int)]
    for i, above in enumerate(counts):
        below = [n for n in counts[i + 1:] if n < above]
        if below:
            return above, min(below)
    return None
