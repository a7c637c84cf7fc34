"""The exercise notebooks in Chinese: one solution source, only the words translated.

- Every message of every solution notebook (instructions, the visible checks' words) is
  translated in locale/zh_CN/LC_MESSAGES/exercises/<a>.po, not fuzzy, not stale; an
  English instruction or check message changed after its translation shows up.
- exercises/zh_CN/<a>/<a>.ipynb is the English release translated by that catalogue
  (``make exercises`` is current), marked zh_CN, with its own release record.
- It is the same notebook: the same cells in the same order with the same ids, grade
  ids, points and flags, and the same code: every code cell's syntax tree equals the
  English one's once string constants are blanked (an f-string keeps its fields).
- The grader translates the instructor's notebook for a Chinese submission exactly as
  the release did, so a Chinese student's test cells are the instructor's.

Grading itself (full marks, zero, the same verdicts in both languages):
tests/assignments/test_translated_grading.py.
"""

from __future__ import annotations

import ast
import copy
import json
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.checks import ASSIGNMENTS
from course import i18n, notebook_i18n
from course.check import cells as nbcells
from course.check import release_record

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import translations  # noqa: E402 - after the sys.path line that finds it

LANGUAGE = "zh_CN"


def solution(name: str):
    return nbformat.read(str(ROOT / "solutions" / name / f"{name}.ipynb"), 4)


def release(name: str, language: str = "en"):
    path = ROOT / i18n.exercise_notebook(f"exercises/{name}/{name}.ipynb", language)
    return nbformat.read(str(path), 4)


def catalogue(name: str) -> dict[str, str]:
    return i18n.translations(notebook_i18n.catalogue_path(ROOT, LANGUAGE, name))


def test_every_exercise_message_is_translated():
    messages = translations.exercise_messages(ROOT)
    assert sorted(messages) == sorted(notebook_i18n.catalogue_domain(n) for n in ASSIGNMENTS)
    statuses = translations.check(ROOT, LANGUAGE, messages)
    problems = {d: s.summary() for d, s in statuses.items()
                if d in messages and not s.complete}
    assert not problems, f"run make translations and translate: {problems}"


def test_a_changed_english_instruction_shows_as_missing(tmp_path):
    """The translation tests' view of an edited solution: the changed paragraph and the
    changed check message are missing from the catalogue until translated again."""
    book = tmp_path / "book"
    (book / "solutions" / "adam").mkdir(parents=True)
    nb = solution("adam")
    heading = next(c for c in nb.cells if c.cell_type == "markdown"
                   and "## Part A" in c.source)
    heading.source = heading.source.replace("updates the moment variables",
                                            "changes the moment variables")
    test = next(c for c in nb.cells if nbcells.grade_id(c) == "adam_moments")
    test.source = test.source.replace('"the average keeps beta1 * m."',
                                      '"the average keeps beta1 times m."')
    nbformat.write(nb, str(book / "solutions" / "adam" / "adam.ipynb"))
    folder = i18n.catalogue_dir(book, LANGUAGE) / notebook_i18n.DOMAIN
    folder.mkdir(parents=True)
    (folder / "adam.po").write_bytes(
        notebook_i18n.catalogue_path(ROOT, LANGUAGE, "adam").read_bytes())
    status = translations.check(book, LANGUAGE, translations.exercise_messages(book))
    adam = status[notebook_i18n.catalogue_domain("adam")]
    assert len(adam.missing) == 2 and len(adam.stale) == 2, adam
    assert any("changes the moment variables" in m for m in adam.missing)
    assert "the average keeps beta1 times m." in adam.missing
    _, missing = notebook_i18n.translate_notebook(nb, catalogue("adam"), LANGUAGE, "adam")
    assert len(missing) == 2


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_chinese_release_is_the_english_one_translated(name):
    english, chinese = release(name), release(name, LANGUAGE)
    expected, missing = notebook_i18n.translate_notebook(english, catalogue(name),
                                                         LANGUAGE, name)
    assert missing == []
    expected.metadata["course"].update(release_record(expected, name))
    assert chinese.metadata == expected.metadata, "exercises/zh_CN is stale: make exercises"
    assert [c.source for c in chinese.cells] == [c.source for c in expected.cells]
    assert chinese.metadata["course"]["language"] == LANGUAGE
    assert release_record(chinese, name) == {
        k: chinese.metadata["course"][k] for k in ("assignment", "cells")}


def blanked(source: str) -> str:
    """A cell's syntax tree with every string constant emptied (f-strings keep their
    fields): what the code does, whatever its words."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
        if isinstance(node, ast.JoinedStr):
            node.values = [v for v in node.values if isinstance(v, ast.FormattedValue)]
    return ast.dump(tree)


def structure(cell) -> dict:
    meta = copy.deepcopy(nbcells.nbgrader_meta(cell))
    meta.pop("checksum", None)
    return {"type": cell.cell_type, "id": cell.get("id"), "nbgrader": meta}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_same_cells_grade_ids_and_code_in_both_languages(name):
    english, chinese = release(name), release(name, LANGUAGE)
    assert [structure(c) for c in chinese.cells] == [structure(c) for c in english.cells]
    translated = 0
    for en, zh in zip(english.cells, chinese.cells):
        if en.cell_type == "code":
            assert blanked(zh.source) == blanked(en.source), (name, en.source[:80])
        translated += zh.source != en.source
    # every markdown cell but the written answers' stubs is in Chinese
    for cell in chinese.cells:
        if cell.cell_type == "markdown" and nbcells.kind(cell) != "written":
            assert i18n.CJK.search(cell.source), cell.source[:80]
    assert translated > len(chinese.cells) // 2


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_nbgrader_checksums_match_the_translated_cells(name):
    """nbgrader and the student's check see every Chinese cell as released."""
    for cell in release(name, LANGUAGE).cells:
        if nbcells.nbgrader_meta(cell).get("checksum"):
            assert nbcells.untouched(cell), nbcells.grade_id(cell)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_grader_s_translation_of_the_solution_gives_the_released_test_cells(name):
    graded = notebook_i18n.in_language(solution(name), LANGUAGE, name)
    tests = {nbcells.grade_id(c): nbcells.visible_part(c.source) for c in graded.cells
             if nbcells.kind(c) in ("test", "setup")}
    released = {nbcells.grade_id(c): c.source for c in release(name, LANGUAGE).cells
                if nbcells.kind(c) in ("test", "setup")}
    assert {g: s.strip() for g, s in tests.items()} == \
        {g: s.strip() for g, s in released.items()}


def test_fields_and_escapes_of_check_messages_are_kept():
    """A translated check message keeps its f-string fields and escapes: the code that
    fills them in is the English code."""
    for name in ASSIGNMENTS:
        for english, chinese in catalogue(name).items():
            if "{" in english and "`" not in english and "$" not in english:
                assert english.count("{") == chinese.count("{"), (english, chinese)
            assert english.count("\\n") == chinese.count("\\n"), (english, chinese)


def test_the_catalogues_hold_nothing_hidden():
    """The catalogues are public (make public): no hidden test or solution text (unless
    the English instructions quote it)."""
    for name in ASSIGNMENTS:
        given = "\n".join(c.source for c in release(name).cells)
        hidden = []
        for cell in solution(name).cells:
            text = cell.source
            for begin, end in (("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
                               ("BEGIN SOLUTION", "END SOLUTION")):
                while begin in text:
                    head, _, rest = text.partition(begin)
                    block, _, text = rest.partition(end)
                    hidden.append(block)
        words = json.dumps(catalogue(name), ensure_ascii=False)
        for block in hidden:
            for line in block.splitlines():
                line = line.strip()
                if len(line) > 20 and not line.startswith("#") and line not in given:
                    assert line not in words, (name, line)
