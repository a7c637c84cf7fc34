"""The graded notebooks speak the book's language: the chapters they name are the
pages' titles, and Keras is spelled `keras.` (with `import keras`), as in the book."""

import re
from pathlib import Path

import pytest

from autograder.checks import ASSIGNMENTS
from autograder.checks import notebook as nbt
from autograder.notebook.nbgrader_cells import strip_hidden_tests

ROOT = Path(__file__).resolve().parents[2]


def page_titles():
    """The `# Title` of every page in _toc.yml."""
    titles = set()
    for page in re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text()):
        text = (ROOT / f"{page}.md").read_text()
        titles.add(re.search(r"^# (.+)$", text, re.M).group(1).strip())
    return titles


def named_chapters(text):
    """Chapter names quoted after "Chapters:" or "The chapter"."""
    names = []
    quoted_after = (r"Chapters?:((?:\s*\"[^\"]+\"[,]?(?:\s+and)?)+)"
                    r"|[Tt]he chapter (\"[^\"]+\")")
    for match in re.finditer(quoted_after, text):
        names += re.findall(r"\"([^\"]+)\"", match.group(0))
    return names


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_named_chapters_are_page_titles(name):
    titles = page_titles()
    text = "\n".join(c.source for c in nbt.read(name).cells if c.cell_type == "markdown")
    names = named_chapters(text)
    assert names, f"{name} names no chapter"
    assert [n for n in names if n not in titles] == [], sorted(titles)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_keras_is_spelled_as_in_the_book(name):
    for path in (nbt.solution_path(name), nbt.exercise_path(name)):
        assert "tf.keras" not in path.read_text(), path
    code = "\n".join(strip_hidden_tests(c.source) for c in nbt.read(name).cells
                     if c.cell_type == "code")
    if re.search(r"^(?!#).*\bkeras\.", code, re.M):
        assert "import keras" in code, name
