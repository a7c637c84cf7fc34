"""The public course keeps the answers secret.

`scripts/make_public.py` writes the public course (what students get) into a
temporary folder; these tests fail if it holds a file of ``solutions/``, a hidden-test
block or marker, a value of ``autograder/references/``, a number of the checks'
hidden inputs, or a graded answer.

A graded answer is found by its shape, not its names. Each answer cell of each
solution (nbgrader ``solution: true``; each top-level function or class on its own
when the cell holds several) becomes a token stream: comments and whitespace dropped,
every identifier one token ``ID``, every string ``STR``, every number ``NUM``,
keywords and operators kept. So renaming, re-commenting or reformatting does not
hide a copy. Each is compared with every code unit of the public course: each code
block of the book's pages (``{code-cell}`` and fenced), each code cell of its
notebooks, each function and class of its Python files, each top-level function
inside any of those, and, when a built site exists, each code block of its HTML
pages and of its ``_sources`` notebooks (outputs included: a page that prints a
function's source shows it as output). ``difflib.SequenceMatcher`` ratio >= 0.8 fails
and names both places.

Run ``python tests/publishing/test_public.py`` to print the closest public unit of every answer
(the measurement behind the thresholds below).
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import keyword
import os
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import make_public  # noqa: E402 - after the sys.path line

from course import i18n  # noqa: E402 - after the sys.path line

THRESHOLD = 0.8
# Short answers are judged more strictly, tiny ones not at all. Measured with
# `python tests/publishing/test_public.py` on the public course: an answer that is one Keras
# call wrapped in a function (`compile_model`, 50 tokens; `build_model`, 57) reaches
# 0.80-0.85 against any page that teaches that call, because numbers and names are
# abstracted away; a pasted copy of a short answer, renamed, still scores 0.95-1.0.
# So under SHORT_TOKENS the bar is SHORT_THRESHOLD. Under MIN_TOKENS an answer is
# too short to judge: `def sgd_init(params, hyperparams): return {}` (12 tokens) is
# the shape of countless functions. The shortest judged answers are the state
# initialisers (31 tokens) and sgd_update (39).
MIN_TOKENS = 25
SHORT_TOKENS = 60
SHORT_THRESHOLD = 0.9
SITE = Path(os.environ.get("COURSE_SITE", ROOT / "_build" / "html"))
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION",
                  "END SOLUTION", "_hidden_checks")
# A number is distinctive when it has at least this many significant digits.
MIN_DIGITS = 6


# --- token streams ---------------------------------------------------------------------

_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
            tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER}
_FSTRING_PARTS = tuple(getattr(tokenize, name) for name in
                       ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
                       if hasattr(tokenize, name))


def tokens(source: str) -> list[str]:
    """The normalised token stream of ``source`` (see the module docstring).

    IPython lines (``%magic``, ``!shell``) are dropped; code that does not tokenize
    to the end keeps the tokens read so far.
    """
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            if tok.type in _SKIPPED:
                continue
            if tok.type == tokenize.NAME:
                out.append(tok.string if keyword.iskeyword(tok.string) else "ID")
            elif tok.type == tokenize.STRING:
                out.append("STR")
            elif tok.type == tokenize.NUMBER:
                out.append("NUM")
            elif tok.type in _FSTRING_PARTS:  # Python 3.12+: an f-string is one string
                if tok.type == _FSTRING_PARTS[0]:
                    out.append("STR")
            else:
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def definitions(source: str) -> list[tuple[str, str]]:
    """(name, source) of each function and class in ``source``, methods included."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            segment = ast.get_source_segment(source, node)
            if segment:
                found.append((node.name, segment))
    return found


@dataclass(frozen=True)
class Unit:
    where: str
    tokens: tuple[str, ...]
    # "<assignment>/<grade_id>" for an answer cell and for its released copy in
    # exercises/, which keeps the code given to students (never compared together)
    cell: str = ""


def units_of(where: str, source: str, whole=True, cell="") -> list[Unit]:
    """The block itself and every function or class in it."""
    found = [Unit(where, tuple(tokens(source)), cell)] if whole else []
    for name, segment in definitions(source):
        found.append(Unit(f"{where}, {name}", tuple(tokens(segment)), cell))
    return [u for u in found if u.tokens]


# --- the answers -------------------------------------------------------------------------

def answer_units(solutions: Path = ROOT / "solutions") -> list[Unit]:
    """Every answer cell of every solution, split per top-level function or class."""
    units = []
    for path in sorted(solutions.glob("*/*.ipynb")):
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell["cell_type"] != "code" or not meta.get("solution"):
                continue
            source = "".join(cell["source"])
            where = f"{path.relative_to(ROOT)} cell {meta.get('grade_id')}"
            cell_id = f"{path.stem}/{meta.get('grade_id')}"
            try:
                body = ast.parse(source).body
            except SyntaxError:
                body = []
            defs = [n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
            if len(defs) > 1:
                for node in defs:
                    units.append(Unit(f"{where}, {node.name}",
                                      tuple(tokens(ast.get_source_segment(source, node))),
                                      cell_id))
                rest = [n for n in body if n not in defs]
                if rest:
                    code = "\n".join(ast.get_source_segment(source, n) for n in rest)
                    units.append(Unit(f"{where}, code outside functions",
                                      tuple(tokens(code)), cell_id))
            else:
                units.append(Unit(where, tuple(tokens(source)), cell_id))
    return units


# --- the public course -------------------------------------------------------------------

FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\n]*)$")


def markdown_code_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every fenced block of a MyST page, options stripped."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i].strip())
        if not match:
            i += 1
            continue
        fence, start, body = match.group("fence"), i + 1, []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        i += 1
        if body and body[0].strip() == "---":  # a code cell's YAML options
            end = body.index("---", 1) if "---" in body[1:] else 0
            body = body[end + 1:]
        body = [ln for ln in body if not re.match(r"^:\w[\w-]*:", ln)]
        blocks.append((start, "\n".join(body)))
    return blocks


def notebook_sources(path: Path) -> list[tuple[str, str, str]]:
    """(label, code, cell id) of each code cell of a notebook and of its text outputs
    that hold code (Markdown code blocks, e.g. a printed function)."""
    notebook = json.loads(path.read_text())
    found = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        cell_id = f"{path.stem}/{grade_id}" if grade_id else ""
        found.append((f"cell {number}", "".join(cell.get("source", "")), cell_id))
        for output in cell.get("outputs", []):
            for mime in ("text/markdown", "text/plain"):
                text = output.get("data", {}).get(mime) or (
                    output.get("text") if mime == "text/plain" else None)
                if text:
                    text = "".join(text)
                    for _, code in markdown_code_blocks(text) or [(0, text)]:
                        found.append((f"cell {number} output", code, ""))
    return found


def html_code_blocks(path: Path) -> list[str]:
    from bs4 import BeautifulSoup

    page = BeautifulSoup(path.read_text(errors="replace"), "html.parser")
    return [pre.get_text() for pre in page.find_all("pre")]


def public_units(public: Path, site: Path | None = None) -> list[Unit]:
    units = []
    for path in sorted(public.rglob("*")):
        label = path.relative_to(public).as_posix()
        if path.suffix == ".md":
            for line, code in markdown_code_blocks(path.read_text()):
                units += units_of(f"{label}:{line}", code)
        elif path.suffix == ".ipynb":
            for where, code, cell in notebook_sources(path):
                units += units_of(f"{label} {where}", code, cell=cell)
        elif path.suffix == ".py" or path.name == "postBuild":
            units += units_of(label, path.read_text(), whole=False)
    if site is not None and (site / "searchindex.js").is_file():
        for path in sorted(site.rglob("*.html")):
            for number, code in enumerate(html_code_blocks(path), start=1):
                units += units_of(f"site {path.relative_to(site)} block {number}", code)
        for path in sorted((site / "_sources").rglob("*.ipynb")):
            for where, code, _ in notebook_sources(path):
                units += units_of(f"site {path.relative_to(site)} {where}", code)
    return units


# --- comparing ----------------------------------------------------------------------------

def bar(answer: Unit) -> float:
    """The similarity at which a public unit counts as a copy of ``answer``."""
    if len(answer.tokens) < MIN_TOKENS:
        return float("inf")
    return SHORT_THRESHOLD if len(answer.tokens) < SHORT_TOKENS else THRESHOLD


def similar_pairs(answers: list[Unit], public: list[Unit]):
    """(ratio, answer, public unit) for every pair at or above the answer's bar."""
    judged = [a for a in answers if len(a.tokens) >= MIN_TOKENS]
    hits = []
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    for unit in {(u.tokens, u.cell): u for u in public}.values():
        matcher.set_seq2(unit.tokens)
        for answer in judged:
            if unit.cell and unit.cell == answer.cell:
                continue  # the released copy of this very cell
            matcher.set_seq1(answer.tokens)
            threshold = bar(answer)
            if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                continue
            ratio = matcher.ratio()
            if ratio >= threshold:
                hits.append((ratio, answer, unit))
    return hits


def closest(answers: list[Unit], public: list[Unit]):
    """For each answer, its most similar public unit: (answer, ratio, unit)."""
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    best = {a.where: (a, 0.0, None) for a in answers}
    for unit in {(u.tokens, u.cell): u for u in public}.values():
        matcher.set_seq2(unit.tokens)
        for answer in answers:
            if unit.cell and unit.cell == answer.cell:
                continue
            matcher.set_seq1(answer.tokens)
            if matcher.real_quick_ratio() <= best[answer.where][1]:
                continue
            if matcher.quick_ratio() <= best[answer.where][1]:
                continue
            ratio = matcher.ratio()
            if ratio > best[answer.where][1]:
                best[answer.where] = (answer, ratio, unit)
    return list(best.values())


def describe(hits) -> str:
    return "\n".join(
        f"{ratio:.2f}: {answer.where} ({len(answer.tokens)} tokens) ~ {unit.where}"
        for ratio, answer, unit in sorted(hits, key=lambda h: -h[0]))


# --- secrets other than answers ------------------------------------------------------------

def hidden_blocks(solutions: Path = ROOT / "solutions") -> list[str]:
    blocks = []
    for path in sorted(solutions.glob("*/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            blocks += re.findall(r"BEGIN HIDDEN TESTS(.*?)END HIDDEN TESTS", source, re.S)
    return blocks


NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])")


def significant_digits(text: str) -> int:
    mantissa = re.split(r"[eE]", text.lstrip("-"))[0].replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) if mantissa else 0


def distinctive_numbers(text: str) -> set[str]:
    return {n.lstrip("-") for n in NUMBER.findall(text)
            if significant_digits(n) >= MIN_DIGITS}


def secret_numbers() -> dict[str, set[str]]:
    """Distinctive numbers of the references and of the hidden blocks (hidden inputs,
    seeds' data, expected values), by where they come from."""
    found = {}
    for path in sorted((ROOT / "autograder" / "references").glob("*.json")):
        found[path.relative_to(ROOT).as_posix()] = distinctive_numbers(path.read_text())
    found["hidden test blocks of solutions/"] = set().union(
        *map(distinctive_numbers, hidden_blocks()))
    return found


def number_runs(text: str, length=4) -> set[tuple[float, ...]]:
    """Runs of ``length`` consecutive decimal numbers with 3 or more significant
    digits each: the checks' hidden inputs are arrays of 4-digit numbers, so one
    number says nothing, but four in a row identify an input."""
    numbers = [n for n in NUMBER.findall(text) if significant_digits(n) >= 3]
    return {tuple(float(n) for n in numbers[i:i + length])
            for i in range(len(numbers) - length + 1)}


def text_files(public: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(public.rglob("*")):
        if path.is_file():
            try:
                texts[path.relative_to(public).as_posix()] = path.read_text()
            except UnicodeDecodeError:
                continue
    return texts


def site_texts(site: Path = SITE) -> dict[str, str]:
    """The built site's pages and page notebooks, when a site exists (outputs included)."""
    if not (site / "searchindex.js").is_file():
        return {}
    paths = [p for p in site.rglob("*.html") if "_static" not in p.parts]
    paths += list((site / "_sources").rglob("*.ipynb"))
    return {f"site {p.relative_to(site)}": p.read_text(errors="replace") for p in paths}


# --- the tests ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def public(tmp_path_factory):
    dest = tmp_path_factory.mktemp("public") / "course"
    make_public.write_public(dest)
    return dest


@lru_cache(maxsize=1)
def _answers():
    return answer_units()


def test_the_public_course_holds_what_students_need_and_nothing_else(public):
    top = {p.name for p in public.iterdir()}
    translations = {language.code for language in i18n.site_languages(ROOT)[1:]}
    assert top == {"book", "course", "exercises", ".binder", "_config.yml", "_toc.yml",
                   "locale", "requirements.txt", "README.md", "README.zh_CN.md", "LICENSE",
                   "pyproject.toml", make_public.MARKER} | translations, sorted(top)
    assert not list(public.rglob("*solution*")) and not (public / "autograder").exists()
    pyproject = (public / "pyproject.toml").read_text()
    assert 'include = ["course*"]' in pyproject and "autograder" not in pyproject
    url, branch = make_public.repository((ROOT / "_config.yml").read_text())
    for readme in ("README.md", "README.zh_CN.md"):
        assert f"git+{url}@{branch}" in (public / readme).read_text(encoding="utf-8")
    chinese = sorted(p.relative_to(public).as_posix()
                     for p in (public / "exercises" / "zh_CN").glob("*/*.ipynb"))
    assert chinese == sorted(f"exercises/zh_CN/{p.name}/{p.name}.ipynb"
                             for p in (ROOT / "exercises").glob("*/") if p.name != "zh_CN")


def test_one_place_names_the_public_repository(capsys):
    """Buttons and the set-up cell read repository: in _config.yml; make publish pushes
    there unless told otherwise."""
    url, _ = make_public.repository((ROOT / "_config.yml").read_text())
    assert make_public.main(["--print-remote"]) == 0
    assert capsys.readouterr().out.strip() == url
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^PUBLIC_REMOTE \?= \$\(shell \$\(PYTHON\) scripts/make_public\.py "
                     r"--print-remote\)$", makefile, re.M)


def test_make_public_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="was not written by this script"):
        make_public.write_public(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(SystemExit, match="refusing"):
        make_public.write_public(ROOT)


def test_the_public_site_sources_are_the_instructors(public):
    """The site is built from _config.yml, _toc.yml, the pages, their translations and
    the course package (only_build_toc_files): the public course holds the same bytes,
    so the site built from it is the instructor's, page for page, in each language."""
    folders = ("book", "course", "locale")
    tracked = {p.relative_to(ROOT).as_posix() for folder in folders
               for p in make_public.tracked_files(folder)}
    copied = {p.relative_to(public).as_posix() for folder in folders
              for p in (public / folder).rglob("*") if p.is_file()}
    assert copied == tracked
    differ = [name for name in sorted(tracked | {"_config.yml", "_toc.yml"})
              if (public / name).read_bytes() != (ROOT / name).read_bytes()]
    assert not differ, f"public copies that differ from the instructor's: {differ}"
    assert "only_build_toc_files: true" in (ROOT / "_config.yml").read_text()


def test_each_page_has_its_notebook_in_each_translation(public):
    """What a translated page's Binder button opens: zh_CN/book/<page>.md, the page with
    its translated messages, marked as a notebook in that language."""
    for language in i18n.site_languages(ROOT)[1:]:
        for page in make_public.tracked_files("book"):
            if page.suffix != ".md":
                continue
            relative = page.relative_to(ROOT).as_posix()
            translated = public / i18n.page_notebook(relative, language.code)
            assert translated.is_file(), f"no {translated}"
            header = translated.read_text().split("\n---\n", 1)[0]
            assert f"course:\n  language: {language.code}" in header, header
        intro = (public / i18n.page_notebook("book/intro.md", language.code)).read_text()
        assert len(i18n.CJK.findall(intro)) > 300, "the Chinese intro is not Chinese"


def test_no_file_of_solutions_is_public(public):
    secret = {p.read_bytes() for p in (ROOT / "solutions").rglob("*") if p.is_file()}
    leaked = [p for p in public.rglob("*") if p.is_file() and p.read_bytes() in secret]
    assert not leaked, f"files of solutions/ in the public course: {leaked}"


def _solution_lines(source: str) -> set[str]:
    """The lines between BEGIN and END SOLUTION (stripped), long enough to mean code."""
    regions = re.findall(r"BEGIN SOLUTION(.*?)END SOLUTION", source, re.S)
    return {line.strip() for region in regions for line in region.splitlines()
            if len(line.strip()) >= 12 and not line.strip().startswith("#")}


def test_released_answer_cells_hold_none_of_the_solution(public):
    """The similarity test does not compare an answer with its own released cell
    (that cell keeps the code given to students); this checks the cell directly."""
    leaks, checked = [], 0
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        released = public / "exercises" / path.parent.name / path.name
        cells = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"):
                 "".join(c["source"]) for c in json.loads(released.read_text())["cells"]}
        for cell in json.loads(path.read_text())["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            secret = _solution_lines("".join(cell["source"]))
            if grade_id in cells and secret:
                checked += 1
                shown = {line.strip() for line in cells[grade_id].splitlines()}
                leaks += [f"{released.relative_to(public)} {grade_id}: {line}"
                          for line in sorted(secret & shown)]
    assert checked >= 20, "no answer cells compared: test void"
    assert not leaks, "solution lines in the student notebooks:\n" + "\n".join(leaks)


def test_no_hidden_test_marker_is_public(public):
    texts = {**text_files(public), **site_texts()}
    leaks = [f"{name}: {marker}" for name, text in texts.items()
             for marker in HIDDEN_MARKERS if marker in text]
    assert not leaks, "hidden-test markers in the public course:\n" + "\n".join(leaks)


def test_no_reference_value_or_hidden_input_is_public(public):
    numbers = secret_numbers()
    assert sum(map(len, numbers.values())) > 1000, "no secret numbers found: test void"
    texts = {**text_files(public), **site_texts()}
    public_numbers = {name: distinctive_numbers(text) for name, text in texts.items()}
    leaks = [f"{name}: {sorted(found & secret)[:5]} from {origin}"
             for origin, secret in numbers.items()
             for name, found in public_numbers.items() if found & secret]
    assert not leaks, "secret numbers in the public course:\n" + "\n".join(leaks)


def test_no_hidden_input_is_public(public, tmp_path):
    hidden = set().union(*map(number_runs, hidden_blocks()))
    assert len(hidden) > 1000, "no hidden inputs found: test void"
    texts = {**text_files(public), **site_texts()}
    leaks = [name for name, text in texts.items() if number_runs(text) & hidden]
    assert not leaks, f"hidden inputs of the checks in the public course: {leaks}"
    # and it can fail: four numbers of a hidden input, written out in a page
    block = next(b for b in hidden_blocks() if "hidden_inputs = " in b)
    run = sorted(number_runs(block[block.index("hidden_inputs = "):]))[0]
    assert number_runs("x = [" + ", ".join(map(str, run)) + "]") & hidden


def _check_no_answer(units: list[Unit]) -> None:
    answers = _answers()
    assert len([a for a in answers if len(a.tokens) >= MIN_TOKENS]) >= 20
    hits = similar_pairs(answers, units)
    if hits:
        pytest.fail("graded answers in the public course (token similarity):\n"
                    + describe(hits), pytrace=False)


def test_no_graded_answer_is_in_the_public_course(public):
    _check_no_answer(public_units(public))


@pytest.mark.slow
@pytest.mark.skipif(not (SITE / "searchindex.js").is_file(), reason=f"no site at {SITE}")
def test_no_graded_answer_is_on_the_built_site(tmp_path):
    """The site as built (outputs included: a page that prints a function's source)."""
    _check_no_answer(public_units(tmp_path, SITE))


def _answer_function(assignment, grade_id, name):
    notebook = json.loads((ROOT / f"solutions/{assignment}/{assignment}.ipynb").read_text())
    source = next("".join(c["source"]) for c in notebook["cells"]
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    return dict(definitions(source))[name]


@pytest.mark.slow
@pytest.mark.parametrize("assignment, grade_id, name, page", [
    ("adam", "adam_answer", "adam_update", "book/optimizers/adam.md"),
    ("sgd_momentum", "sgd_answer", "sgd_update", "book/training-loop.md"),  # 39 tokens
])
def test_a_pasted_solution_function_is_caught_and_named(tmp_path, assignment, grade_id,
                                                        name, page):
    """The check can fail: an answer pasted into a copy of a page, renamed and
    re-commented, inside a longer cell, is found, and the message names both places."""
    function = _answer_function(assignment, grade_id, name)
    disguised = (function.replace(name, "my_step").replace("states", "memory")
                 .replace("### BEGIN SOLUTION", "# the rule").replace("### END SOLUTION", ""))
    copy = tmp_path / "course"
    make_public.write_public(copy)
    before = {(a.where, u.where) for _, a, u in
              similar_pairs(_answers(), public_units(copy / "book"))}
    path = copy / page
    path.write_text(path.read_text() + "\n```{code-cell} ipython3\nimport numpy as np\n\n"
                    f"{disguised}\n\nprint(np.pi)\n```\n")
    hits = [h for h in similar_pairs(_answers(), public_units(copy / "book"))
            if (h[1].where, h[2].where) not in before]
    message = describe(hits)
    assert hits, "a pasted answer was not found"
    assert f"cell {grade_id}, {name}" in message and page[5:] in message, message


def test_tokens_ignore_names_comments_and_layout():
    a = tokens("def f(x, y):\n    return x + 2 * y  # sum\n")
    b = tokens("def other(first,\n          second): return first + 3 * second\n")
    assert a == b == ["def", "ID", "(", "ID", ",", "ID", ")", ":", "return", "ID", "+",
                      "NUM", "*", "ID"]


def test_markdown_blocks_drop_cell_options():
    page = "text\n```{code-cell} ipython3\n:tags: [remove-input]\nx = 1\n```\n"
    assert markdown_code_blocks(page) == [(2, "x = 1")]


# --- the measurement -----------------------------------------------------------------------

def main() -> None:
    dest = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True)
                .stdout.strip()) / "course"
    make_public.write_public(dest)
    units = public_units(dest, SITE if (SITE / "searchindex.js").is_file() else None)
    print(f"{len(units)} public code units; site included: {(SITE / 'searchindex.js').is_file()}")
    for answer, ratio, unit in sorted(closest(_answers(), units), key=lambda r: -r[1]):
        judged = (f"fails at {bar(answer):.2f}" if len(answer.tokens) >= MIN_TOKENS
                  else "too short to judge")
        print(f"{ratio:.2f}  {len(answer.tokens):4d} tokens ({judged})  {answer.where}"
              f"\n      ~ {unit.where if unit else '-'}")


if __name__ == "__main__":
    main()
