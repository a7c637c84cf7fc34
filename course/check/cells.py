"""nbgrader's cells as the check sees them, without nbgrader (not in the student's set).

- a cell's kind from its ``metadata["nbgrader"]`` flags, as nbgrader's ``utils`` define
  them: a *test* is graded code that is not an answer, an *answer* a solution that is
  not graded itself, a *written* answer a graded solution (graded by hand), *setup* a
  locked code cell of the instructor's, *check* this check's own cell;
- ``checksum``: nbgrader's ``utils.compute_checksum``, which the release stores in every
  locked and answer cell: a locked cell whose checksum no longer matches was edited, an
  answer cell whose checksum still matches was never touched;
- ``release_record``: what ``make exercises`` stores in a released notebook's
  ``metadata["course"]``: the assignment's name and its cells in order (the visible
  source of each locked cell, which the student has anyway), so that the check knows a
  deleted or edited cell and can run the instructor's copy in its place, as grading does.
"""

from __future__ import annotations

import hashlib
import re

CHECK_CELL_ID = "check_my_notebook"
CODE_STUB = "raise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
# \s, not a space: the public package carries no hidden-test marker (a leak test looks)
_HIDDEN = re.compile(r"^[^\n]*BEGIN\sHIDDEN\sTESTS.*?^[^\n]*END\sHIDDEN\sTESTS[^\n]*\n?",
                     re.S | re.M)


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def grade_id(cell) -> str | None:
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def source(cell) -> str:
    text = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(text, list):
        text = "".join(s for s in text if isinstance(s, str))
    return text if isinstance(text, str) else ""


def kind(cell) -> str | None:
    """"check", "test", "answer", "written", "setup", or None (a plain cell)."""
    meta, code = nbgrader_meta(cell), cell.get("cell_type") == "code"
    if grade_id(cell) == CHECK_CELL_ID:
        return "check"
    grade, solution = bool(meta.get("grade")), bool(meta.get("solution"))
    if grade and solution:
        return "written"
    if grade and code:
        return "test"
    if solution and code:
        return "answer"
    if meta.get("locked") and code and grade_id(cell):
        return "setup"
    return None


def is_check_cell(cell) -> bool:
    """This check's own cell (grading skips it: it runs nothing graded)."""
    return grade_id(cell) == CHECK_CELL_ID


def checksum(cell) -> str:
    """nbgrader's checksum of a cell (nbgrader.utils.compute_checksum)."""
    meta = nbgrader_meta(cell)
    grade, solution = bool(meta.get("grade")), bool(meta.get("solution"))
    locked = False if solution else (grade or bool(meta.get("locked")))
    digest = hashlib.md5()
    for part in (source(cell), str(cell.get("cell_type")), str(grade), str(solution),
                 str(locked), str(meta.get("grade_id", ""))):
        digest.update(part.encode("utf-8"))
    if grade:
        digest.update(str(float(meta.get("points", 0))).encode("utf-8"))
    return digest.hexdigest()


def untouched(cell) -> bool:
    """A released cell still as released (its stored checksum still matches)."""
    stored = nbgrader_meta(cell).get("checksum")
    return bool(stored) and stored == checksum(cell)


def visible_part(text: str) -> str:
    """A test cell's source without its hidden-test block (what grading runs of it)."""
    return _HIDDEN.sub("", text).rstrip() + ("\n" if text.endswith("\n") else "")


def heading(cell) -> str | None:
    if cell.get("cell_type") != "markdown":
        return None
    line = next((ln for ln in source(cell).splitlines() if ln.startswith("#")), None)
    return line.lstrip("#").strip() if line else None


def release_record(notebook, assignment: str) -> dict:
    """The record of a released notebook's cells for its ``metadata["course"]``."""
    cells, title = [], ""
    for cell in notebook["cells"]:
        title = heading(cell) or title
        what = kind(cell)
        if what is None:
            if cell.get("cell_type") == "code" and source(cell).strip():
                cells.append({"kind": "code", "id": cell.get("id"), "source": source(cell)})
            continue
        entry = {"kind": what, "grade_id": grade_id(cell)}
        if what in ("test", "written"):
            entry.update(points=float(nbgrader_meta(cell).get("points", 0)), title=title)
        if what in ("test", "setup", "answer"):
            entry["source"] = source(cell)  # an answer's: the stub, as released
        if what in ("answer", "written"):
            entry["checksum"] = checksum(cell)
        cells.append(entry)
    return {"assignment": assignment, "cells": cells}


def record_of(notebook) -> dict | None:
    """The release record a notebook carries, or None."""
    meta = notebook.get("metadata") if isinstance(notebook, dict) else None
    course = meta.get("course") if isinstance(meta, dict) else None
    if not isinstance(course, dict) or not isinstance(course.get("cells"), list):
        return None
    if not all(isinstance(c, dict) and isinstance(c.get("kind"), str)
               for c in course["cells"]):
        return None
    return course
