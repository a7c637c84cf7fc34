"""What a translated build does with the notebooks' outputs (course.sphinx_i18n).

1. **No execution.** A translated build takes every page's outputs from the English
   build's notebook cache (the code cells are the same) and executes nothing: a page
   missing from that cache is a warning (the strict build fails) and gets no outputs.
2. **Outputs are not messages**, except figures: what a code cell prints is the same
   in every language, and may change with the machine (nor are displayed maths and the
   glossary's terms messages). A figure's words are: the kernel keeps each figure as
   SVG with its words as text (course.figure_alt), its titles, labels and legends
   become messages of the page, and the translated build shows the SVG with them
   replaced (the English site shows the PNG). Its alt text is a message too.
3. **Numbers glued into the prose** (``{glue:text}``) work in a translated paragraph,
   and glued words are in its language where they can be: the name of a run that a
   figure's legend shows, a list of such names, a count "N of the M".
"""

from __future__ import annotations

import ast
import hashlib
import html
import json
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util import logging as sphinx_logging

from course import i18n, sphinx_ext

LOGGER = sphinx_logging.getLogger(__name__)


# --- 1. no execution ----------------------------------------------------------------

class CacheReads:
    """While a translated build runs: the pages whose outputs came from the cache,
    and those missing there."""
    active = False
    read: list[str] = []
    missing: list[str] = []


def reuse_outputs_only(app: Sphinx) -> None:
    """A translated build never executes: wrap myst-nb's cache client so that a page
    missing from the cache is a warning and gets no outputs."""
    CacheReads.active = i18n.is_translation(app)
    CacheReads.read, CacheReads.missing = [], []
    from myst_nb.core.execute.cache import NotebookClientCache

    original = getattr(NotebookClientCache.start_client, "_course_original",
                       NotebookClientCache.start_client)

    def start_client(self):
        from jupyter_cache import get_cache

        if not CacheReads.active:
            return original(self)

        cache = get_cache(self.nb_config.execution_cache_path)
        try:
            cache.match_cache_notebook(self.notebook)
        except KeyError:
            CacheReads.missing.append(str(self.path))
            LOGGER.warning(
                f"{self.path}: its outputs are not in the English build's notebook "
                f"cache ({self.nb_config.execution_cache_path}); a translated build "
                "executes nothing: build the English site first (make book)",
                type="course", subtype="i18n")
            self.exec_metadata = None
            return
        CacheReads.read.append(str(self.path))
        original(self)

    start_client._course_original = original
    NotebookClientCache.start_client = start_client


def page_catalogue(app: Sphinx, docname: str) -> dict[str, str]:
    """The page's translated messages, as Sphinx's Locale transform reads them: its
    compiled catalogue (.mo), where fuzzy entries are no translations."""
    import gettext

    from sphinx.util.i18n import docname_to_domain

    domain = docname_to_domain(docname, app.config.gettext_compact)
    merged: dict[str, str] = {}
    for folder in app.config.locale_dirs:
        mo = Path(app.srcdir, folder, app.config.language, "LC_MESSAGES", f"{domain}.mo")
        if mo.is_file():
            with mo.open("rb") as file:
                merged = {**gettext.GNUTranslations(file)._catalog, **merged}
    return {k: v for k, v in merged.items() if isinstance(k, str) and k}


# --- 2. outputs are not messages, figures are ---------------------------------------

class figure_text(nodes.General, nodes.Element, addnodes.translatable):
    """An SVG figure from a cell output: its words are the page's messages."""

    def preserve_original_messages(self) -> None:
        pass

    def extract_original_messages(self) -> list[str]:
        return list(self["messages"])

    def apply_translated_message(self, original_message: str,
                                 translated_message: str) -> None:
        self.setdefault("translations", {})[original_message] = translated_message


SVG_TEXT = re.compile(r"(<text\b[^>]*>)([^<]+)(</text>)")
WORDS = re.compile(r"[A-Za-z\u00c0-\u024f\u0370-\u03ff\u3400-\u9fff]{2,}")


def svg_messages(svg: str) -> list[str]:
    """The words of an SVG figure worth translating: each text element with a word
    of two letters or more (not the tick labels)."""
    found = []
    for match in SVG_TEXT.finditer(svg):
        text = html.unescape(match.group(2)).strip()
        if WORDS.search(text) and text not in found:
            found.append(text)
    return found


def translate_svg(svg: str, translations: dict[str, str]) -> str:
    def replace(match):
        text = html.unescape(match.group(2)).strip()
        if text not in translations:
            return match.group(0)
        return match.group(1) + html.escape(translations[text], quote=False) + match.group(3)
    return SVG_TEXT.sub(replace, svg)


def patch_myst_nb_svg() -> None:
    """myst-nb renders an SVG output as an image: wrap it in a figure_text node."""
    from myst_nb.core.render import NbElementRenderer

    original = NbElementRenderer.render_image
    if sphinx_ext.is_patched(original, "_course_svg"):
        return

    def render_image(self, data):
        result = original(self, data)
        if data.mime_type != "image/svg+xml":
            return result
        messages = svg_messages(data.content)
        if not messages:
            return result
        wrapped = figure_text(messages=messages)
        wrapped += result
        return [wrapped]

    render_image._course_svg = True
    render_image.__wrapped__ = original
    NbElementRenderer.render_image = render_image


class NotMessages(SphinxTransform):
    """What is the same in every language is no message:

    - what a code cell printed or displayed (text, tables, HTML): it may also change
      with the machine. Figures (figure_text) and images' alt text stay messages;
    - displayed maths;
    - the glossary's terms: they are in both languages already, and a translated term
      would be a second entry of that name (Sphinx links {term} roles by it).
    """

    default_priority = 15

    def apply(self, **kwargs) -> None:
        for output in self.document.findall(nodes.container):
            if "cell_output" not in output.get("classes", []):
                continue
            for node in output.findall(nodes.TextElement):
                node["translatable"] = False
        for node in self.document.findall(
                lambda n: isinstance(n, (nodes.math_block, nodes.term))):
            node["translatable"] = False


class TranslateFigures(SphinxTransform):
    """After Sphinx's Locale transform (and course.sphinx_i18n's count of the page's
    translated messages): write each figure's translated SVG next to the original and
    show it, and unwrap the figure_text nodes (a catalogue build keeps them)."""

    default_priority = 22

    def apply(self, **kwargs) -> None:
        if self.app.builder.name == "gettext":
            return
        # Locale does not hand a figure all its translations: a word translated as
        # itself (a legend's "Adam") marks the node translated, and Locale then skips
        # the node's other words. So take them from the catalogue here.
        catalogue = page_catalogue(self.app, self.env.docname)
        for node in list(self.document.findall(figure_text)):
            translations = {message: catalogue[message] for message in node["messages"]
                            if catalogue.get(message, "").strip()}
            image = node.next_node(nodes.image)
            if translations and image is not None:
                uri = image["uri"]
                _, original = self.env.relfn2path(uri, self.env.docname)
                svg = translate_svg(Path(original).read_text(encoding="utf-8"),
                                    translations)
                name = hashlib.sha256(svg.encode()).hexdigest() + ".svg"
                target = Path(original).with_name(name)
                if not target.exists():
                    target.write_text(svg, encoding="utf-8")
                # the same folder as the original, named the way the page names it
                image["uri"] = uri[:len(uri) - len(Path(uri).name)] + name
            node.replace_self(node.children)


# --- 3. glue in translated paragraphs -------------------------------------------------

def patch_glue() -> None:
    """Sphinx parses a translated paragraph as a document of its own, without the
    page's notebook, where {glue:text} finds no data: read it from the page's glue
    file, which myst-nb wrote when it read the page."""
    from myst_nb.core.variables import VariableOutput
    from myst_nb.ext.glue import directives, roles, utils

    original = utils.retrieve_glue_data
    if sphinx_ext.is_patched(original, "_course_glue"):
        return

    def retrieve_glue_data(document, key):
        try:
            return original(document, key)
        except utils.RetrievalError:
            env = getattr(document.settings, "env", None)
            if "nb_renderer" in document or env is None:
                raise
            path = Path(env.mystnb_config.output_folder) / f"{env.docname}.glue.json"
            data = json.loads(path.read_text()) if path.is_file() else {}
            if key not in data:
                raise
            return VariableOutput(data=translated_glue(env, data[key]["data"]),
                                  metadata=data[key].get("metadata", {}),
                                  nb_renderer=None, vtype="glue")

    retrieve_glue_data._course_glue = True
    retrieve_glue_data.__wrapped__ = original
    for module in (utils, roles, directives):
        if getattr(module, "retrieve_glue_data", None) is original:
            module.retrieve_glue_data = retrieve_glue_data


def translated_glue(env, data: dict) -> dict:
    """A glued text (a quoted Python string) in the page's language: names of runs
    that its figures' legends also show, a list of them, a count
    (course.i18n.translate_glued_text)."""
    try:
        text = ast.literal_eval(data.get("text/plain", ""))
    except (SyntaxError, ValueError):
        return data
    if not isinstance(text, str):
        return data
    translated = i18n.translate_glued_text(text, page_catalogue(env.app, env.docname),
                                           i18n.language_of(env.app).code)
    return {**data, "text/plain": repr(translated)}


def setup(app: Sphinx) -> None:
    """Called by course.sphinx_i18n's setup."""
    app.connect("builder-inited", reuse_outputs_only)
    app.add_node(figure_text)
    app.add_transform(NotMessages)
    app.add_transform(TranslateFigures)
    patch_myst_nb_svg()
    patch_glue()
