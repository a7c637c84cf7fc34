"""The translated sites (_build/html/zh/), read as files.

The checks every page of both sites shares (no request to the network, MathJax of
the site, alt text, internal links, buttons) are in test_site_html.py; the browser's
(formulas typeset, Chinese drawn, the switch, the search) in test_site_browser.py.
Here: every page exists in both languages with a switch to its twin; a page
translated in full shows no English paragraph and a page still pending says so; the
theme speaks the language; the search index knows Chinese words; a translated page's
downloads, Binder and Colab buttons open the translated notebook; the Exercises page
links the notebooks of its language where they exist; figures show translated words.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

from course import i18n, termbase
from test_site_html import (CONFIG, NO_SITE, ROOT, SITE, TRANSLATED_SITES, content_pages,
                            local_target, site_pages, soup)

LANGUAGES = [language for language in i18n.site_languages(ROOT)[1:]]
pytestmark = pytest.mark.skipif(
    not all((SITE / language.site_dir / "searchindex.js").is_file()
            for language in LANGUAGES) or not (SITE / "searchindex.js").is_file(),
    reason=NO_SITE)


def pairs() -> list[tuple[str, str, i18n.Language]]:
    """(English page, translated page, language) for every content page."""
    english = [p for p in content_pages() if not p.startswith(tuple(
        f"{folder}/" for folder in TRANSLATED_SITES))]
    return [(page, f"{language.site_dir}/{page}", language)
            for language in LANGUAGES for page in english]


def switch_target(page: str) -> Path:
    links = soup(page).select(".course-language-switch a[href]")
    assert len(links) == len(LANGUAGES), f"{page}: language links {links}"
    path, _ = local_target(page, links[0]["href"])
    return path


@pytest.mark.parametrize("english, translated, language", pairs())
def test_every_page_has_its_twin_and_the_switch_opens_it(english, translated, language):
    assert (SITE / translated).is_file(), f"{translated} missing"
    assert switch_target(english) == (SITE / translated).resolve()
    assert switch_target(translated) == (SITE / english).resolve()
    assert soup(translated).html["lang"] == language.html_lang
    alternate = soup(english).select_one(f'link[rel=alternate][hreflang="{language.html_lang}"]')
    assert alternate is not None, f"{english}: no <link rel=alternate> to {translated}"


def pending(language: i18n.Language) -> set[str]:
    return {f"{language.site_dir}/{page}.html"
            for page in i18n.pending_pages(ROOT, language.code)}


@pytest.mark.parametrize("english, translated, language", pairs())
def test_a_translated_page_has_no_english_paragraph_a_pending_one_says_so(
        english, translated, language):
    html = soup(translated)
    notice = html.select(".course-untranslated")
    left = [el.get_text(" ", strip=True)[:80] for el in html.select(".untranslated")]
    if translated in pending(language):
        assert notice, f"{translated} is pending but does not say so"
        return
    assert not notice, f"{translated} is translated but says it is not"
    assert not left, f"{translated}: paragraphs left in English: {left}"


# What the theme shows around a page and may name in English: languages, services,
# keys and file types. (sphinx-book-theme's print-only contents keep aria-label="Page".)
NAMES = {"English", "Binder", "Colab", "Ctrl", ".ipynb", ".md", ".pdf", "Page"}


def theme_words(page: str) -> set[str]:
    """The texts and tooltips of a page outside its article and its navigation
    (whose entries, like the <title>, the print-only heading and the links to the next
    page, are pages' own titles)."""
    from bs4 import Comment, Doctype

    html = soup(page).__copy__()
    for part in html.select("article, nav, .prev-next-area, .page-toc, .onlyprint, title, "
                            "link, script, style"):
        part.decompose()
    words = {el.get(attr) for el in html.find_all(True)
             for attr in ("title", "aria-label", "placeholder", "alt", "data-bs-title")
             if el.get(attr)}
    words |= {text.strip() for text in html.find_all(string=True)
              if not isinstance(text, (Comment, Doctype)) and text.strip()}
    return words


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_theme_speaks_the_language(language):
    """Search box, buttons, tooltips, contents, footer: the theme's words are Chinese
    (its own catalogues, and locale/<language>/LC_MESSAGES/sphinx.po, booktheme.po)."""
    for name in ("book/training-loop.html", "book/intro.html", "search.html"):
        page = f"{language.site_dir}/{name}"
        english = sorted(word for word in theme_words(page)
                         if re.search(r"[A-Za-z]{3,}", word) and not i18n.CJK.search(word)
                         and word not in NAMES)
        assert not english, f"{page}: theme words left in English: {english}"
    html = soup(f"{language.site_dir}/book/intro.html")
    placeholder = html.select_one("#pst-search-dialog input[name='q']")["placeholder"]
    assert i18n.CJK.search(placeholder), placeholder
    assert i18n.CJK.search(html.select_one("title").get_text()), "the site's title"
    english_page = theme_words("book/training-loop.html")
    assert {"Toggle primary sidebar", "Launch interactive content"} <= english_page, (
        "the English site's words changed: the check above would see nothing")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_search_index_knows_the_glossarys_chinese_terms(language):
    text = (SITE / language.site_dir / "searchindex.js").read_text()
    index = json.loads(text[text.index("(") + 1: text.rindex(")")])
    terms = termbase.glossary_terms((ROOT / "book" / "glossary.md").read_text())
    for chinese in ("学习率", "损失函数", "独热码", "激活函数"):
        assert any(t.chinese == chinese for t in terms)
        assert chinese in index["terms"], f"{chinese} is no word of the search index"
    pages = index["terms"]["学习率"]
    docnames = [index["docnames"][i] for i in ([pages] if isinstance(pages, int) else pages)]
    assert "book/glossary" in docnames and "book/intro" in docnames, docnames


def notebook_pairs():
    from test_site_html import notebook_pages

    return [(page, language) for language in LANGUAGES for page in notebook_pages()]


@pytest.mark.parametrize("page, language", notebook_pairs())
def test_a_translated_page_opens_its_translated_notebook(page, language):
    translated = f"{language.site_dir}/{page}"
    html = soup(translated)
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    branch = CONFIG["repository"]["branch"]
    source = page.removesuffix(".html")
    launch = {a.get_text(strip=True): a["href"]
              for a in html.select(".dropdown-launch-buttons a")}
    public_md = i18n.page_notebook(f"{source}.md", language.code)
    assert launch.get("Binder") == (
        f"{CONFIG['launch_buttons']['binderhub_url']}/v2/gh/{repo}/{branch}"
        f"?urlpath=lab/tree/{public_md}"), launch
    colab_branch = CONFIG["sphinx"]["config"]["course_colab_branch"]
    assert launch.get("Colab") == (
        f"{CONFIG['launch_buttons']['colab_url']}/github/{repo}/blob/{colab_branch}"
        f"/{language.site_dir}/_sources/{source}.ipynb"), launch
    downloads = {a.get_text(strip=True): a["href"]
                 for a in html.select(".dropdown-download-buttons a")}
    md, _ = local_target(translated, downloads[".md"])
    ipynb, _ = local_target(translated, downloads[".ipynb"])
    assert md.is_relative_to(SITE / language.site_dir), md
    catalogue = i18n.translations(i18n.catalogue_path(ROOT, language.code, source))
    expected, _ = i18n.translate_source((ROOT / f"{source}.md").read_text(), catalogue)
    assert md.read_text() == i18n.mark_language(expected, language.code)
    notebook = nbformat.read(ipynb, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["course"]["language"] == language.code
    english = nbformat.read(SITE / "_sources" / f"{source}.ipynb", as_version=4)
    code = [[c.source for c in nb.cells if c.cell_type == "code"]
            for nb in (notebook, english)]
    assert code[0] == code[1], "the translated notebook's code differs from the English"
    prose = [c.source for c in jupytext.reads(md.read_text(), fmt="md:myst").cells
             if c.cell_type == "markdown"]
    assert [c.source for c in notebook.cells if c.cell_type == "markdown"] == prose


@pytest.mark.parametrize("page, language", [
    (page, language) for language in LANGUAGES for page in
    ["book/intro.html", "book/glossary.html", "book/exercises.html"]])
def test_a_translated_pages_markdown_download_is_in_its_language(page, language):
    translated = f"{language.site_dir}/{page}"
    downloads = {a.get_text(strip=True): a["href"]
                 for a in soup(translated).select(".dropdown-download-buttons a")}
    md, _ = local_target(translated, downloads[".md"])
    english = (ROOT / page.replace(".html", ".md")).read_text()
    assert md.read_text() != english
    assert len(i18n.CJK.findall(md.read_text())) > len(i18n.CJK.findall(english)) + 100


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_exercises_page_links_the_notebooks_of_its_language(language):
    page = f"{language.site_dir}/book/exercises.html"
    links = soup(page).select("a.download[href$='.ipynb']")
    assert len(links) == len(list((ROOT / "exercises").glob("*/*.ipynb")))
    for link in links:
        path, _ = local_target(page, link["href"])
        name = path.name
        release = ROOT / "exercises" / language.code / path.stem / name
        english = ROOT / "exercises" / path.stem / name
        expected = release if release.is_file() else english
        assert path.read_bytes() == expected.read_bytes(), (
            f"{page} offers {name} from {path}, not {expected}")
        nbformat.validate(nbformat.read(path, as_version=4))


@pytest.mark.parametrize("language", LANGUAGES)
def test_figures_show_the_translated_words(language):
    """A translated figure is the SVG with its words from the catalogue (the English
    site shows the PNG); its alt text is translated too."""
    shown = 0
    for page in site_pages(language.site_dir):
        source = page.split("/", 1)[1].removesuffix(".html")
        catalogue = i18n.translations(i18n.catalogue_path(ROOT, language.code, source))
        for img in soup(page).select("article img[src]"):
            if not img["src"].endswith(".svg"):
                continue
            svg = local_target(page, img["src"])[0].read_text()
            words = re.findall(r"<text\b[^>]*>([^<]+)</text>", svg)
            translated = [catalogue[w] for w in words if w in catalogue]
            left = [w for w in words if w in catalogue and catalogue[w] != w]
            assert not left, f"{page}: {img['src']} keeps {left}"
            if translated:
                shown += 1
                assert i18n.CJK.search(img["alt"]) or img["alt"] not in catalogue, img["alt"]
    english = [img["src"] for page in site_pages()
               for img in soup(page).select("article img[src]")]
    assert english and not [src for src in english if src.endswith(".svg")], (
        "the English site shows SVG figures; it shows the PNG")
    assert shown, "no figure of the translated site shows a translated word"
