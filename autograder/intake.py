"""Read a submitted notebook safely and rebuild it around the instructor's copy.

Two steps stand between a file a student handed in and the kernel that grades it
(see book/instructor/security.md):

* ``read_submission(path)`` returns a validated nbformat-4 notebook, or raises
  ``Rejected`` with a one-line reason an instructor can act on: empty file, file over
  the size cap (checked before reading), not UTF-8, invalid JSON, not a notebook,
  nbformat 3 that cannot be converted, an unknown nbformat version, ...
  Problems that do not stop grading (nbformat 3 converted, another kernel, cells that
  failed schema validation but could be salvaged) are recorded in the notebook's
  ``metadata["autograder"]["intake_notes"]``; ``assemble`` passes them on.

* ``assemble(instructor_nb, student_nb)`` returns ``(runnable_nb, notes)``: a copy of
  the instructor's notebook in which only the autograded answer cells carry the
  student's source (matched by nbgrader ``grade_id``). Test cells, points, grade
  flags, schema versions, cell types and cell order all come from the instructor, so
  tampering with them changes nothing; ``notes`` says what was found. An answer cell
  the student deleted gets the release stub (``raise NotImplementedError()``), so the
  part scores 0 instead of waiting for manual grading. The hidden-test blocks of the
  test cells are removed from the runnable notebook (the grader judges hidden checks in
  its own process), and no instructor solution ever reaches it.

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
import json
import os
import stat
import warnings
from pathlib import Path
from typing import Any

import nbformat

#: Default size cap for a submitted notebook (checked before the file is read).
MAX_BYTES = 20 * 2**20

#: nbgrader metadata schema versions this module understands.
KNOWN_SCHEMA_VERSIONS = {1, 2, 3}

#: nbgrader's default stub for a cleared solution (ClearSolutions.code_stub["python"]).
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"

COURSE_KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                 "language": "python"}


class Rejected(Exception):
    """A submission that cannot be graded; ``reason`` is one line for the instructor."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ----------------------------------------------------------------------------------
# read_submission
# ----------------------------------------------------------------------------------

def read_submission(path: str | os.PathLike, max_bytes: int = MAX_BYTES
                    ) -> nbformat.NotebookNode:
    """Read ``path`` as a notebook to grade; raise ``Rejected`` if it cannot be.

    The size is checked with ``lstat`` before anything is read, and at most
    ``max_bytes + 1`` bytes are ever read (a file that grows is still capped).
    Symbolic links and special files are rejected: a link could point at the
    instructor's own files.
    """
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise Rejected(f"no such file: {path.name}") from None
    except OSError as exc:
        raise Rejected(f"cannot access {path.name}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise Rejected(f"{path.name} is a symbolic link, not a notebook file")
    if not stat.S_ISREG(st.st_mode):
        raise Rejected(f"{path.name} is not a regular file")
    if st.st_size == 0:
        raise Rejected("empty file (0 bytes)")
    if st.st_size > max_bytes:
        raise Rejected(f"file too large: {_mb(st.st_size)} (limit {_mb(max_bytes)})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise Rejected(f"cannot read {path.name}: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise Rejected(f"file too large: over {_mb(max_bytes)}")
    return parse_submission(raw)


def parse_submission(raw: bytes) -> nbformat.NotebookNode:
    """The part of ``read_submission`` that works on the file's bytes."""
    notes: list[str] = []
    if not raw.strip():
        raise Rejected("empty file (only whitespace)")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        notes.append("the file starts with a UTF-8 byte-order mark (ignored)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(f"not UTF-8 text (bad byte 0x{raw[exc.start]:02x} at offset "
                       f"{exc.start}): not a notebook saved by Jupyter") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejected(f"invalid JSON at line {exc.lineno}, column {exc.colno}: "
                       f"{exc.msg} (the file is damaged or not a notebook)") from None
    except RecursionError:
        raise Rejected("invalid notebook: JSON nested too deeply") from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise Rejected("not a Jupyter notebook (JSON without an 'nbformat' field)")
    major = data.get("nbformat")
    if isinstance(major, bool) or not isinstance(major, int):
        raise Rejected(f"not a Jupyter notebook ('nbformat' is {major!r})")
    if major == 3:
        nb = _convert_v3(data)
        notes.append("nbformat 3 notebook converted to nbformat 4")
    elif major == 4:
        minor = data.get("nbformat_minor")
        current = nbformat.v4.nbformat_minor
        if isinstance(minor, int) and not isinstance(minor, bool) and minor > current:
            notes.append(f"nbformat 4.{minor} is newer than this grader knows (4."
                         f"{current}): read as 4.{current}")
            data["nbformat_minor"] = current
        if not isinstance(data.get("cells"), list):
            raise Rejected("not a Jupyter notebook (no list of cells)")
        try:  # what nbformat.read does: sources saved as lists of lines are joined
            nb = nbformat.v4.nbjson.JSONReader().to_notebook(data)
        except Exception:  # noqa: BLE001 - malformed cells: salvaged below
            nb = nbformat.from_dict(data)
    else:
        raise Rejected(f"unsupported notebook format version {major} (expected 4)")
    meta = nb.get("metadata")
    if not isinstance(meta, dict):
        nb["metadata"] = meta = nbformat.NotebookNode()
    kernel = meta.get("kernelspec") if isinstance(meta.get("kernelspec"), dict) else {}
    info = meta.get("language_info") if isinstance(meta.get("language_info"), dict) else {}
    if kernel.get("name") not in (None, "python3") or kernel.get("language") not in (
            None, "python") or info.get("name") not in (None, "python"):
        notes.append(f"notebook saved with kernel "
                     f"{kernel.get('name') or info.get('name')!r}: graded with the "
                     "course's Python 3 kernel")
    meta["kernelspec"] = nbformat.from_dict(COURSE_KERNEL)
    if info.get("name") not in (None, "python"):
        meta.pop("language_info", None)
    nb = _validated(nb, notes)
    if notes:
        nb.metadata.setdefault("autograder", {})["intake_notes"] = notes
    return nb


def _convert_v3(data: dict) -> nbformat.NotebookNode:
    try:
        nb3 = nbformat.v3.nbjson.JSONReader().to_notebook(data)
        nbformat.validate(nb3, version=3)
        nb = nbformat.convert(nb3, 4)
    except Exception as exc:  # nbformat raises many kinds here
        raise Rejected(f"nbformat 3 notebook that cannot be converted safely: "
                       f"{_short(exc)}") from None
    return nb


def _validated(nb: nbformat.NotebookNode, notes: list[str]) -> nbformat.NotebookNode:
    """Validate against the nbformat 4 schema; salvage the cells when it fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. MissingIDFieldWarning
            nbformat.validate(nb, version=4)
        return nb
    except nbformat.ValidationError as exc:
        first_error = _short(exc)
    except Exception as exc:
        first_error = _short(exc)
    cells = []
    dropped = 0
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") not in (
                "code", "markdown", "raw"):
            dropped += 1
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            dropped += 1
            continue
        make = {"code": nbformat.v4.new_code_cell, "markdown":
                nbformat.v4.new_markdown_cell, "raw": nbformat.v4.new_raw_cell}
        new = make[cell["cell_type"]](source=source)
        meta = cell.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("nbgrader"), dict):
            new.metadata["nbgrader"] = _jsonable(meta["nbgrader"])
        cells.append(new)
    salvaged = nbformat.v4.new_notebook(cells=cells)
    try:
        nbformat.validate(salvaged, version=4)
    except Exception as exc:
        raise Rejected(f"not a valid notebook: {first_error}") from None
    notes.append(f"the notebook does not follow the nbformat 4 schema ({first_error}): "
                 f"graded from its cells" + (f", {dropped} unreadable cells dropped"
                                             if dropped else ""))
    return salvaged


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 160 else text[:157] + "..."


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


# ----------------------------------------------------------------------------------
# assemble
# ----------------------------------------------------------------------------------

def _nbg(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def _grade_id(cell) -> str | None:
    gid = _nbg(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def is_autograded_answer(cell) -> bool:
    """An answer cell whose code runs before the tests (nbgrader: solution, not grade)."""
    nbg = _nbg(cell)
    return cell.get("cell_type") == "code" and bool(nbg.get("solution")) and \
        not nbg.get("grade")


def is_test(cell) -> bool:
    """An autograded test cell (nbgrader: grade, not solution, code)."""
    nbg = _nbg(cell)
    return cell.get("cell_type") == "code" and bool(nbg.get("grade")) and \
        not nbg.get("solution")


def release_stub(source: str) -> str:
    """What ``nbgrader generate_assignment`` leaves of an answer cell's source."""
    lines = source.split("\n")
    out: list[str] = []
    inside = False
    replaced = False
    for line in lines:
        if BEGIN_SOLUTION in line:
            inside = replaced = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub for stub in CODE_STUB.split("\n"))
        elif END_SOLUTION in line:
            inside = False
        elif not inside:
            out.append(line)
    if not replaced:
        # nbgrader clears an answer cell without delimiters whole; a released cell
        # (already holding the stub) stays as it is
        return source if CODE_STUB in source else CODE_STUB
    return "\n".join(out)


def strip_hidden_tests(source: str) -> str:
    """A test cell's source without its ``### BEGIN/END HIDDEN TESTS`` block(s)."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out).rstrip() + ("\n" if source.endswith("\n") else "")


def assemble(instructor_nb: nbformat.NotebookNode, student_nb: nbformat.NotebookNode
             ) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook to run for one student, and notes on what was found.

    ``instructor_nb`` is the instructor's source notebook (solutions/<name>/<name>.ipynb)
    or the released copy; the result never contains the instructor's solution code or
    hidden tests either way.
    """
    notes: list[str] = list(
        (student_nb.get("metadata", {}).get("autograder") or {}).get("intake_notes", [])
        if isinstance(student_nb.get("metadata", {}).get("autograder"), dict) else [])
    inst_cells = list(instructor_nb.cells)
    inst_ids = {}
    for i, cell in enumerate(inst_cells):
        gid = _grade_id(cell)
        if gid:
            inst_ids.setdefault(gid, i)
    answer_ids = {g for g, i in inst_ids.items() if is_autograded_answer(inst_cells[i])}

    # the student's cells, by grade_id, in the student's order
    by_id: dict[str, list[int]] = {}
    stud_cells = list(student_nb.get("cells", []))
    for j, cell in enumerate(stud_cells):
        gid = _grade_id(cell)
        if gid:
            by_id.setdefault(gid, []).append(j)

    # ---- tampering notes ----------------------------------------------------------
    for gid, idxs in by_id.items():
        if len(idxs) > 1 and gid in inst_ids:
            kind = "answer" if gid in answer_ids else "cell"
            which = "the first one is graded" if gid in answer_ids else \
                "the instructor's copy is used"
            notes.append(f"{kind} '{gid}' appears {len(idxs)} times: {which}")
    for gid, i in inst_ids.items():
        icell = inst_cells[i]
        inbg = _nbg(icell)
        if gid not in by_id:
            if gid in answer_ids:
                notes.append(f"answer cell '{gid}' is missing: graded as unanswered")
            elif is_test(icell):
                notes.append(f"test cell '{gid}' is missing: the instructor's copy is used")
            continue
        scell = stud_cells[by_id[gid][0]]
        snbg = _nbg(scell)
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
        if is_test(icell) and scell.get("cell_type") == icell.get("cell_type") and \
                _src(scell).strip() != strip_hidden_tests(_src(icell)).strip() and \
                _src(scell).strip() != _src(icell).strip():
            notes.append(f"test cell '{gid}' was edited: the instructor's copy is used")
        elif not is_test(icell) and gid not in answer_ids and _nbg(icell).get("locked") \
                and icell.get("cell_type") == "code" and \
                _src(scell).strip() != _src(icell).strip():
            notes.append(f"read-only cell '{gid}' was edited: the instructor's copy is "
                         "used")
    order = [gid for gid in (_grade_id(c) for c in stud_cells) if gid in inst_ids]
    seen: list[str] = []
    for gid in order:
        if gid not in seen:
            seen.append(gid)
    if seen != sorted(seen, key=inst_ids.__getitem__):
        notes.append("cells were reordered: graded in the assignment's order")

    # ---- unmarked instructor code cells (no nbgrader metadata) ---------------------
    # nbgrader leaves them to the student: the student's version runs in their place,
    # found by cell id (kept by the release) or else by identical source; a deleted
    # one runs as the instructor wrote it.
    unmarked = {}  # student cell index -> instructor cell index
    taken: set[int] = set()
    for i, icell in enumerate(inst_cells):
        if icell.get("cell_type") != "code" or _nbg(icell):
            continue
        match = next((j for j, c in enumerate(stud_cells) if j not in taken
                      and icell.get("id") and c.get("id") == icell.get("id")
                      and c.get("cell_type") == "code" and not _grade_id(c)), None)
        if match is None:
            match = next((j for j, c in enumerate(stud_cells) if j not in taken
                          and c.get("cell_type") == "code" and not _grade_id(c)
                          and _src(c).strip() == _src(icell).strip()), None)
        if match is not None:
            taken.add(match)
            unmarked[match] = i
    unmarked_source = {i: _src(stud_cells[j]) for j, i in unmarked.items()}

    # ---- extra cells: attach to the instructor cell that precedes them ------------
    extras_after: dict[int, list[nbformat.NotebookNode]] = {}
    anchor = -1  # -1: before the first instructor cell
    dropped_fake = []
    for j, cell in enumerate(stud_cells):
        gid = _grade_id(cell)
        if gid in inst_ids:
            anchor = inst_ids[gid]
            continue
        if j in unmarked:
            anchor = unmarked[j]
            continue
        if cell.get("cell_type") != "code":
            continue
        source = _src(cell)
        if not source.strip():
            continue
        if gid is not None or _nbg(cell):
            nbg = _nbg(cell)
            if nbg.get("grade") or nbg.get("solution"):
                dropped_fake.append(gid or "?")
        extras_after.setdefault(anchor, []).append(
            nbformat.v4.new_code_cell(source=source, metadata={"autograder": {
                "student_extra_cell": True}}))
    for gid in dropped_fake:
        notes.append(f"a cell claims to be graded part '{gid}', which the assignment "
                     "does not have: run as the student's own code, never graded")
    n_extra = sum(len(v) for v in extras_after.values())
    if n_extra:
        notes.append(f"{n_extra} extra code cell(s) of the student kept next to their "
                     "answers")

    # ---- the runnable notebook -----------------------------------------------------
    out = nbformat.v4.new_notebook()
    out.metadata = nbformat.from_dict(copy.deepcopy(dict(instructor_nb.get("metadata", {}))))
    out.metadata["kernelspec"] = dict(COURSE_KERNEL)
    out.metadata.pop("autograder", None)
    out.cells.extend(extras_after.get(-1, []))
    for i, icell in enumerate(inst_cells):
        cell = copy.deepcopy(icell)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        gid = _grade_id(icell)
        nbg = _nbg(icell)
        if nbg.get("solution"):
            # every answer cell (autograded or manually graded): the student's source
            if gid in by_id:
                cell["source"] = _src(stud_cells[by_id[gid][0]])
            elif icell.get("cell_type") == "code":
                cell["source"] = release_stub(_src(icell))
            else:
                cell["source"] = TEXT_STUB
        elif is_test(icell):
            cell["source"] = strip_hidden_tests(_src(icell))
        elif i in unmarked_source:
            cell["source"] = unmarked_source[i]
        cell.setdefault("metadata", {})
        out.cells.append(nbformat.from_dict(cell))
        out.cells.extend(extras_after.get(i, []))
    return out, notes


def _src(cell) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""
