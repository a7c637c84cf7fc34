"""The notebook the check runs, built as grading builds it, and the parts it reports on.

Grading rebuilds a submission around the instructor's copy: the instructor's set-up and
test cells (their visible part), in the instructor's order, with the student's answer
cells and the student's own extra code cells next to the answers they follow; a
deleted or edited locked cell is replaced by the instructor's copy, a deleted answer
by the stub. The check does the same from the release record the notebook carries
(``cells.release_record``). Without one (an instructor's source notebook, or a released
one whose record was lost), it runs the notebook's own cells, in their order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import course.check.cells as nbcells


@dataclass
class RunCell:
    """One code cell of the notebook that runs."""

    source: str
    kind: str | None  # as cells.kind; "extra" for the student's own cells
    grade_id: str | None = None
    part: str | None = None  # the grade_id of the part it belongs to
    saved: dict | None = None  # the student's cell, with its saved outputs


@dataclass
class Part:
    grade_id: str
    title: str
    points: float
    auto: bool  # judged by a test cell (else graded by hand)
    answers: list[str] = field(default_factory=list)  # grade_ids of its answer cells
    text: str = ""  # a written answer's text
    untouched: list[str] = field(default_factory=list)  # answer cells never edited


@dataclass
class Plan:
    cells: list[RunCell]
    parts: dict[str, Part]
    notes: list[tuple[str, dict]]  # (words key, fields): what grading will note
    has_record: bool
    assignment: str | None


def plan(notebook) -> Plan:
    """What the check runs for ``notebook`` (a dict as nbformat reads it)."""
    student = [c for c in notebook.get("cells", []) if isinstance(c, dict)]
    record = nbcells.record_of(notebook)
    if record is None:
        entries = {}
        for cell in student:  # the first cell of each grade_id, as grading takes it
            entry = _entry_of(cell)
            if entry and entry["grade_id"] not in entries:
                entries[entry["grade_id"]] = entry
        notes = _checksum_notes(student)
        if any(nbcells.nbgrader_meta(c).get("checksum") for c in student):
            notes.append(("no_record", {}))  # released, but its record is gone
        result = _assemble(list(entries.values()), student, notes)
        return Plan(*result, has_record=False, assignment=None)
    template = [c for c in record["cells"] if isinstance(c, dict)]
    cells, parts, notes = _assemble(template, student, _tampering(template, student))
    return Plan(cells, parts, notes, has_record=True, assignment=record.get("assignment"))


def _entry_of(cell) -> dict | None:
    """A record entry made from the notebook's own cell (no release record)."""
    what = nbcells.kind(cell)
    if what is None:
        return None
    entry = {"kind": what, "grade_id": nbcells.grade_id(cell),
             "source": nbcells.source(cell),
             "points": float(nbcells.nbgrader_meta(cell).get("points", 0) or 0)}
    stored = nbcells.nbgrader_meta(cell).get("checksum")
    if stored and what in ("answer", "written"):
        entry["checksum"] = stored
    return entry


def _checksum_notes(student) -> list[tuple[str, dict]]:
    """Locked cells whose nbgrader checksum no longer matches: edited."""
    notes = []
    for cell in student:
        what = nbcells.kind(cell)
        if what in ("test", "setup") and nbcells.nbgrader_meta(cell).get("checksum") \
                and not nbcells.untouched(cell):
            key = "test_edited" if what == "test" else "locked_edited"
            notes.append((key, {"grade_id": nbcells.grade_id(cell)}))
    return notes


def _by_id(student) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for j, cell in enumerate(student):
        gid = nbcells.grade_id(cell)
        if gid:
            found.setdefault(gid, []).append(j)
    return found


def _tampering(template, student) -> list[tuple[str, dict]]:
    """Deleted and edited cells, and a changed order, in grading's words."""
    notes, by_id = [], _by_id(student)
    for entry in template:
        gid, what = entry.get("grade_id"), entry["kind"]
        if what in ("code", "check") or not gid:
            continue
        if gid not in by_id:
            key = {"answer": "answer_missing", "test": "test_missing"}.get(what)
            if key:
                notes.append((key, {"grade_id": gid}))
            continue
        theirs = nbcells.source(student[by_id[gid][0]]).strip()
        if what == "test" and theirs not in (entry["source"].strip(),
                                             nbcells.visible_part(entry["source"]).strip()):
            notes.append(("test_edited", {"grade_id": gid}))
        elif what == "setup" and theirs != entry["source"].strip():
            notes.append(("locked_edited", {"grade_id": gid}))
    order = [e["grade_id"] for e in template if e.get("grade_id")]
    seen = [g for g in dict.fromkeys(nbcells.grade_id(c) for c in student) if g in order]
    if seen != sorted(seen, key=order.index):
        notes.append(("reordered", {}))
    return notes


def _assemble(template, student, notes):
    by_id = _by_id(student)
    known = {e["grade_id"]: i for i, e in enumerate(template) if e.get("grade_id")}
    matched_plain = _plain_matches(template, student)
    extras: dict[int, list[dict]] = {}
    anchor = -1
    for j, cell in enumerate(student):
        gid = nbcells.grade_id(cell)
        if gid in known or j in matched_plain:
            anchor = known[gid] if gid in known else matched_plain[j]
        elif cell.get("cell_type") == "code" and nbcells.source(cell).strip():
            extras.setdefault(anchor, []).append(cell)
    builder = _Builder(student, by_id,
                       {i: nbcells.source(student[j]) for j, i in matched_plain.items()})
    builder.extras(extras.get(-1, []))
    for i, entry in enumerate(template):
        builder.place(i, entry)
        builder.extras(extras.get(i, []))
    _assign_parts(builder.run)
    return builder.run, builder.parts, notes


class _Builder:
    """The cells that run and the parts, built one template cell at a time."""

    def __init__(self, student, by_id, plain_source):
        self.student, self.by_id, self.plain_source = student, by_id, plain_source
        self.run: list[RunCell] = []
        self.parts: dict[str, Part] = {}
        self.title = ""
        self.answers: list[str] = []  # answer cells waiting for their test
        self.untouched: list[str] = []

    def extras(self, cells) -> None:
        self.run += [RunCell(nbcells.source(c), "extra", saved=c) for c in cells]

    def place(self, i: int, entry: dict) -> None:
        what, gid = entry["kind"], entry.get("grade_id")
        mine = self.student[self.by_id[gid][0]] if gid in self.by_id else None
        self.title = entry.get("title") or self._title_above(mine) or self.title
        if what == "code":
            self.run.append(RunCell(self.plain_source.get(i, entry["source"]), None,
                                    saved=mine))
        elif what == "setup":
            self.run.append(RunCell(entry["source"], "setup", gid, saved=mine))
        elif what == "test":
            self.run.append(RunCell(nbcells.visible_part(entry["source"]), "test", gid,
                                    gid, mine))
            self.parts[gid] = Part(gid, self.title, entry.get("points", 0.0), True,
                                   self.answers, untouched=self.untouched)
            self.answers, self.untouched = [], []
        elif what == "answer":
            text = (nbcells.source(mine) if mine is not None
                    else entry.get("source", nbcells.CODE_STUB))  # the released stub
            self.run.append(RunCell(text, "answer", gid, saved=mine))
            self.answers.append(gid)
            if mine is None or _same(entry, mine):
                self.untouched.append(gid)
        elif what == "written":
            text = nbcells.source(mine) if mine is not None else ""
            self.parts[gid] = Part(gid, self.title, entry.get("points", 0.0), False,
                                   text=text)
            if mine is not None and mine.get("cell_type") == "code":
                self.run.append(RunCell(text, "answer", gid, gid, mine))

    def _title_above(self, mine) -> str | None:
        """The heading above a cell in the student's notebook."""
        if mine is None:
            return None
        index = next(j for j, c in enumerate(self.student) if c is mine)
        for cell in reversed(self.student[:index]):
            if nbcells.heading(cell):
                return nbcells.heading(cell)
        return None


def _same(entry, mine) -> bool:
    """An answer cell still as released: its checksum is the released one."""
    stored = entry.get("checksum") or nbcells.nbgrader_meta(mine).get("checksum")
    return bool(stored) and stored == nbcells.checksum(mine)


def _plain_matches(template, student) -> dict[int, int]:
    """{student index: template index} for the instructor's plain code cells: by cell
    id, else by identical source (as grading matches them)."""
    matches: dict[int, int] = {}
    for i, entry in enumerate(template):
        if entry["kind"] != "code":
            continue
        free = [j for j, c in enumerate(student) if j not in matches
                and c.get("cell_type") == "code" and not nbcells.grade_id(c)]
        found = next((j for j in free if entry.get("id")
                      and student[j].get("id") == entry["id"]), None)
        if found is None:
            found = next((j for j in free if nbcells.source(student[j]).strip()
                          == entry["source"].strip()), None)
        if found is not None:
            matches[found] = i
    return matches


def _assign_parts(run: list[RunCell]) -> None:
    """Each cell belongs to the part of the first test cell at or below it (cells
    after the last test to none)."""
    part = None
    for cell in reversed(run):
        if cell.kind == "test":
            part = cell.grade_id
        cell.part = cell.part or part
