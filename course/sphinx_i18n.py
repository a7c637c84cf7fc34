"""Sphinx extension: the website in each language of course.i18n, from one source.

The English build is the source; a translated build (``-D language=zh_CN``, run by
scripts/build_book.py after the English one) reads the same pages, takes each
message's translation from ``locale/<language>/LC_MESSAGES/<page>.po`` (Sphinx's own
internationalisation) and writes the site that the English one holds in ``zh/``.

1. **The notebooks' outputs** (course.sphinx_i18n_outputs): taken from the English
   build's notebook cache, nothing executed; not messages, except a figure's words
   and alt text, which the translated site shows in its language; numbers glued into
   a translated paragraph.
2. **A language switch** on every page opens the same page in the other language,
   and ``<link rel="alternate" hreflang>`` names it.
3. **Chinese search**: Sphinx segments Chinese with jieba; the glossary's Chinese
   terms are added to jieba's dictionary, so that 学习率 is a word, not 学习 + 率.
4. **Downloads and launch buttons** of a translated page open the translated notebook:
   the page's source with its messages translated (course.i18n.translate_source),
   ``zh/_sources/...`` for the downloads and Colab, ``zh_CN/book/...`` of the public
   course for Binder; the Exercises page links ``exercises/zh_CN/...`` where that
   release exists.
5. **A page not yet translated in full** says so at its top, and the site's title
   and author come from ``site.po``; the themes' words their own catalogues lack
   from ``sphinx.po`` and ``booktheme.po``.
"""

from __future__ import annotations

import hashlib
import html
import logging
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util import logging as sphinx_logging
from sphinx.util.nodes import extract_messages

from course import i18n, sphinx_ext, termbase
from course import sphinx_i18n_outputs as outputs

LOGGER = sphinx_logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().with_name("_templates")
STATIC = Path(__file__).resolve().with_name("_static")
SWITCH_TEMPLATE = "language-switch.html"
NOT_FINISHED = ("The translation of this page is not finished: the paragraphs not "
                "yet translated are shown in English.")


language_of, is_translation = i18n.language_of, i18n.is_translation
page_catalogue = outputs.page_catalogue  # the page's compiled catalogue


def site_strings(app: Sphinx) -> dict[str, str]:
    """The translations of the site's own strings (site.po)."""
    path = i18n.catalogue_dir(Path(app.srcdir), language_of(app).code) / "site.po"
    return i18n.translations(path)


# --- configuration ------------------------------------------------------------------

def configure(app: Sphinx, config) -> None:
    """Templates, theme options, figure formats and search, by language."""
    # A config value Sphinx compares with the last build's: a new version of this
    # extension (it changes what the pages' doctrees hold) reads every page again.
    config.course_i18n_fingerprint = hashlib.sha256(b"".join(
        path.read_bytes() for path in [Path(__file__), Path(outputs.__file__),
                                       *sorted(TEMPLATES.rglob("*.html"))]
    )).hexdigest()[:16]
    # first, so that its two toggles (their tooltips translated) replace the theme's
    config.templates_path = [str(TEMPLATES), *config.templates_path]
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    theme = config.html_theme_options
    end = theme.get("article_header_end", ["article-header-buttons.html"])
    if isinstance(end, str):
        end = [part.strip() for part in end.split(",") if part.strip()]
    if SWITCH_TEMPLATE not in end:
        theme["article_header_end"] = [SWITCH_TEMPLATE, *end]
    config.gettext_compact = False   # one catalogue per page
    config.gettext_location = False  # no line numbers: an edit elsewhere changes nothing
    config.locale_dirs = [str(Path(app.srcdir) / i18n.LOCALE_DIR)]
    # Figures: the English site shows the PNG (an output with only an SVG keeps it);
    # a translated site and the message catalogues need the SVG, whose words are text
    svg_rank = 40 if is_translation(app) else 55
    config.nb_mime_priority_overrides = [
        *config.nb_mime_priority_overrides,
        ("html", "image/svg+xml", svg_rank),
        ("gettext", "image/svg+xml", 10), ("gettext", "image/png", 20),
        ("gettext", "text/plain", 30),
    ]
    if not is_translation(app):
        return
    language = language_of(app)
    # the theme's search box then says its own word for Search ("搜索...")
    theme.pop("search_bar_text", None)
    # an English paragraph left on a translated page carries class="untranslated"
    config.translation_progress_classes = "untranslated"
    theme["path_to_docs"] = i18n.page_notebook("", language.code).rstrip("/")
    strings = site_strings(app)
    for name in ("html_title", "author"):
        value = getattr(config, name, None)
        if value and value in strings:
            setattr(config, name, strings[value])
    if language.code.startswith("zh"):
        config.html_search_options = {**(config.html_search_options or {}),
                                      "dict": str(search_dictionary(app))}


def search_dictionary(app: Sphinx) -> Path:
    """jieba's user dictionary: the glossary's Chinese terms, each a word."""
    import jieba

    jieba.setLogLevel(logging.WARNING)  # not its "Building prefix dict" chatter
    glossary = Path(app.srcdir) / "book" / "glossary.md"
    terms = sorted({t.chinese for t in termbase.glossary_terms(glossary.read_text())
                    if i18n.CJK.search(t.chinese)}) if glossary.is_file() else []
    path = Path(app.doctreedir).parent / "search-terms.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{term} 100000 n\n" for term in terms), encoding="utf-8")
    return path


THEME_DOMAINS = ("sphinx", "booktheme")  # the themes' words: catalogues of their own


def theme_words(app: Sphinx) -> None:
    """Add locale/<language>/LC_MESSAGES/booktheme.po behind sphinx-book-theme's own
    catalogue (the words it lacks). Sphinx reads sphinx.po by itself: locale_dirs is
    set when it starts (scripts/build_book.py)."""
    if not is_translation(app):
        return
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from sphinx import locale

    language = language_of(app).code
    source = i18n.catalogue_dir(Path(app.srcdir), language) / "booktheme.po"
    if not source.is_file():
        return
    folder = Path(app.doctreedir).parent / "theme-locale"
    mo = folder / language / "LC_MESSAGES" / "booktheme.mo"
    mo.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as po, mo.open("wb") as out:
        write_mo(out, read_po(po, locale=language))
    locale.init([str(folder)], language, "booktheme")


class SourceOfNestedTables(SphinxTransform):
    """A table inside a directive (the tables of an admonition) has cells without a
    source: MyST parses a directive's body apart from the document, so its table
    cells never receive the page's source, and Sphinx takes a text without a source
    for one of its own words, which is neither a message nor translated. Give each
    such text the source and line of the nearest element that has them."""

    default_priority = 5  # before Sphinx's i18n transforms (10 and 20)

    def apply(self, **kwargs) -> None:
        for table in self.document.findall(nodes.table):
            for text in table.findall(nodes.TextElement):
                if text.source:
                    continue
                holder = text.parent
                while holder is not None and not holder.source:
                    holder = holder.parent
                if holder is not None:
                    text.source, text.line = holder.source, text.line or holder.line


class CountTranslated(SphinxTransform):
    """After Sphinx's Locale transform, before the figures are unwrapped: how many of
    the page's messages its catalogue translates (a page without one: none).

    Two kinds of text are no untranslated messages at this point: the page's front
    matter (the jupytext header, which docutils makes docinfo and Sphinx drops, so no
    catalogue has it), and a figure's alt text that Locale has already replaced by its
    translation (Sphinx does so without marking the image translated, which would
    also give it the class "untranslated"; it is marked here)."""

    default_priority = 21

    def apply(self, **kwargs) -> None:
        if self.app.builder.name == "gettext" or not is_translation(self.app):
            return
        catalogue = page_catalogue(self.app, self.env.docname)
        translations = {text for text in catalogue.values() if text.strip()}
        done = total = 0
        for node, msg in extract_messages(self.document):
            if in_front_matter(node):
                continue
            if isinstance(node, nodes.image) and msg in translations:
                node["translated"] = True
            total += 1
            done += bool(catalogue.get(msg, "").strip()) or node.get("translated") is True
        self.document["course_progress"] = [done, total]


def in_front_matter(node: nodes.Node) -> bool:
    """Inside the field list MyST makes of a page's front matter (at the top of the
    document, before its first section)."""
    while node.parent is not None:
        if isinstance(node, nodes.docinfo) or (
                isinstance(node, nodes.field_list) and isinstance(node.parent,
                                                                  nodes.document)):
            return True
        node = node.parent
    return False


class TranslateToctrees(SphinxTransform):
    """The table of contents' captions ("Optimizers by hand"): sphinx-external-toc
    inserts the toctrees after Sphinx's Locale transform, so translate them here."""

    default_priority = 101  # just after sphinx_external_toc's InsertToctrees (100)

    def apply(self, **kwargs) -> None:
        if not is_translation(self.app):
            return
        catalogue = None
        for toctree in self.document.findall(addnodes.toctree):
            catalogue = catalogue or page_catalogue(self.app, self.env.docname)
            for message in toctree.extract_original_messages():
                if catalogue.get(message):
                    toctree.apply_translated_message(message, catalogue[message])


# --- the Exercises page links the notebooks of its language ------------------------

class ExercisesInLanguage(SphinxTransform):
    """A download of exercises/<a>/<a>.ipynb opens exercises/<language>/<a>/<a>.ipynb
    when that release exists."""

    default_priority = 22

    def apply(self, **kwargs) -> None:
        if not is_translation(self.app):
            return
        language = language_of(self.app).code
        for node in self.document.findall(addnodes.download_reference):
            target = node.get("reftarget", "")
            translated = i18n.exercise_notebook(target, language)
            if translated != target and (Path(self.app.srcdir)
                                         / translated.lstrip("/")).is_file():
                node["reftarget"] = translated


# --- progress, the notice on pages not finished ---------------------------------------

def record_progress(app: Sphinx, doctree: nodes.document) -> None:
    if not is_translation(app):
        return
    done, total = doctree.get("course_progress", (0, 0))
    if not hasattr(app.env, "course_translation_progress"):
        app.env.course_translation_progress = {}
    app.env.course_translation_progress[app.env.docname] = (done, total)


def purge_progress(app: Sphinx, env, docname: str) -> None:
    getattr(env, "course_translation_progress", {}).pop(docname, None)


def merge_progress(app: Sphinx, env, docnames, other) -> None:
    if not hasattr(env, "course_translation_progress"):
        env.course_translation_progress = {}
    for docname in docnames:
        value = getattr(other, "course_translation_progress", {}).get(docname)
        if value is not None:
            env.course_translation_progress[docname] = value


def page_context(app: Sphinx, pagename: str, templatename: str, context: dict,
                 doctree) -> None:
    """The language switch (every page) and the not-finished notice."""
    current = language_of(app)
    to_root = "../" * pagename.count("/")
    links = []
    for language in i18n.site_languages(Path(app.srcdir)):
        if language.code == current.code:
            continue
        up = "../" if current.site_dir else ""
        folder = f"{language.site_dir}/" if language.site_dir else ""
        links.append({"href": f"{to_root}{up}{folder}{pagename}.html",
                      "name": language.name, "hreflang": language.html_lang})
    context["course_languages"] = links
    context["metatags"] = context.get("metatags", "") + "".join(
        f'\n<link rel="alternate" hreflang="{link["hreflang"]}" href="{link["href"]}" />'
        for link in links)
    if not is_translation(app) or "body" not in context:
        return
    done, total = getattr(app.env, "course_translation_progress", {}).get(pagename, (0, 0))
    if done < total:
        notice = site_strings(app).get(NOT_FINISHED, NOT_FINISHED)
        context["body"] = (f'<div class="admonition note course-untranslated" '
                           f'role="note"><p>{html.escape(notice)}</p></div>\n'
                           + context["body"])


# --- translated downloads --------------------------------------------------------------

def translated_downloads(app: Sphinx, exception) -> None:
    """Replace each page's downloadable source (.md) and notebook (.ipynb) in
    _sources/ with its translation, after Sphinx copied the English ones."""
    if exception or not is_translation(app) or app.builder.format != "html":
        return
    import jupytext
    import nbformat

    language = language_of(app).code
    sources = Path(app.outdir) / "_sources"
    repo_url, branch = sphinx_ext._repository(app)
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        markdown = sources / f"{docname}{source.suffix}"
        if source.suffix != ".md" or not markdown.is_file():
            continue
        catalogue = i18n.translations(
            i18n.catalogue_path(Path(app.srcdir), language, docname))
        text, _ = i18n.translate_source(source.read_text(encoding="utf-8"), catalogue)
        text = i18n.mark_language(text, language)
        markdown.write_text(text, encoding="utf-8")
        notebook_path = sources / f"{docname}.ipynb"
        if notebook_path.is_file():
            notebook = jupytext.reads(text, fmt="md:myst")
            nbformat.write(notebook, notebook_path)
            sphinx_ext._add_setup_cell(notebook_path, repo_url, branch)


def report(app: Sphinx, exception) -> None:
    """One line on the cache, one on how much of the site is translated."""
    outputs.CacheReads.active = False
    if exception or not is_translation(app):
        return
    language = language_of(app).code
    reads = outputs.CacheReads
    LOGGER.info(f"{language}: {len(reads.read)} page(s) read their outputs from "
                f"the English build's notebook cache, {len(reads.missing)} missing "
                "there; no notebook was executed")
    progress = getattr(app.env, "course_translation_progress", {})
    finished = [d for d, (done, total) in progress.items() if done >= total]
    untranslated = sum(total - done for done, total in progress.values())
    LOGGER.info(f"{language}: {len(finished)} of {len(progress)} page(s) translated "
                f"in full, {untranslated} message(s) still in English")


def setup(app: Sphinx) -> dict:
    app.add_config_value("course_i18n_fingerprint", "", "env")
    outputs.setup(app)
    app.connect("config-inited", configure, priority=900)  # after jupyter-book's
    app.connect("builder-inited", theme_words)
    app.add_css_file("course-i18n.css")
    app.add_transform(SourceOfNestedTables)
    app.add_transform(CountTranslated)
    app.add_transform(TranslateToctrees)
    app.add_transform(ExercisesInLanguage)
    app.connect("doctree-read", record_progress)
    app.connect("env-purge-doc", purge_progress)
    app.connect("env-merge-info", merge_progress)
    app.connect("html-page-context", page_context)
    app.connect("build-finished", translated_downloads)
    app.connect("build-finished", report)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
