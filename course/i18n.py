"""The course in more than one language: one English source, translations beside it.

The English MyST pages are the source. A translation lives in gettext catalogues,
one per page: ``locale/<language>/LC_MESSAGES/<page>.po`` (``book/intro.po`` for
``book/intro.md``), written by ``make translations`` and read by Sphinx's own
internationalisation when the book is built in that language (course.sphinx_i18n).
``locale/<language>/LC_MESSAGES/site.po`` holds the site's own strings (its title,
the notice on a page not yet translated).

Standard library only: scripts/make_public.py (which runs before any virtual
environment exists) uses it to write the translated page notebooks of the public
course, and the website build uses the same functions for its downloads, so a
Chinese page's download, Binder and Colab buttons all open the same notebook.

- LANGUAGES: the site's languages, the source first, with their folder on the site;
- read_po / translations: a catalogue's entries, and its translated messages;
- translate_source: a page's MyST source with every translated message replaced;
- pending_pages: the pages still to translate into a language.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff]")  # Chinese characters
LOCALE_DIR = "locale"  # relative to the book's folder (the repository root)
SOURCE_LANGUAGE = "en"


@dataclass(frozen=True)
class Language:
    code: str          # Sphinx's `language` (gettext's locale name)
    name: str          # what the language switch shows, in the language itself
    html_lang: str     # <html lang=...>: picks the right CJK glyphs in browsers
    site_dir: str      # the folder of its site inside the English one ("" for English)


LANGUAGES = {
    "en": Language("en", "English", "en", ""),
    "zh_CN": Language("zh_CN", "中文", "zh-CN", "zh"),
}
TRANSLATIONS = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]


def language_of(app) -> Language:
    """The language a Sphinx application builds (English unless it is a translation)."""
    return LANGUAGES.get(app.config.language or SOURCE_LANGUAGE, LANGUAGES[SOURCE_LANGUAGE])


def is_translation(app) -> bool:
    return language_of(app).code != SOURCE_LANGUAGE


def site_languages(book_dir: Path) -> list[Language]:
    """The languages a book is built in: English, and each translation that has a
    locale/<language>/ folder (a book without one is built in English only)."""
    return [language for code, language in LANGUAGES.items()
            if code == SOURCE_LANGUAGE or (Path(book_dir) / LOCALE_DIR / code).is_dir()]

# Notebooks in another language sit in a folder named after it, beside the English
# ones: exercises/zh_CN/adam/adam.ipynb is the Chinese release of exercises/adam/adam.ipynb
# (same cells, grade ids and checks), and the public course's zh_CN/book/<page>.md is
# the Chinese notebook of book/<page>.md (Binder opens it).
def exercise_notebook(path: str, language: str) -> str:
    """exercises/<a>/<a>.ipynb -> exercises/<language>/<a>/<a>.ipynb (English: as is)."""
    if language == SOURCE_LANGUAGE:
        return path
    prefix = "exercises/"
    lead = "/" if path.startswith("/") else ""
    bare = path.lstrip("/")
    if not bare.startswith(prefix):
        return path
    return f"{lead}{prefix}{language}/{bare[len(prefix):]}"


def page_notebook(page: str, language: str) -> str:
    """book/<page>.md in the public course, in ``language``."""
    return page if language == SOURCE_LANGUAGE else f"{language}/{page}"


def catalogue_dir(book_dir: Path, language: str) -> Path:
    return Path(book_dir) / LOCALE_DIR / language / "LC_MESSAGES"


def catalogue_path(book_dir: Path, language: str, docname: str) -> Path:
    return catalogue_dir(book_dir, language) / f"{docname}.po"


# --- reading catalogues -------------------------------------------------------------

@dataclass
class Entry:
    msgid: str
    msgstr: str = ""
    fuzzy: bool = False
    obsolete: bool = False
    comments: list[str] = field(default_factory=list)  # translator comments ("# ...")

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and not self.fuzzy and not self.obsolete


_KEYWORD = re.compile(r"^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+(\".*\")\s*$")


def _unquote(text: str) -> str:
    return ast.literal_eval(text)  # a C string literal, as gettext writes it


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file, header excluded (obsolete ones flagged)."""
    entries: list[Entry] = []
    current: dict = {}
    key = None

    def finish():
        nonlocal current, key
        if "msgid" in current and current["msgid"] != "":
            entries.append(Entry(current["msgid"], current.get("msgstr", ""),
                                 "fuzzy" in current.get("flags", ()),
                                 current.get("obsolete", False),
                                 current.get("comments", [])))
        current, key = {}, None

    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            finish()
            continue
        if line.startswith("#,"):
            if "msgid" in current:
                finish()
            current.setdefault("flags", set()).update(
                flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            if "msgid" in current:
                finish()
            if line.startswith("# ") or line == "#":
                current.setdefault("comments", []).append(line[2:])
        elif line.startswith('"'):
            if key is None:
                raise ValueError(f"{path}: a string outside an entry: {raw!r}")
            current[key] += _unquote(line)
        else:
            match = _KEYWORD.match(line)
            if not match:
                raise ValueError(f"{path}: cannot read the line {raw!r}")
            keyword, value = match.groups()
            if keyword in ("msgctxt", "msgid") and "msgid" in current and (
                    keyword == "msgctxt" or "msgstr" in current):
                finish()
            key = "msgstr" if keyword == "msgstr[0]" else keyword
            current[key] = _unquote(value)
            if obsolete:
                current["obsolete"] = True
    finish()
    return entries


def translations(path: Path) -> dict[str, str]:
    """msgid -> msgstr of the translated entries (not fuzzy, not empty) of a .po file;
    empty when the file does not exist."""
    if not Path(path).is_file():
        return {}
    return {e.msgid: e.msgstr for e in read_po(path) if e.translated}


# --- the pages still to translate ---------------------------------------------------

PENDING_NAME = "pending-pages.txt"


def pending_pages(book_dir: Path, language: str) -> list[str]:
    """The pages listed in locale/<language>/pending-pages.txt (comments dropped)."""
    path = Path(book_dir) / LOCALE_DIR / language / PENDING_NAME
    if not path.is_file():
        return []
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()
            if line.split("#", 1)[0].strip()]


# --- a page's source in another language --------------------------------------------

FENCE = re.compile(r"^([ \t>]*)(`{3,}|~{3,}|:{3,})\s*(\S*)")
# What may stand before a message on its line: indentation, quote marks, a heading's
# hashes, a list marker, a table's bar, a directive's name (its argument is a message),
# a figure's :alt: option (its text is a message)
LINE_PREFIX = (r"(?:^[ \t>]*(?:\#{1,6}[ \t]+|[-*+][ \t]+|\d+[.)][ \t]+|:alt:[ \t]+|"
               r"(?:`{3,}|:{3,})\{[\w:-]+\}[ \t]+)?|\|[ \t]*)")
LINE_SUFFIX = r"(?=[ \t]*(?:\||$))"
# Where the message's source broke a line (the message joins the lines with a space),
# the next line may start with indentation and quote marks
SPACE = r"(?:[ \t]*\n[ \t>]*|[ \t]+)"
CODE_INFO = re.compile(r"^\{(code-cell|code-block|code|literalinclude|math)\}")


def _text_spans(source: str) -> list[tuple[int, int]]:
    """(start, end) of the parts of a MyST page that hold prose: not the front
    matter, code cells, fenced code or maths. Directives ({admonition}, {glossary})
    hold prose: their fences are followed, so that their closing fence is not taken
    for the opening of a code block."""
    lines = source.splitlines(keepends=True)
    spans, index, position = [], 0, 0
    if lines and lines[0].strip() == "---":  # the jupytext/YAML header
        index = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"),
                     len(lines) - 1) + 1
        position = sum(len(line) for line in lines[:index])
    start, open_directives = position, []
    while index < len(lines):
        line = lines[index]
        fence = FENCE.match(line)
        position += len(line)
        index += 1
        if not fence:
            continue
        marker, info = fence.group(2), fence.group(3)
        if not info and open_directives and marker[0] == open_directives[-1][0] and (
                len(marker) >= len(open_directives[-1])):
            open_directives.pop()  # the end of a directive
            continue
        if info.startswith("{") and not CODE_INFO.match(info):
            open_directives.append(marker)
            continue
        # code: a code cell, a fenced block, maths; skip to its closing fence
        spans.append((start, position - len(line)))
        while index < len(lines):
            closing = FENCE.match(lines[index])
            position += len(lines[index])
            index += 1
            if (closing and not closing.group(3) and closing.group(2)[0] == marker[0]
                    and len(closing.group(2)) >= len(marker)):
                break
        start = position
    spans.append((start, position))
    return [(a, b) for a, b in spans if b > a]


def message_pattern(msgid: str) -> re.Pattern:
    """A message as it stands in the source: at a message boundary, its words
    separated by spaces or line breaks."""
    words = [re.escape(word) for word in msgid.split(" ") if word]
    return re.compile(LINE_PREFIX + "(" + SPACE.join(words) + ")" + LINE_SUFFIX, re.M)


def translate_source(source: str, catalogue: dict[str, str]) -> tuple[str, list[str]]:
    """(the page's source with each translated message replaced, the messages of the
    catalogue that were not found in its prose).

    Longer messages first, so that a short one (a heading, "Answer") never replaces
    words inside a longer paragraph. Code, maths and the header are left alone.
    """
    spans = _text_spans(source)
    replacements: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    missing = []
    for msgid in sorted(catalogue, key=len, reverse=True):
        msgstr = catalogue[msgid]
        found = False
        pattern = message_pattern(msgid)
        for span_start, span_end in spans:
            for match in pattern.finditer(source, span_start, span_end):
                start, end = match.span(1)
                if any(start < b and a < end for a, b in taken):
                    continue
                found = True
                taken.append((start, end))
                replacements.append((start, end, msgstr))
        if not found:
            missing.append(msgid)
    out = source
    for start, end, text in sorted(replacements, reverse=True):
        out = out[:start] + text + out[end:]
    return out, missing


def mark_language(source: str, language: str) -> str:
    """Record the notebook's language in its jupytext header
    (metadata["course"]["language"], read by the notebooks' tools)."""
    if not source.startswith("---\n"):
        return f"---\ncourse:\n  language: {language}\n---\n" + source
    end = source.index("\n---", 3)
    return source[:end] + f"\ncourse:\n  language: {language}" + source[end:]


# How a translation says what a page glues into its prose as English words: a list of
# names ("RMSprop and Adam", "Adam, SGD, Adagrad") and a count ("8 of the 8").
GLUED_WORDS = {
    "zh_CN": {", ": "、", " and ": "和", "of": "{total} 个中的 {count} 个"},
}
_GLUED_SEPARATOR = re.compile(r"(, | and )(?![^()]*\))")  # not inside parentheses
_GLUED_COUNT = re.compile(r"(\d+) of the (\d+)")


def translate_glued_text(text: str, catalogue: dict[str, str], language: str) -> str:
    """A text a page glues into a paragraph ({glue:text}`key`), in a translated page:
    a message of the page's catalogue (a figure's legend names the same runs) becomes
    its translation, so do the names of a list of them and a count "N of the M";
    anything else (a number) stays as it is."""
    if catalogue.get(text):
        return catalogue[text]
    words = GLUED_WORDS.get(language)
    if not words:
        return text
    count = _GLUED_COUNT.fullmatch(text)
    if count:
        return words["of"].format(count=count[1], total=count[2])
    parts = _GLUED_SEPARATOR.split(text)
    names, separators = parts[::2], parts[1::2]
    if len(names) < 2 or not all(catalogue.get(name) for name in names):
        return text
    out = catalogue[names[0]]
    for separator, name in zip(separators, names[1:]):
        out += words[separator] + catalogue[name]
    # a space between a Latin name and a Chinese word, as in the pages' own sentences
    return re.sub(r"(?<=[A-Za-z0-9])(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])(?=[A-Za-z0-9])",
                  " ", out) if language.startswith("zh") else out
