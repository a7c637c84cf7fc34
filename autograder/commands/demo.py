"""``demo``: a synthetic class, as an instructor receives it, with the grade each
student deserves.

``python -m autograder demo OUT`` writes, for two real assignments of the course:

- ``OUT/<first>-lms.zip``: an LMS download, files named ``<Name>_<id>_<timestamp>_<file>``;
- ``OUT/<second>-folders/``: one folder per student (``<id>/<file>``);
- ``OUT/expected.json``: for every student and assignment, the status and the points of
  every part that grading must give (derived from how each submission was made, never
  from grading it).

The class (9 students plus one per autograded part) holds every case the grader must
handle: a correct submission; for each graded part a submission with exactly that part
wrong (a classic mistake from ``autograder/checks/<assignment>.py`` ``MISTAKES``, else
the release stub of that part's answer cell); the untouched student notebook; a missing
notebook; a file that is not valid JSON; a renamed notebook; extra files; a resubmission (the
older, wrong version must be superseded); two parts wrong at once.

Used by the tests (tests/grader/test_autograder.py), the benchmarks (benchmarks/) and the
README's demo run.
"""

from __future__ import annotations

import copy
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.errors import UsageError
from autograder.notebook import nbgrader_cells as cells

REPO = Path(__file__).resolve().parents[2]
SOLUTION_MARKERS = (cells.BEGIN_SOLUTION, cells.END_SOLUTION)


@dataclass(frozen=True)
class Student:
    id: str
    name: str


NAMES = ["Lovelace Ada", "Turing Alan", "Hopper Grace", "Noether Emmy", "Gauss Carl",
         "Curie Marie", "Shannon Claude", "Ramanujan Srinivasa", "Franklin Rosalind",
         "Euler Leonhard", "Hamilton Margaret", "Dijkstra Edsger", "Goodall Jane",
         "Meitner Lise", "Fermi Enrico", "Germain Sophie", "Hilbert David", "Kovalevskaya Sofia"]


def roles(n_parts: int) -> list[str]:
    """One role per student; "wrong:<k>" gets the k-th autograded part wrong."""
    return (["correct"] + [f"wrong:{k}" for k in range(n_parts)]
            + ["untouched", "missing", "invalid_json", "renamed", "extra_files",
               "resubmitted", "two_wrong", "correct"])


def class_list(n_parts: int) -> list[tuple[Student, str]]:
    names = NAMES + [f"Student {i}" for i in range(len(NAMES), 40)]
    return [(Student(str(1001 + i), names[i]), role)
            for i, role in enumerate(roles(n_parts))]


def available_assignments() -> list[str]:
    """The course's assignments that have a solution notebook, checks and references."""
    from autograder.checks import ASSIGNMENTS

    out = []
    for name in ASSIGNMENTS:
        if ((REPO / "solutions" / name / f"{name}.ipynb").exists()
                and (REPO / "exercises" / name / f"{name}.ipynb").exists()
                and (REPO / "autograder" / "references" / f"{name}.json").exists()
                and (REPO / "autograder" / "checks" / f"{name}.py").exists()):
            out.append(name)
    return out


# ----------------------------------------------------------------------------- notebooks
def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n")
                     if not any(m in line for m in SOLUTION_MARKERS))


class AssignmentKit:
    """Builds student notebooks of one assignment from its solution and release."""

    def __init__(self, name: str):
        self.name = name
        self.solution = nbformat.read(str(REPO / "solutions" / name / f"{name}.ipynb"), 4)
        self.release = nbformat.read(str(REPO / "exercises" / name / f"{name}.ipynb"), 4)
        self.parts = cells.graded_parts(self.solution)
        self.auto_parts = [p["grade_id"] for p in self.parts if p["auto"]]
        self.answers = {cells.grade_id(c): _strip_markers(c.source)
                        for c in self.solution.cells
                        if cells.nbgrader_meta(c).get("solution")}
        # the answer cell each test reads: the last answer cell before it
        self.answer_of, last = {}, None
        for cell in self.solution.cells:
            meta = cells.nbgrader_meta(cell)
            if meta.get("solution") and cell.cell_type == "code":
                last = meta["grade_id"]
            elif cells.is_test(cell):
                self.answer_of[meta["grade_id"]] = last
        module = __import__(f"autograder.checks.{name}", fromlist=["MISTAKES"])
        self.mistakes = {}
        for mistake in getattr(module, "MISTAKES", []):
            self.mistakes.setdefault(mistake.check, mistake)

    def notebook(self, wrong: tuple[str, ...] = ()) -> nbformat.NotebookNode:
        """The release notebook with the solution's answers, except for the parts in
        ``wrong``: a classic mistake there, or the release stub if there is none."""
        answers = dict(self.answers)
        for part in wrong:
            mistake = self.mistakes.get(part)
            if mistake is not None:
                fixed = answers[mistake.cell]
                if mistake.old not in fixed:
                    raise ValueError(f"{self.name}: mistake {mistake.name!r} does not "
                                     f"apply to {mistake.cell}")
                answers[mistake.cell] = fixed.replace(mistake.old, mistake.new, 1)
            else:
                answers.pop(self.answer_of[part])  # keeps the release stub
        nb = copy.deepcopy(self.release)
        for cell in nb.cells:
            gid = cells.nbgrader_meta(cell).get("grade_id")
            if cells.nbgrader_meta(cell).get("solution") and gid in answers:
                cell.source = answers[gid]
        return nb

    def expected(self, status: str, wrong=(), all_zero: bool = False) -> dict:
        parts = {}
        for part in self.parts:
            gid = part["grade_id"]
            if not part["auto"]:
                parts[gid] = None  # graded by hand
            else:
                parts[gid] = 0.0 if (all_zero or gid in wrong) else part["max_points"]
        score = sum(v for v in parts.values() if v is not None)
        return {"status": status, "parts": parts, "score": score}


def _wrong_parts(kit: AssignmentKit, role: str) -> tuple[str, ...]:
    if role.startswith("wrong:"):
        k = int(role.split(":")[1])
        return (kit.auto_parts[k],) if k < len(kit.auto_parts) else ()
    if role == "two_wrong":
        return tuple(kit.auto_parts[:2])
    return ()


def _text(nb) -> str:
    return nbformat.writes(nb)


def submissions(kit: AssignmentKit, role: str) -> tuple[list[tuple[str, str, str]], dict]:
    """[(file name, content, timestamp)] a student hands in, and the expected grade."""
    name, ts = kit.name, "20250314093000"
    good = _text(kit.notebook())
    if role in ("correct",) or role.startswith("wrong:") or role == "two_wrong":
        wrong = _wrong_parts(kit, role)
        return [(f"{name}.ipynb", _text(kit.notebook(wrong)), ts)], \
            kit.expected("graded", wrong)
    if role == "untouched":
        return [(f"{name}.ipynb", _text(kit.release), ts)], \
            kit.expected("graded", all_zero=True)
    if role == "missing":
        return [("my_notes.txt", "I could not upload my notebook, sorry!\n", ts)], \
            kit.expected("failed", all_zero=True)
    if role == "invalid_json":
        return [(f"{name}.ipynb", good[: len(good) // 2], ts)], \
            kit.expected("failed", all_zero=True)
    if role == "renamed":
        return [(f"{name} (1).ipynb", good, ts)], kit.expected("graded")
    if role == "extra_files":
        return [(f"{name}.ipynb", good, ts), ("helpers.py", "def helper():\n    pass\n", ts),
                ("numpy.py", "raise ImportError('not the real numpy')\n", ts),
                ("notes.md", "# My notes\n", ts)], kit.expected("graded")
    if role == "resubmitted":
        first = _text(kit.notebook(tuple(kit.auto_parts)))
        return [(f"{name}.ipynb", first, "20250313170000"),
                (f"{name}.ipynb", good, "20250314110000")], kit.expected("graded")
    raise ValueError(role)


# ----------------------------------------------------------------------------- class
def build(assignments: list[str] | None = None):
    """(assignments, [(student, {assignment: (files, expected)})]) for the class."""
    assignments = list(assignments or available_assignments()[:2])
    if not assignments:
        raise UsageError("no assignment with solutions, exercises, checks and references")
    kits = [AssignmentKit(a) for a in assignments]
    students = class_list(max(len(kit.auto_parts) for kit in kits))
    return assignments, [(student, {kit.name: submissions(kit, role) for kit in kits})
                         for student, role in students]


def expected_grades(assignments: list[str] | None = None) -> dict:
    """{student id: {assignment: {"status", "parts", "score"}}}, nothing written."""
    _, rows = build(assignments)
    return {student.id: {a: expected for a, (_, expected) in by_assignment.items()}
            for student, by_assignment in rows}


def make_class(out: Path, assignments: list[str] | None = None) -> dict:
    """Write the class's submissions under ``out``; returns (and writes) the expected
    grades: {"assignments": [...], "sources": {assignment: path}, "students":
    {id: name}, "expected": {id: {assignment: {"status", "parts", "score"}}}}."""
    out = Path(out)
    assignments, rows = build(assignments)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"assignments": assignments, "sources": {},
                "students": {student.id: student.name for student, _ in rows},
                "expected": {student.id: {a: e for a, (_, e) in by_a.items()}
                             for student, by_a in rows}}
    for index, assignment in enumerate(assignments):
        lms = index % 2 == 0  # the first as an LMS zip, the second as folders
        if lms:
            target = out / f"{assignment}-lms.zip"
            archive = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED)
            archive.writestr("__MACOSX/._clutter", "x")  # what a Mac adds to a zip
        else:
            target = out / f"{assignment}-folders"
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            (target / ".DS_Store").write_text("x")
        for student, by_assignment in rows:
            files, _ = by_assignment[assignment]
            lms_name = student.name.lower().replace(" ", "")
            for file_name, content, ts in files:
                if lms:
                    archive.writestr(f"{lms_name}_{student.id}_{ts}_{file_name}", content)
                else:
                    path = target / student.id / file_name
                    path.parent.mkdir(exist_ok=True)
                    path.write_text(content, encoding="utf-8")  # a later version wins
        if lms:
            archive.writestr("README.txt", "Downloaded from the course's LMS.\n")
            archive.close()
        else:
            (target / "README.txt").write_text("Submissions, one folder per student.\n")
        manifest["sources"][assignment] = str(target)
    (out / "expected.json").write_text(json.dumps(manifest, indent=1))
    return manifest
