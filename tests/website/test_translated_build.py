"""The translated build itself, on small books with the course's own configuration.

- It executes nothing: the log says every page came from the English build's cache,
  and a page missing from that cache fails the strict build instead of running.
- A translated paragraph keeps the numbers glued into it ({glue:text}).
- A figure's words and alt text are translated: the Chinese page shows the SVG with
  the Chinese words, the English page the PNG.
- A download of exercises/<a>/<a>.ipynb opens exercises/zh_CN/<a>/<a>.ipynb on the
  Chinese page when that release exists, and the English notebook when it does not.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

import one_page_book

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import build_book  # noqa: E402 - after the sys.path line
import translations  # noqa: E402 - after the sys.path line

pytestmark = [pytest.mark.build, pytest.mark.slow]

PAGE = """\
# Plot and number

```{code-cell} ipython3
import matplotlib.pyplot as plt
from myst_nb import glue
glue("final_loss", 0.0123456, display=False)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot([3, 2, 1.5, 1.2], label="plain SGD")
ax.legend()
ax.set(title="Training loss", xlabel="epoch", ylabel="loss")
plt.show()
```

The loss ends at {glue:text}`final_loss:.4f`. Get the {download}`notebook
</exercises/demo/demo.ipynb>` and the {download}`other one </exercises/other/other.ipynb>`.
"""
CHINESE = {
    "Plot and number": "图与数",
    "The loss ends at {glue:text}`final_loss:.4f`. Get the {download}`notebook "
    "</exercises/demo/demo.ipynb>` and the {download}`other one "
    "</exercises/other/other.ipynb>`.":
        "损失最终为 {glue:text}`final_loss:.4f`。下载{download}`笔记本 "
        "</exercises/demo/demo.ipynb>`和{download}`另一个 </exercises/other/other.ipynb>`。",
    "Training loss": "训练损失",
    "epoch": "轮",
    "loss": "损失",
    "plain SGD": "普通 SGD",
    "Training loss, loss against epoch.": "训练损失，损失随轮的变化。",
}


def notebook(path: Path, language: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(language)])
    nb.metadata["course"] = {"language": language}
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The book built in English, its catalogue made and translated, then built again:
    (book, log of the second build)."""
    book = one_page_book.write(tmp_path_factory.mktemp("translated") / "book", PAGE)
    notebook(book / "exercises" / "demo" / "demo.ipynb", "en")
    notebook(book / "exercises" / "zh_CN" / "demo" / "demo.ipynb", "zh_CN")
    notebook(book / "exercises" / "other" / "other.ipynb", "en")
    first = subprocess.run(one_page_book.build_command(book), capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    (book / "locale" / "zh_CN").mkdir(parents=True)
    messages = translations.extract(book, book)
    translations.update(book, "zh_CN", messages)
    from babel.messages.pofile import read_po, write_po

    path = book / "locale" / "zh_CN" / "LC_MESSAGES" / "page.po"
    with path.open("rb") as file:
        catalog = read_po(file, locale="zh_CN")
    for message in catalog:
        message.string = CHINESE.get(message.id, message.string)
    with path.open("wb") as file:
        write_po(file, catalog)
    second = subprocess.run(one_page_book.build_command(book), capture_output=True,
                            text=True, timeout=600)
    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    return book, second.stdout + second.stderr


def page(book: Path, language: str = "") -> BeautifulSoup:
    site = book / "_build" / "html" / language
    return BeautifulSoup((site / "page.html").read_text(), "html.parser")


def test_the_translated_build_executes_nothing(built):
    book, log = built
    assert re.search(r"zh_CN: 1 page\(s\) read their outputs from the English build's "
                     r"notebook cache, 0 missing there; no notebook was executed", log), log
    assert "Executed notebook" not in log and "Executing notebook" not in log


def test_glued_numbers_stay_in_the_translated_paragraph(built):
    book, _ = built
    chinese = page(book, "zh").select_one("article").get_text(" ", strip=True)
    english = page(book).select_one("article").get_text(" ", strip=True)
    assert "损失最终为 0.0123" in chinese and "The loss ends at 0.0123" in english


def test_a_figure_shows_its_translated_words(built):
    book, _ = built
    [english_img] = page(book).select("article img")
    [chinese_img] = page(book, "zh").select("article img")
    assert english_img["src"].endswith(".png") and chinese_img["src"].endswith(".svg")
    assert chinese_img["alt"] == "训练损失，损失随轮的变化。"
    svg = (book / "_build" / "html" / "zh" / chinese_img["src"]).read_text()
    words = re.findall(r"<text\b[^>]*>([^<]+)</text>", svg)
    assert {"训练损失", "轮", "损失", "普通 SGD"} <= set(words), words
    assert not {"Training loss", "epoch", "plain SGD"} & set(words), words


def test_the_chinese_page_links_the_chinese_release_where_there_is_one(built):
    book, _ = built
    site = book / "_build" / "html"
    links = {Path(a["href"]).name: (site / "zh" / a["href"]).resolve()
             for a in page(book, "zh").select("a.download")}
    languages = {name: nbformat.read(path, as_version=4).metadata["course"]["language"]
                 for name, path in links.items()}
    assert languages == {"demo.ipynb": "zh_CN", "other.ipynb": "en"}
    english = {Path(a["href"]).name: (site / a["href"]).resolve()
               for a in page(book).select("a.download")}
    assert nbformat.read(english["demo.ipynb"], as_version=4).metadata["course"][
        "language"] == "en"


def test_a_page_missing_from_the_cache_fails_the_translated_build(tmp_path):
    """No English build, so no cache: the translated build warns and fails (strict)
    rather than executing the page."""
    book = one_page_book.write(tmp_path / "book", "# Uncached\n\n```{code-cell} ipython3\n"
                               "print('never run here')\n```\n")
    (book / "locale" / "zh_CN").mkdir(parents=True)
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    warnings = io.StringIO()
    with patch_docutils(str(book)), docutils_namespace():
        app = build_book.sphinx_app(book, book, "zh_CN", status=None, warning=warnings)
        app.build()
    assert app.statuscode != 0
    assert "its outputs are not in the English build's notebook cache" in \
        warnings.getvalue()
    assert "a translated build executes nothing" in warnings.getvalue()
    cache = book / "_build" / ".jupyter_cache"
    assert not cache.exists() or not list((cache / "executed").glob("*")), (
        "the translated build executed the page")
