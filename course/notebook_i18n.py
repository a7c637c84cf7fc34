"""The exercise notebooks in another language, from the one solution source.

A Chinese exercise notebook (exercises/zh_CN/<a>/<a>.ipynb) is the English release with
its messages translated, and nothing else changed: the same cells in the same order,
the same grade ids, points and flags, the same code. Its messages are

- each block of an instruction's markdown (the text between blank lines; a fenced code
  block is code, not a message), except a written answer's cell (the student's);
- each string literal of a code cell that reads as words (a space and a word), outside
  the solution and hidden-test blocks: the visible checks' messages (``assert ...,
  "message"``, a hint), what a cell prints, a docstring.

They live in gettext catalogues beside the book's:
``locale/<language>/LC_MESSAGES/exercises/<a>.po``, updated by ``make translations``
(scripts/translations.py), so that a changed English instruction or check message
shows as missing in the translation tests until it is translated again. The
"Check my notebook" heading and cell are written in each language by course.check.

``translate_notebook`` is used by the release (``make exercises``) and by the grader,
which grades a Chinese submission against the solution translated the same way, so
that its test cells are the ones the student was given.

Standard library only, like course.i18n.
"""

from __future__ import annotations

import copy
import io
import re
import textwrap
import tokenize
from pathlib import Path

from course import i18n
from course.check import cells as nbcells
from course.check.frontend import CHECK_HEADING, CHECK_HEADING_ID, check_cell_source

DOMAIN = "exercises"  # locale/<language>/LC_MESSAGES/exercises/<assignment>.po
_BLOCK_MARKERS = re.compile(r"^[^\n]*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)", re.M)
_WORD = re.compile(r"[A-Za-z]{2,}")
_PREFIX = re.compile(r"^([rRbBfFuU]*)('''|\"\"\"|'|\")")
_INSTALL = re.compile(r"pip install git\+(\S+?)@([\w./-]+)")


def catalogue_path(root: Path, language: str, assignment: str) -> Path:
    return i18n.catalogue_path(root, language, f"{DOMAIN}/{assignment}")


def catalogue_domain(assignment: str) -> str:
    """The catalogue's name among the book's (scripts/translations.py)."""
    return f"{DOMAIN}/{assignment}"


# --- markdown -----------------------------------------------------------------------

def _markdown_blocks(text: str) -> list[tuple[str, bool]]:
    """(block, is a message) of a markdown cell, in order; joined with blank lines they
    give the cell back. A fenced code block is one block and no message."""
    blocks, fence, current = [], None, []
    for part in text.split("\n\n"):
        current.append(part)
        for line in part.splitlines():
            stripped = line.strip()
            if fence is None and stripped.startswith(("```", "~~~")):
                fence = stripped[:3]
            elif fence is not None and stripped.startswith(fence):
                fence = None
        if fence is None:
            block = "\n\n".join(current)
            blocks.append((block, bool(block.strip()) and not block.lstrip().startswith(
                ("```", "~~~"))))
            current = []
    if current:
        blocks.append(("\n\n".join(current), False))
    return blocks


def _translate_markdown(text: str, catalogue: dict, missing: list) -> str:
    out = []
    for block, is_message in _markdown_blocks(text):
        if is_message and block.strip() in catalogue:
            lead = block[:len(block) - len(block.lstrip())]
            tail = block[len(block.rstrip()):]
            block = lead + catalogue[block.strip()] + tail
        elif is_message:
            missing.append(block.strip())
        out.append(block)
    return "\n\n".join(out)


# --- code ---------------------------------------------------------------------------

def _open_lines(text: str) -> set[int]:
    """Line numbers (1-based) outside the solution and hidden-test blocks."""
    lines, inside, open_lines = text.splitlines(), False, set()
    for number, line in enumerate(lines, 1):
        marker = _BLOCK_MARKERS.match(line)
        if marker:
            inside = marker.group(1) == "BEGIN"
            continue
        if not inside:
            open_lines.add(number)
    return open_lines


def _string_literals(text: str) -> list[tuple[int, int, int, int]]:
    """(start, end) offsets of every string literal of a cell, and of its text between
    the quotes, in lines outside the solution and hidden blocks; [] when the cell is
    not Python (a magic)."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    offset = lambda row, col: starts[row - 1] + col  # noqa: E731 - a two-argument map
    open_lines, found, fstring = _open_lines(text), [], None
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []
    for token in tokens:
        name = tokenize.tok_name[token.type]
        if name == "FSTRING_START":  # Python 3.12+: an f-string is many tokens
            fstring = token.start
            continue
        if name == "FSTRING_END" and fstring is not None:
            start, end, fstring = offset(*fstring), offset(*token.end), None
        elif token.type == tokenize.STRING and fstring is None:
            start, end = offset(*token.start), offset(*token.end)
        else:
            continue
        if token.start[0] not in open_lines:
            continue
        quote = _PREFIX.match(text[start:end])
        if quote and "b" not in quote.group(1).lower():
            found.append((start, end, start + quote.end(), end - len(quote.group(2))))
    return found


def is_message(literal: str) -> bool:
    """A string that reads as words (not a key, a name or a format)."""
    return " " in literal.strip() and bool(_WORD.search(literal))


def _code_messages(text: str) -> list[str]:
    return [text[a:b] for _, _, a, b in _string_literals(text) if is_message(text[a:b])]


def _translate_code(text: str, catalogue: dict, missing: list) -> str:
    for _, _, start, end in reversed(_string_literals(text)):
        literal = text[start:end]
        if not is_message(literal):
            continue
        if literal in catalogue:
            text = text[:start] + catalogue[literal] + text[end:]
        else:
            missing.append(literal)
    return text


# --- notebooks ----------------------------------------------------------------------

def _translatable(cell) -> bool:
    """Cells whose messages the catalogue holds: not the check's own cells (written in
    each language by course.check) and not a written answer."""
    if cell.get("id") == CHECK_HEADING_ID or nbcells.is_check_cell(cell):
        return False
    return nbcells.kind(cell) != "written"


def notebook_messages(notebook) -> list[str]:
    """The messages of a notebook, in order, each once."""
    found: dict[str, None] = {}
    for cell in notebook["cells"]:
        if not _translatable(cell):
            continue
        text = nbcells.source(cell)
        if cell.get("cell_type") == "markdown":
            found.update((b.strip(), None) for b, msg in _markdown_blocks(text) if msg)
        elif cell.get("cell_type") == "code":
            found.update((m, None) for m in _code_messages(text))
    return list(found)


def _check_cells_in(cell, language: str, name: str) -> str:
    """The check heading's or the check cell's source in ``language``."""
    if cell.get("id") == CHECK_HEADING_ID:
        title, text = CHECK_HEADING[language].split("\n\n")
        # Chinese is not wrapped: a line break inside a paragraph shows as a space
        return f"{title}\n\n{textwrap.fill(text, 88) if language == 'en' else text}"
    install = _INSTALL.search(nbcells.source(cell))
    url, branch = install.groups() if install else ("", "main")
    return check_cell_source(f"{name}.ipynb", url, branch, language)


def translate_notebook(notebook, catalogue: dict[str, str], language: str,
                       name: str) -> tuple[dict, list[str]]:
    """(a copy of ``notebook`` in ``language``, the messages the catalogue lacks, which
    stay in English). Locked and answer cells get nbgrader's checksum of their new text
    where the release stored one, so nbgrader and the check see them as released."""
    translated = copy.deepcopy(notebook)
    missing: list[str] = []
    for cell in translated["cells"]:
        text = nbcells.source(cell)
        if not _translatable(cell):
            if cell.get("id") == CHECK_HEADING_ID or nbcells.is_check_cell(cell):
                text = _check_cells_in(cell, language, name)
        elif cell.get("cell_type") == "markdown":
            text = _translate_markdown(text, catalogue, missing)
        elif cell.get("cell_type") == "code":
            text = _translate_code(text, catalogue, missing)
        cell["source"] = text
        meta = nbcells.nbgrader_meta(cell)
        if meta.get("checksum"):
            meta["checksum"] = nbcells.checksum(cell)
    translated["metadata"].setdefault("course", {})["language"] = language
    return translated, list(dict.fromkeys(missing))


def in_language(notebook, language: str, name: str, root: Path = i18n.ROOT):
    """``notebook`` (an English exercise or solution of assignment ``name``) in
    ``language``, from its catalogue; English returns it as it is."""
    if language == i18n.SOURCE_LANGUAGE:
        return notebook
    catalogue = i18n.translations(catalogue_path(root, language, name))
    return translate_notebook(notebook, catalogue, language, name)[0]
