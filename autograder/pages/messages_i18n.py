"""The hidden checks' messages in the student's language.

The judges (``autograder/checks/*.py``) write their messages in English, as f-strings
with values in them, and must keep doing so: their code is also copied, as plain
Python, into the solutions' hidden blocks. So the messages are translated after the
fact, from their templates:

- ``extract_templates(root)`` reads the judges' source (its AST, nothing is imported):
  every string that can end up in a message, an f-string's replacement fields turned
  into numbered placeholders (``f"fit should run {ref['epochs']} epochs."`` gives
  ``"fit should run {0} epochs."``); ``a + b`` and ``x if c else y`` of strings give
  every text they can make. ``scripts/translations.py`` keeps them in the catalogue
  ``locale/<language>/LC_MESSAGES/grader/messages.po`` (``make translations``).
- ``translate(message, language)`` finds the template a recorded message was made
  from (longest templates first; a placeholder matches any text) and writes the
  template's translation with the captured values put back. A captured value is
  itself translated when it is a message (a label passed to ``close_messages``, a
  hint); otherwise it must look like code or data (numbers, names, reprs) to be kept
  as it is. A message no template explains stays in English: nothing is lost.

The feedback page (``autograder/pages/feedback.py``) calls ``translate`` on every
message of a result whose language is not English. Standard library only.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

from course import i18n

DOMAIN = "grader/messages"  # its catalogue: locale/<language>/LC_MESSAGES/<DOMAIN>.po
CHECKS_DIR = Path("autograder") / "checks"
# Modules of autograder/checks that hold no judge: they say nothing to a student.
NOT_JUDGES = {"__init__", "hidden_blocks", "instructor_rules", "notebook", "probe"}
# Messages made outside autograder/checks: (file, function whose strings are messages).
# references._label writes each update-rule scenario's label, which judge_rule quotes;
# verdicts.OWN_CLASS stands for a student's exception class in error messages.
ELSEWHERE = [(Path("autograder") / "commands" / "references.py", "_label"),
             (Path("autograder") / "grading" / "verdicts.py", "OWN_CLASS")]
# Module-level data of a judge module is specification (layer names, settings), not
# messages, except the classic mistakes' hints (Mistake's sixth field).
MISTAKE_HINT = 5


# --- extraction ----------------------------------------------------------------------

def _texts(node: ast.AST, fields: list[int]) -> list[str] | None:
    """Every text a string expression can make, its other parts as placeholders
    ``{n}`` (``fields`` counts them); None when ``node`` is not a string expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value.replace("{", "{{").replace("}", "}}")]
    if isinstance(node, ast.JoinedStr):
        texts = [""]
        for value in node.values:
            part = _texts(value, fields) if isinstance(value, ast.Constant) else None
            texts = [t + p for t in texts for p in (part or [_field(fields)])]
        return texts
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _texts(node.left, fields), None
        if left is not None:
            right = _texts(node.right, fields) or [_field(fields)]
        else:
            right = _texts(node.right, fields)
            left = [_field(fields)] if right is not None else None
        return None if left is None else [a + b for a in left for b in right]
    if isinstance(node, ast.IfExp):
        body, orelse = _texts(node.body, fields), _texts(node.orelse, fields)
        if body is not None and orelse is not None:
            return body + orelse
    return None


def _consumed(node: ast.AST):
    """The nodes of a string expression whose text its templates hold: all but what
    an f-string's replacement fields compute (``{raised or 'it gave no losses'}``,
    whose strings are templates of their own)."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.FormattedValue):
            yield from _consumed(child)


def _field(fields: list[int]) -> str:
    fields.append(len(fields))
    return "{" + str(fields[-1]) + "}"


def _not_messages(tree: ast.Module, module_data: bool = True) -> set[int]:
    """ids of the nodes whose strings are no messages: docstrings, raise and assert,
    dict keys, subscripts, comparisons, the receiver of a method (", ".join) and
    (``module_data``) module-level data other than the mistakes' hints."""
    skip: set[int] = set()

    def skip_all(node):
        skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant):
            skip_all(body[0])
        if isinstance(node, (ast.Raise, ast.Assert, ast.Compare, ast.Subscript)):
            skip_all(node)
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if key is not None:
                    skip_all(key)
        elif isinstance(node, ast.Attribute):
            skip_all(node.value) if isinstance(node.value, ast.Constant) else None
    for node in tree.body if module_data else []:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "MISTAKES" for t in targets):
                for call in ast.walk(node.value):
                    if isinstance(call, ast.Call) and len(call.args) > MISTAKE_HINT:
                        skip_all(ast.Tuple(elts=call.args[:MISTAKE_HINT]))
            else:
                skip_all(node)
    return skip


def _is_message(template: str) -> bool:
    """True if a template has words of a language, not only code and placeholders (a
    single word is a key or a name: "loss", "fresh"), or is a label and what is said
    of it ("{0}: {1}", whose colon is the language's)."""
    words = _WORD.finditer(_PLACEHOLDER.sub(" ", template))
    if re.fullmatch(r"\w+", template):
        return False
    return any(not _code_word(m) for m in words) or bool(
        re.fullmatch(r"\{0\}: \{1\}( \{2\})?", template))


def templates_of(source: str, only: str | None = None) -> list[str]:
    """The message templates of a module's source, in order (``only``: the strings of
    that function or module-level name alone)."""
    tree = ast.parse(source)
    skip = _not_messages(tree, module_data=only is None)
    roots = [tree] if only is None else [
        n for n in tree.body
        if getattr(n, "name", None) == only or (isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == only for t in n.targets))]
    found, covered = [], set()
    nodes = [n for root in roots for n in ast.walk(root) if hasattr(n, "lineno")]
    # in the source's order, an expression before the ones inside it
    nodes.sort(key=lambda n: (n.lineno, n.col_offset, -n.end_lineno, -n.end_col_offset))
    for node in nodes:
        if id(node) in skip or id(node) in covered:
            continue
        texts = _texts(node, [])
        if texts is None:
            continue
        covered.update(id(n) for n in _consumed(node))
        found += [t.replace("{{", "{").replace("}}", "}") for t in texts]
    return [t for t in dict.fromkeys(found) if _is_message(t)]


def extract_templates(root: Path) -> list[str]:
    """Every message template of the judges under ``root`` (the repository), in
    order; [] when it has no ``autograder/checks`` (a book without the grader)."""
    folder = Path(root) / CHECKS_DIR
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.stem not in NOT_JUDGES:
            found += templates_of(path.read_text(encoding="utf-8"))
    for path, name in ELSEWHERE:
        found += templates_of((Path(root) / path).read_text(encoding="utf-8"), name)
    return list(dict.fromkeys(found))


# --- what is code, what is words ------------------------------------------------------

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
# Words that are code or data wherever they stand: Python's constants and keyword,
# short()'s nan/inf, the notebooks' hyperparameter names (hyperparams['lr']), the
# functions of their formulas, the names the messages quote bare (train, fig, history,
# fit, evaluate, Keras's layer settings, a history's loss key), and the glossary's
# terms kept in English
CODE_WORDS = {"True", "False", "None", "nan", "inf", "return", "lr", "eps", "rho", "beta",
              "delta", "sqrt", "argmax", "softmax", "sigmoid", "logits", "train", "fig",
              "matplotlib", "history", "fit", "evaluate", "kernel", "activation", "units",
              "filters", "padding", "strides", "rtol", "atol", "axis", "loss"}
_OPERATORS = set("*/+-=()[]<>|^%")
# a quoted text: a string's repr, a value of the course's functions ("integer")
_QUOTED = re.compile(r"""(?<![A-Za-z])(['"`])[^'"`]*(?:\1(?![A-Za-z])|\.\.\.)""")


def _code_word(match: re.Match) -> bool:
    """Whether a word of a text is code: a name with _ . or digits, CamelCase or
    CAPITALS (SGD, ValueError), one letter (m, g), a keyword argument or a call
    (lr=, fit()), in quotes or backticks, or beside an operator (-lr * g)."""
    word, text, start, end = match.group(0), match.string, match.start(), match.end()
    before, after = text[start - 1:start], text[end:end + 1]
    near = text[:start].rstrip()[-1:] + text[end:].lstrip()[:1]  # beside it, past spaces
    return (len(word) == 1 or word in CODE_WORDS or re.search(r"[_.\d]", word) is not None
            or re.search(r"[a-z][A-Z]|^[A-Z]{2,}", word) is not None
            or after in ("=", "(", "[") or before in ("'", '"', "`", ".", "*")
            or after in ("'", '"', "`") or bool(set(near) & _OPERATORS))


def latin_words(text: str) -> list[str]:
    """The words of ``text`` in Latin letters that are not code (see ``_code_word``),
    quoted text and names (Keras, Adam) aside: what a translated message should have
    none of."""
    text = _QUOTED.sub(" ", text)
    return [m.group(0) for m in _WORD.finditer(text)
            if not _code_word(m) and not m.group(0)[0].isupper()]


# --- matching -----------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(\d+)\}")


def _pieces(template: str) -> list[str | int]:
    """A template as its literal texts and placeholder numbers, in order."""
    pieces: list[str | int] = []
    for i, part in enumerate(_PLACEHOLDER.split(template)):
        if i % 2:
            pieces.append(int(part))
        elif part:
            pieces.append(part)
    return pieces


def _early_close(text: str) -> int:
    """Where ``text`` first closes a bracket it did not open (its length if nowhere):
    a value cannot reach past it, only the end of one can (a split inside
    "[0.1, 0.2]" or "(rtol 0.001, atol 0)")."""
    depth = {")": 0, "]": 0, "}": 0}
    for i, char in enumerate(text):
        if char in "([{":
            depth[")]}"["([{".index(char)]] += 1
        elif char in depth:
            depth[char] -= 1
            if depth[char] < 0:
                return i
    return len(text)


def _splits(pieces: list, text: str):
    """Every way ``text`` fits the template's pieces: {placeholder: its text}; a
    value never closes a bracket it did not open."""
    if not pieces:
        if not text:
            yield {}
        return
    head, rest = pieces[0], pieces[1:]
    if isinstance(head, str):
        if text.startswith(head):
            yield from _splits(rest, text[len(head):])
        return
    if not rest:
        if _early_close(text) == len(text):
            yield {head: text}
        return
    nxt = rest[0]
    ends = (range(len(text) + 1) if not isinstance(nxt, str) else
            [m.start() for m in re.finditer(f"(?={re.escape(nxt)})", text)])
    limit = _early_close(text)
    for end in ends:
        if end > limit:
            break  # this value, and every longer one, closes what it did not open
        for found in _splits(rest, text[end:]):
            yield {head: text[:end], **found}


def _filled(translation: str, values: dict[int, str]) -> str:
    """A template's translation with its placeholders' values put in."""
    return _PLACEHOLDER.sub(lambda m: values.get(int(m.group(1)), m.group(0)),
                            translation)


def _is_repr(text: str) -> bool:
    """A dict's or a list's repr (a probe's value quoted by short_repr, maybe cut
    short with "..."): data. Its first bracket closes at its end, or never."""
    if text[:1] not in "{[":
        return False
    depth = 0
    for i, char in enumerate(text):
        depth += (char in "{[(") - (char in "}])")
        if depth == 0:
            return i == len(text) - 1
    return text.endswith("...")


class Translator:
    """One language's catalogue of the templates, and the matching of messages."""

    def __init__(self, catalogue: dict[str, str]):
        self.catalogue = catalogue
        # the most literal text first: "{0}: {1}" is tried after every real sentence
        self.templates = sorted(
            ((t, _pieces(t)) for t in catalogue),
            key=lambda item: -sum(len(p) for p in item[1] if isinstance(p, str)))
        # each template as a regular expression: a quick test that some split exists
        self.patterns = {t: re.compile("".join(re.escape(p) if isinstance(p, str)
                                               else "(?:.*?)" for p in pieces), re.S)
                         for t, pieces in self.templates}
        # and all of them at once: a text none of them fits is no message (one test)
        self.any_template = re.compile("|".join(f"(?:{p.pattern})"
                                                for p in self.patterns.values()), re.S)
        self._match = functools.lru_cache(maxsize=8192)(self._translate)
        self._value = functools.lru_cache(maxsize=8192)(self._value)

    def translate(self, text: str) -> str | None:
        """The translation of a whole message, or None if no template explains it:
        first with every captured value, at every depth, explained (a message, code
        or data), then, failing that, with a plain word allowed as a value ("integer"
        in "{0} labels with {1} outputs")."""
        return self._match(text, False) or self._match(text, True)

    def _translate(self, text: str, words_as_values: bool) -> str | None:
        if not self.any_template.fullmatch(text):
            return None
        for template, pieces in self.templates:
            head, tail = pieces[0], pieces[-1]
            if (isinstance(head, str) and not text.startswith(head)) or (
                    isinstance(tail, str) and not text.endswith(tail)) or (
                    not self.patterns[template].fullmatch(text)):
                continue
            for values in _splits(pieces, text):
                kept = {}
                for number, value in values.items():
                    kept[number] = self._value(value, words_as_values)
                    if kept[number] is None:
                        break
                else:
                    return _filled(self.catalogue[template], kept)
        return None

    def _lookup(self, text: str, words_as_values: bool) -> str | None:
        """``_match``, also for a message whose first letter a judge capitalised
        (``judge_prologue``: "Your code raised ...")."""
        said = self._match(text, words_as_values)
        if said is None and text[:1].isupper():
            said = self._match(text[0].lower() + text[1:], words_as_values)
        return said

    def _value(self, text: str, words_as_values: bool) -> str | None:
        """A captured value: translated when it is a message (or a quoted one), kept
        when it is code or data (or, ``words_as_values``, one word: a name), else None
        (the split is wrong)."""
        if not text.strip() or not latin_words(text) or _is_repr(text):
            return text
        said = self._lookup(text, words_as_values)
        if said is None and len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
            inner = self._lookup(text[1:-1], words_as_values)
            said = None if inner is None else text[0] + inner + text[0]
        if said is None and words_as_values and re.fullmatch(r"[\w-]+", text):
            return text
        return said

    def message(self, text: str) -> str:
        """``text`` translated, or as it is when no template explains it (a message
        that ended with .strip()-ped empty hint is tried with its space back)."""
        said = self.translate(text)
        if said is None and text[:1].isupper():
            said = self.translate(text[0].lower() + text[1:])
        if said is None:
            said = self.translate(text + " ")
        return text if said is None or not said.strip() else said.strip()


@functools.lru_cache(maxsize=None)
def translator(language: str, root: Path = i18n.ROOT) -> Translator | None:
    """The language's translator, or None when it has no catalogue of the messages
    (English, or a translation without one)."""
    catalogue = i18n.translations(i18n.catalogue_path(root, language, DOMAIN))
    return Translator(catalogue) if catalogue else None


def translate(message: str, language: str | None) -> str:
    """A judge's message in ``language`` (English and unknown languages: unchanged;
    a message no template explains: unchanged)."""
    found = translator(language) if language and language != i18n.SOURCE_LANGUAGE else None
    return message if found is None or not isinstance(message, str) else found.message(
        message)
