"""The term base: the glossary's English terms and the Chinese terms the Chinese pages
use for them (book/glossary.md), and the terms a message uses.

Read by the translation tests (every translated message that uses a term has its
Chinese term) and by the Chinese site's search (the terms are jieba's words).
Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CJK = re.compile(r"[\u3400-\u9fff]")


# --- the glossary ------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    english: str
    chinese: str      # the Chinese pages' term (the English word when they keep it)
    # "notes": the notes' own term; "usual": the usual one, where the notes have none;
    # "kept": the English word, kept in Chinese; "unsaid": the glossary does not say
    source: str


def glossary_entries(text: str) -> list[list[str]]:
    """[[term line, ...]] of each entry of the {glossary} blocks."""
    entries = []
    for block in re.findall(r"```\{glossary\}\n(.*?)```", text, re.S):
        current: list[str] = []
        for line in block.split("\n"):
            if line and not line.startswith(" "):
                current.append(line.strip())
            elif current:
                entries.append(current)
                current = []
    return entries


def _listed_terms(text: str, opening: str) -> list[str]:
    """The Chinese terms of the glossary paragraph that opens with **<opening>...**
    (what stands in parentheses is a remark, not a term)."""
    match = re.search(rf"^\*\*{re.escape(opening)}[^*]*\*\*(.*?)(?:\n\n|\Z)", text,
                      re.M | re.S)
    if not match:
        return []
    return re.findall(r"[\u3400-\u9fff]+", re.sub(r"\([^)]*\)", "", match.group(1)))


NOTES_OPENING, USUAL_OPENING = "The notes' terms", "The usual terms"


def glossary_terms(glossary_text: str) -> list[Term]:
    """The term base: one Term per glossary entry.

    An entry's first line is the English term, its first line with Chinese characters
    the Chinese term. An entry without one is a word the Chinese pages keep in English
    (logits, softmax). Whether a Chinese term is the notes' own or the usual one is
    said in the glossary's "Chinese terms" section, in the paragraphs that open with
    **The notes' terms** and **The usual terms**.
    """
    notes = set(_listed_terms(glossary_text, NOTES_OPENING))
    usual = set(_listed_terms(glossary_text, USUAL_OPENING))
    terms = []
    for lines in glossary_entries(glossary_text):
        english = lines[0]
        chinese = next((line for line in lines[1:] if CJK.search(line)), english)
        source = ("notes" if chinese in notes else "usual" if chinese in usual
                  else "kept" if chinese == english else "unsaid")
        terms.append(Term(english, chinese, source))
    return terms


def term_source_lists(glossary_text: str) -> dict[str, list[str]]:
    """{"notes": [...], "usual": [...]}: the Chinese terms each paragraph lists."""
    return {"notes": _listed_terms(glossary_text, NOTES_OPENING),
            "usual": _listed_terms(glossary_text, USUAL_OPENING)}


# --- terms in a message -------------------------------------------------------------

_ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
_NOT_PROSE = re.compile(r"`[^`]*`|\$\$.*?\$\$|\$[^$\n]*\$|https?://\S+|\]\([^)]*\)", re.S)


def prose_of(message: str) -> str:
    """A message's words as a reader sees them: a role's shown text kept ({term} and
    anything with a <target>), code, maths, link targets and roles that show a
    title or a citation dropped."""
    def role(match):
        name, content = match.groups()
        shown = re.match(r"(.*?)\s*<[^<>]*>$", content, re.S)
        if shown:
            return shown.group(1)
        return content if name == "term" else " "
    return _NOT_PROSE.sub(" ", _ROLE.sub(role, message))


def _term_pattern(english: str) -> re.Pattern:
    words = re.split(r"[\s-]+", english)
    last = re.escape(words[-1])
    forms = [last + "(?:e?s)?"]
    if words[-1].endswith("y"):
        forms.append(re.escape(words[-1][:-1]) + "ies")
    body = r"[\s-]+".join([re.escape(w) for w in words[:-1]] + [f"(?:{'|'.join(forms)})"])
    return re.compile(rf"(?<![\w-]){body}(?![\w-])", re.I)


def terms_used(message: str, terms: list[Term]) -> list[Term]:
    """The glossary terms a message's prose uses (a longer term first: "bias
    correction" is not also "bias"), in their plural and hyphenated forms."""
    text = prose_of(message)
    used = []
    for term in sorted(terms, key=lambda t: len(t.english), reverse=True):
        pattern = _term_pattern(term.english)
        if pattern.search(text):
            used.append(term)
            text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return used
