"""Read a submitted notebook safely: the first step between a file a student handed in
and the kernel that grades it (see book/instructor/security.md).

* ``read_submission(path)`` returns a validated nbformat-4 notebook, or raises
  ``Rejected`` with a one-line reason an instructor can act on: empty file, file over
  the size cap (checked before reading), not UTF-8, invalid JSON, not a notebook,
  nbformat 3 that cannot be converted, an unknown nbformat version, ...
  Problems that do not stop grading (nbformat 3 converted, another kernel, cells that
  failed schema validation but could be salvaged) are recorded in the notebook's
  ``metadata["autograder"]["intake_notes"]``; ``assemble`` passes them on.

``autograder/assemble.py`` then rebuilds the notebook that runs around the instructor's
copy.
"""

from __future__ import annotations

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

COURSE_KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                 "language": "python"}


class Rejected(Exception):
    """A submission that cannot be graded; ``reason`` is one line for the instructor."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def read_submission(path: str | os.PathLike, max_bytes: int = MAX_BYTES
                    ) -> nbformat.NotebookNode:
    """Read ``path`` as a notebook to grade; raise ``Rejected`` if it cannot be.

    The size is checked with ``lstat`` before anything is read, and at most
    ``max_bytes + 1`` bytes are ever read (a file that grows is still capped).
    Symbolic links and special files are rejected: a link could point at the
    instructor's own files.
    """
    return parse_submission(read_capped(path, max_bytes))


def read_capped(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes, with every check of ``read_submission`` but the notebook's
    format (what the task queue stores before a worker grades it)."""
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
    return raw


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
    _use_course_kernel(nb, notes)
    nb = _validated(nb, notes)
    if notes:
        nb.metadata.setdefault("autograder", {})["intake_notes"] = notes
    return nb


def _use_course_kernel(nb: nbformat.NotebookNode, notes: list[str]) -> None:
    """Every notebook runs in the course's Python 3 kernel, whatever it was saved with."""
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


def _convert_v3(data: dict) -> nbformat.NotebookNode:
    try:
        nb3 = nbformat.v3.nbjson.JSONReader().to_notebook(data)
        nbformat.validate(nb3, version=3)
        nb = nbformat.convert(nb3, 4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds here
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
    except Exception as exc:  # noqa: BLE001 - a malformed notebook can break the validator
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
    except Exception:  # noqa: BLE001 - any error: the salvage failed too
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
