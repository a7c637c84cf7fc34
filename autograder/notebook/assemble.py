"""Rebuild a student's notebook around the instructor's copy: the notebook that runs.

``assemble(instructor_nb, student_nb)`` returns ``(runnable_nb, notes)``: a copy of the
instructor's notebook in which only the answer cells carry the student's source
(matched by nbgrader ``grade_id``). Test cells, points, grade flags, schema versions,
cell types and cell order all come from the instructor, so tampering with them changes
nothing; ``notes`` says what was found. An answer cell the student deleted gets the
release stub (``raise NotImplementedError()``), so the part scores 0 instead of waiting
for manual grading. The hidden-test blocks of the test cells are removed (the grader
judges hidden checks in its own process), and no instructor solution ever reaches it.

The course's "Check my notebook" cell (``course.check``) runs nothing graded: it is
left out of the notebook that runs, and deleting or editing it is not noted.

Extra cells. A student's own code cells (no nbgrader metadata, or metadata naming a
part the assignment does not have) are kept, placed after the instructor cell that
precedes them in the student's notebook: helper functions or imports a student added
next to an answer still work, as they did when the student ran the notebook. They run
in the same sandboxed kernel as the answers, so they cannot change how parts are
judged. Extra markdown/raw cells are dropped (they run nothing). Instructor code
cells without nbgrader metadata are the student's to edit, as in nbgrader: the
student's version (matched by cell id, else by identical source) runs in their place,
and the instructor's version runs if the student deleted it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat

from autograder.notebook import nbgrader_cells as cells
from autograder.notebook.intake import COURSE_KERNEL, KNOWN_SCHEMA_VERSIONS
from course.check import is_check_cell
from course.grading_terms import DEFAULT_LANGUAGE, notebook_language, say


@dataclass
class _Pairing:
    """The instructor's and the student's cells, and which match which."""

    inst_cells: list
    stud_cells: list
    inst_ids: dict[str, int] = field(default_factory=dict)  # grade_id -> first index
    answer_ids: set[str] = field(default_factory=set)
    by_id: dict[str, list[int]] = field(default_factory=dict)  # student's, in order
    language: str = DEFAULT_LANGUAGE  # the student's notebook's: the notes' words

    @classmethod
    def of(cls, instructor_nb, student_nb) -> "_Pairing":
        pairing = cls(list(instructor_nb.cells), list(student_nb.get("cells", [])),
                      language=notebook_language(student_nb))
        for i, cell in enumerate(pairing.inst_cells):
            gid = cells.grade_id(cell)
            if gid:
                pairing.inst_ids.setdefault(gid, i)
        pairing.answer_ids = {g for g, i in pairing.inst_ids.items()
                              if cells.is_answer(pairing.inst_cells[i])}
        for j, cell in enumerate(pairing.stud_cells):
            gid = cells.grade_id(cell)
            if gid:
                pairing.by_id.setdefault(gid, []).append(j)
        return pairing


def assemble(instructor_nb: nbformat.NotebookNode, student_nb: nbformat.NotebookNode
             ) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook to run for one student, and notes on what was found.

    ``instructor_nb`` is the instructor's source notebook (solutions/<name>/<name>.ipynb)
    or the released copy; the result never contains the instructor's solution code or
    hidden tests either way.
    """
    meta = student_nb.get("metadata", {})
    autograder_meta = meta.get("autograder") if isinstance(meta, dict) else None
    notes: list[str] = list((autograder_meta or {}).get("intake_notes", [])
                            if isinstance(autograder_meta, dict) else [])
    pairing = _Pairing.of(instructor_nb, student_nb)
    notes += _duplicate_notes(pairing) + _tampering_notes(pairing) + _order_notes(pairing)
    unmarked = _unmarked_matches(pairing)
    extras_after, extra_notes = _extra_cells(pairing, unmarked)
    notes += extra_notes
    unmarked_source = {i: cells.source(pairing.stud_cells[j]) for j, i in unmarked.items()}
    return _runnable(instructor_nb, pairing, unmarked_source, extras_after), notes


def _duplicate_notes(p: _Pairing) -> list[str]:
    notes = []
    for gid, idxs in p.by_id.items():
        if len(idxs) > 1 and gid in p.inst_ids:
            kind = "answer" if gid in p.answer_ids else "cell"
            which = "the first one is graded" if gid in p.answer_ids else \
                "the instructor's copy is used"
            notes.append(f"{kind} '{gid}' appears {len(idxs)} times: {which}")
    return notes


def _tampering_notes(p: _Pairing) -> list[str]:
    """Deleted cells, and every change the grader ignores (type, flags, points, edits)."""
    notes = []
    for gid, i in p.inst_ids.items():
        icell = p.inst_cells[i]
        if is_check_cell(icell):
            continue
        if gid not in p.by_id:
            if gid in p.answer_ids:
                notes.append(say("answer_missing", p.language, grade_id=gid))
            elif cells.is_test(icell):
                notes.append(say("test_missing", p.language, grade_id=gid))
            continue
        scell = p.stud_cells[p.by_id[gid][0]]
        inbg, snbg = cells.nbgrader_meta(icell), cells.nbgrader_meta(scell)
        if scell.get("cell_type") != icell.get("cell_type"):
            notes.append(f"cell '{gid}' was turned from {icell.get('cell_type')} into "
                         f"{scell.get('cell_type')}: the instructor's cell type is used")
        for key in ("grade", "solution", "locked", "task"):
            if bool(snbg.get(key)) != bool(inbg.get(key)):
                notes.append(f"cell '{gid}': flag '{key}' changed to {snbg.get(key)!r}: "
                             "ignored")
        if "points" in inbg and snbg.get("points") != inbg.get("points"):
            notes.append(f"cell '{gid}': points changed from {inbg.get('points')!r} to "
                         f"{snbg.get('points')!r}: ignored")
        sv = snbg.get("schema_version")
        if sv is not None and sv not in KNOWN_SCHEMA_VERSIONS:
            notes.append(f"cell '{gid}': unknown nbgrader schema_version {sv!r}: ignored")
        notes += _edit_notes(gid, icell, scell, gid in p.answer_ids, p.language)
    return notes


def _edit_notes(gid: str, icell, scell, is_answer: bool, language: str) -> list[str]:
    """A test cell or a read-only code cell the student edited (the edit is ignored)."""
    theirs, ours = cells.source(scell).strip(), cells.source(icell).strip()
    same_type = scell.get("cell_type") == icell.get("cell_type")
    if cells.is_test(icell):
        if same_type and theirs not in (ours, cells.strip_hidden_tests(ours).strip()):
            return [say("test_edited", language, grade_id=gid)]
        return []
    if not is_answer and cells.nbgrader_meta(icell).get("locked") and \
            icell.get("cell_type") == "code" and theirs != ours:
        return [say("locked_edited", language, grade_id=gid)]
    return []


def _order_notes(p: _Pairing) -> list[str]:
    seen: list[str] = []
    for gid in (cells.grade_id(c) for c in p.stud_cells):
        if gid in p.inst_ids and gid not in seen:
            seen.append(gid)
    if seen != sorted(seen, key=p.inst_ids.__getitem__):
        return [say("reordered", p.language)]
    return []


def _unmarked_matches(p: _Pairing) -> dict[int, int]:
    """{student cell index: instructor cell index} for the instructor's code cells
    without nbgrader metadata, which nbgrader leaves to the student: matched by cell id
    (kept by the release), else by identical source."""
    unmarked: dict[int, int] = {}
    for i, icell in enumerate(p.inst_cells):
        if icell.get("cell_type") != "code" or cells.nbgrader_meta(icell):
            continue
        free = [j for j, c in enumerate(p.stud_cells) if j not in unmarked
                and c.get("cell_type") == "code" and not cells.grade_id(c)]
        match = next((j for j in free if icell.get("id")
                      and p.stud_cells[j].get("id") == icell.get("id")), None)
        if match is None:
            match = next((j for j in free if cells.source(p.stud_cells[j]).strip()
                          == cells.source(icell).strip()), None)
        if match is not None:
            unmarked[match] = i
    return unmarked


def _extra_cells(p: _Pairing, unmarked: dict[int, int]):
    """The student's own code cells, each attached to the instructor cell before it
    (-1: before the first), and notes about them."""
    extras_after: dict[int, list[nbformat.NotebookNode]] = {}
    anchor, dropped_fake, notes = -1, [], []
    for j, cell in enumerate(p.stud_cells):
        gid = cells.grade_id(cell)
        if gid in p.inst_ids or j in unmarked:
            anchor = p.inst_ids[gid] if gid in p.inst_ids else unmarked[j]
            continue
        text = cells.source(cell)
        if cell.get("cell_type") != "code" or not text.strip():
            continue
        nbg = cells.nbgrader_meta(cell)
        if nbg.get("grade") or nbg.get("solution"):
            dropped_fake.append(gid or "?")
        extras_after.setdefault(anchor, []).append(nbformat.v4.new_code_cell(
            source=text, metadata={"autograder": {"student_extra_cell": True}}))
    for gid in dropped_fake:
        notes.append(f"a cell claims to be graded part '{gid}', which the assignment "
                     "does not have: run as the student's own code, never graded")
    n_extra = sum(len(v) for v in extras_after.values())
    if n_extra:
        notes.append(say("extra_cells", p.language, count=n_extra))
    return extras_after, notes


def _runnable(instructor_nb, p: _Pairing, unmarked_source: dict[int, str],
              extras_after: dict[int, list]) -> nbformat.NotebookNode:
    out = nbformat.v4.new_notebook()
    out.metadata = nbformat.from_dict(copy.deepcopy(dict(instructor_nb.get("metadata", {}))))
    out.metadata["kernelspec"] = dict(COURSE_KERNEL)
    out.metadata.pop("autograder", None)
    out.cells.extend(extras_after.get(-1, []))
    for i, icell in enumerate(p.inst_cells):
        if is_check_cell(icell):
            continue
        cell = copy.deepcopy(icell)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        gid = cells.grade_id(icell)
        if cells.nbgrader_meta(icell).get("solution"):
            # every answer cell (autograded or manually graded): the student's source
            if gid in p.by_id:
                cell["source"] = cells.source(p.stud_cells[p.by_id[gid][0]])
            elif icell.get("cell_type") == "code":
                cell["source"] = cells.release_stub(cells.source(icell))
            else:
                cell["source"] = cells.TEXT_STUB
        elif cells.is_test(icell):
            cell["source"] = cells.strip_hidden_tests(cells.source(icell))
        elif i in unmarked_source:
            cell["source"] = unmarked_source[i]
        cell.setdefault("metadata", {})
        out.cells.append(nbformat.from_dict(cell))
        out.cells.extend(extras_after.get(i, []))
    return out
