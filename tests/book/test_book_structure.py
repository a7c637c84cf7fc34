"""The book's teaching structure: self-checks, recaps, glossary, bibliography.

- every content page (Foundations, Optimizers by hand, Keras in six steps) ends with a
  recap (`## Summary`, a bullet list) and a `## Self-check` of 3 to 5 numbered
  questions, each answered behind a toggle (`{admonition}` with `:class: dropdown`);
- the glossary holds English and Chinese terms, the notes' terms among them, and the
  pages link to it with `{term}`; every `{term}` names a glossary entry;
- every work in book/references.bib is cited by a page, every citation has an entry,
  and each optimizer page cites its paper and Keras's source;
- on the built site (COURSE_SITE, default _build/html): the new pages exist, the
  answers are collapsed dropdowns, citations link to the bibliography, and (browser)
  Chinese text renders with real glyphs, not empty boxes.
"""

import os
import re
from pathlib import Path

import pytest
import yaml

from course import termbase

ROOT = Path(__file__).resolve().parents[2]
BOOK = Path(os.environ.get("COURSE_BOOK_SOURCES", ROOT / "book"))  # to test an old tree
SITE = Path(os.environ.get("COURSE_SITE", ROOT / "_build" / "html"))
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CONTENT_PARTS = ["Foundations", "Optimizers by hand", "Keras in six steps"]
CONTENT = [c["file"].removeprefix("book/") for part in TOC["parts"]
           if part["caption"] in CONTENT_PARTS for c in part["chapters"]]
NEW_PAGES = ["optimizers/schedules", "optimizers/momentum-analysis", "glossary",
             "bibliography"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def text(page):
    return (BOOK / f"{page}.md").read_text()


def section(page, title):
    """The text of `## title` up to the next `## ` heading (or the end)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text(page), re.M | re.S)
    return match.group(1) if match else None


def self_check_questions(page):
    """[(question, answer)] of a page's self-check section."""
    body = section(page, "Self-check")
    assert body is not None, f"{page}: no '## Self-check' section"
    items = re.split(r"^(?=\d+\. )", body, flags=re.M)[1:]
    pairs = []
    for item in items:
        answer = re.search(r"```\{admonition\} Answer\n\s*:class: dropdown\n(.*?)```",
                           item, re.S)
        pairs.append((item.split("\n", 1)[0], answer.group(1).strip() if answer else None))
    return pairs


def test_the_toc_lists_the_content_and_the_new_pages():
    assert len(CONTENT) >= 19 and "optimizers/schedules" in CONTENT
    files = {c["file"] for part in TOC["parts"] for c in part["chapters"]}
    for page in NEW_PAGES:
        assert f"book/{page}" in files, f"{page} missing from _toc.yml"


@pytest.mark.parametrize("page", CONTENT)
def test_every_content_page_has_a_recap(page):
    summary = section(page, "Summary")
    assert summary is not None, f"{page}: no '## Summary' recap"
    bullets = re.findall(r"^- ", summary, re.M)
    assert 2 <= len(bullets) <= 8, f"{page}: a recap of {len(bullets)} bullets"


@pytest.mark.parametrize("page", CONTENT)
def test_every_content_page_has_a_self_check_with_toggled_answers(page):
    pairs = self_check_questions(page)
    assert 3 <= len(pairs) <= 5, f"{page}: {len(pairs)} self-check questions"
    for question, answer in pairs:
        assert answer, f"{page}: no toggled answer under {question!r}"
        assert len(answer.split()) >= 8, f"{page}: a worked answer, not {answer!r}"
    order = [m.start() for m in (re.search(rf"^## {t}$", text(page), re.M)
                                 for t in ["Summary", "Self-check"])]
    assert order == sorted(order), f"{page}: the recap comes before the self-check"


def test_a_page_without_toggles_fails_the_check(tmp_path, monkeypatch):
    """The check can fail: an answer left open (no dropdown class) is caught."""
    page = text("optimizers/sgd").replace(":class: dropdown\n", "", 1)
    (tmp_path / "optimizers").mkdir()
    (tmp_path / "optimizers" / "sgd.md").write_text(page)
    monkeypatch.setattr(__import__(__name__), "BOOK", tmp_path)
    with pytest.raises(AssertionError, match="no toggled answer"):
        test_every_content_page_has_a_self_check_with_toggled_answers("optimizers/sgd")


# --- glossary ------------------------------------------------------------------------

def glossary_entries():
    """[[term, ...]] of each entry of the glossary directives: consecutive term lines."""
    return termbase.glossary_entries(text("glossary"))


NOTES_TERMS = {"独热码": "one-hot encoding", "拉直层": "Flatten layer",
               "学习率": "learning rate", "动量": "momentum", "偏差修正": "bias correction",
               "验证集": "validation set", "测试集": "test set", "全连接层": "Dense layer",
               "卷积层": "convolutional layer", "超参数": "hyperparameter",
               "鞍点": "saddle point", "正则化": "regularization"}


def test_the_glossary_has_both_languages():
    entries = glossary_entries()
    bilingual = [e for e in entries if any(CJK.search(t) for t in e)
                 and any(re.search(r"[A-Za-z]", t) for t in e)]
    assert len(entries) >= 25 and len(bilingual) >= 0.8 * len(entries)
    for chinese, english in NOTES_TERMS.items():
        assert any(chinese in e and english in e for e in entries), (chinese, english)


def terms_used():
    """{term: [pages]} for every {term}`...` role in the book."""
    used = {}
    for path in BOOK.rglob("*.md"):
        for role in re.findall(r"\{term\}`([^`]*)`", path.read_text()):
            target = re.search(r"<([^>]*)>$", role)
            name = (target.group(1) if target else role).strip()
            used.setdefault(name, []).append(str(path.relative_to(BOOK)))
    return used


def test_every_term_link_names_a_glossary_entry():
    known = {t.lower() for e in glossary_entries() for t in e}
    unknown = {t: p for t, p in terms_used().items() if t.lower() not in known}
    assert not unknown, f"{{term}} roles without a glossary entry: {unknown}"


def test_the_notes_terms_are_linked_from_the_pages():
    used = {t.lower() for t in terms_used()}
    linked = [english for chinese, english in NOTES_TERMS.items()
              if english.lower() in used or chinese in used]
    assert len(linked) >= 10, f"only {linked} are linked from a page"
    assert "{doc}`glossary`" in text("intro")


# --- bibliography --------------------------------------------------------------------

PAPERS = {"optimizers/momentum": "polyak1964", "optimizers/nesterov": "nesterov1983",
          "optimizers/adagrad": "duchi2011", "optimizers/rmsprop": "hinton2012",
          "optimizers/adadelta": "zeiler2012", "optimizers/adam": "kingma2015",
          "optimizers/momentum-analysis": "polyak1964",
          "optimizers/schedules": "loshchilov2017"}
KERAS_SOURCES = {"optimizers/sgd": "keras-sgd", "optimizers/adagrad": "keras-adagrad",
                 "optimizers/rmsprop": "keras-rmsprop", "optimizers/adam": "keras-adam",
                 "optimizers/nesterov": "keras-sgd", "optimizers/schedules": "keras-schedules",
                 "keras/compile": "keras-tf-nn"}


def bib_keys():
    return set(re.findall(r"^@\w+\{([^,]+),", (BOOK / "references.bib").read_text(), re.M))


def citations():
    cited = {}
    for path in BOOK.rglob("*.md"):
        for keys in re.findall(r"\{cite(?::[pt])?\}`([^`]*)`", path.read_text()):
            for key in keys.split(","):
                cited.setdefault(key.strip(), set()).add(
                    str(path.relative_to(BOOK).with_suffix("")))
    return cited


def test_bibliography_entries_and_citations_match():
    keys, cited = bib_keys(), citations()
    assert not set(cited) - keys, f"cited but not in references.bib: {set(cited) - keys}"
    assert not keys - set(cited), f"in references.bib but never cited: {keys - set(cited)}"
    required = {"polyak1964", "nesterov1983", "sutskever2013", "duchi2011", "hinton2012",
                "zeiler2012", "kingma2015", "loshchilov2019"}
    assert required <= keys


@pytest.mark.parametrize("page, key", sorted({**PAPERS}.items()) + sorted(KERAS_SOURCES.items()))
def test_each_page_cites_what_it_uses(page, key):
    assert page in citations().get(key, set()), f"{page} should cite {key}"


def test_the_config_reads_the_bibliography():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    assert "```{bibliography}" in text("bibliography")


# --- the built site ---------------------------------------------------------------------

def built(page):
    path = SITE / "book" / f"{page}.html"
    if not (SITE / "searchindex.js").is_file():
        pytest.skip(f"no built site at {SITE} (set COURSE_SITE)")
    assert path.is_file(), f"{page} missing from the built site"
    return path.read_text()


@pytest.mark.parametrize("page", CONTENT + ["optimizers/momentum-analysis"])
def test_built_answers_are_collapsed_dropdowns(page):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(built(page), "html.parser")
    heading = soup.find(id="self-check")
    assert heading is not None, f"{page}: no self-check section in the HTML"
    dropdowns = heading.select("div.admonition.dropdown")
    assert 3 <= len(dropdowns) <= 5, f"{page}: {len(dropdowns)} dropdown answers"


def test_built_glossary_and_bibliography():
    from bs4 import BeautifulSoup

    glossary = BeautifulSoup(built("glossary"), "html.parser")
    terms = [dt.get_text(" ", strip=True) for dt in glossary.select("dl.glossary dt")]
    assert any("学习率" in t for t in terms) and any("learning rate" in t for t in terms)
    bibliography = BeautifulSoup(built("bibliography"), "html.parser")
    entries = bibliography.select("div.citation, dl.citation > dt, [id^='id']")
    assert "Kingma" in bibliography.get_text() and "Polyak" in bibliography.get_text()
    assert entries
    page = BeautifulSoup(built("optimizers/adam"), "html.parser")
    links = [a["href"] for a in page.select("a[href*='bibliography.html']")]
    assert links, "the Adam page's citations do not link to the bibliography"
    term_links = [a["href"] for a in page.select("a[href*='glossary.html#term-']")]
    assert term_links, "the Adam page does not link to the glossary"


@pytest.mark.browser
def test_chinese_renders_with_real_glyphs():
    """Chinese in the glossary is drawn with a font that has the glyphs: on a canvas,
    '学习率' in the page's font must differ from three private-use characters, which
    no font has (both would be the same empty boxes). Needs fonts-noto-cjk."""
    built("glossary")
    from test_site_browser import CHROMIUM_ARGS, _chromium, _serve
    from playwright.sync_api import sync_playwright

    server, url = _serve(SITE)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(),
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url + "book/glossary.html")
            same = page.evaluate("""() => {
                const font = getComputedStyle(document.querySelector('dl.glossary dd')).font;
                const draw = (s) => {
                    const canvas = document.createElement('canvas');
                    canvas.width = 120; canvas.height = 40;
                    const ctx = canvas.getContext('2d');
                    ctx.font = font; ctx.fillText(s, 2, 30);
                    return Array.from(ctx.getImageData(0, 0, 120, 40).data).join(',');
                };
                return draw('学习率') === draw('\\ue000\\ue001\\ue002');
            }""")
            browser.close()
    finally:
        server.shutdown()
    assert not same, ("Chinese text renders as empty boxes: install a CJK font "
                      "(Debian: fonts-noto-cjk)")
