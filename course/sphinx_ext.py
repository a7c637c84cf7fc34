"""Sphinx extension for the course website (registered in _config.yml).

1. **Offline formulas.** When ``mathjax_path`` is a relative path
   (``mathjax/tex-chtml.js``), the site serves MathJax itself: after the build, the
   entry file and MathJax's components (fonts, TeX extensions, menu) are copied from
   ``course_mathjax_source`` (``node_modules/mathjax/es5``, installed by
   scripts/setup_mathjax.sh) to ``_static/mathjax/``. A missing MathJax stops the
   build with the command to run.
2. **Alt text on every figure.** Notebook kernels of the build run
   course/ipython_startup.py, so each plot carries alt text made of its titles and axis
   labels (course.figure_alt); myst-nb's image output gets it. A plot without a title
   or an axis label, and any image left without alt text, is a build warning, which
   the strict build turns into a failure.
3. **Launch and download.** The Colab button of a MyST page opens that page's
   notebook as the published site holds it (Colab reads only .ipynb from GitHub; the
   repository keeps pages as .md): ``_sources/<page>.ipynb`` on the branch
   ``course_colab_branch`` (``gh-pages``, where ``ghp-import`` publishes the site;
   a translated site's under its folder, ``zh/_sources/...``).
   Empty ``course_colab_branch`` removes the Colab button. Every downloadable page
   notebook that imports ``course`` gets a first cell that installs the course
   package from ``repository.url``/``branch`` when it is missing (Colab, a download).
4. **No script error.** Inline scripts that Sphinx keeps twice are dropped once.
5. **No stale outputs.** jupyter-cache keys a page's outputs on its own code alone, and
   Sphinx re-reads only the pages whose source changed. A page's numbers also depend on
   the ``course`` package and the pinned versions, so the files in
   ``course_execution_inputs`` (globs relative to the book's folder) are fingerprinted:
   when the fingerprint changes, the notebook cache is emptied and every page is read
   and executed again. The build's own modules (``course_execution_inputs_ignore``:
   this extension, the translation ones and the modules they read) run in Sphinx,
   never in a kernel: editing them executes nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.util import logging

from course import figure_alt, i18n

LOGGER = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_FILE = Path(__file__).resolve().with_name("ipython_startup.py")
IMPORTS_COURSE = re.compile(r"^\s*(from|import)\s+course\b", re.MULTILINE)

SETUP_CELL = """\
# Set-up for running this notebook outside the course repository (Colab, Binder,
# a download): installs the course's helper package `course` when it is missing.
import importlib, importlib.util, subprocess, sys
if importlib.util.find_spec("course") is None:
    package = "git+{url}@{branch}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)
    importlib.invalidate_caches()
"""
SETUP_CELL_TAG = "course-remote-setup"
CACHE_STAMP_PREFIX = ".course-inputs-"


# --- 1. MathJax served by the site ------------------------------------------------

def _is_url(path: str) -> bool:
    return "://" in path or path.startswith("//")


def _mathjax_source(app: Sphinx) -> Path:
    configured = Path(app.config.course_mathjax_source)
    candidates = [configured] if configured.is_absolute() else [
        Path(app.confdir) / configured, Path(app.srcdir) / configured,
        REPO_ROOT / configured,  # a book built from elsewhere (tests) uses the repo's
    ]
    entry = Path(app.config.mathjax_path).name
    for candidate in candidates:
        if (candidate / entry).is_file():
            return candidate.resolve()
    raise ConfigError(
        f"MathJax is not installed: no {entry} in {configured} (looked in "
        f"{', '.join(str(c.parent) for c in candidates)}). The website serves MathJax "
        "itself so that formulas render without a network. Install it with "
        "`scripts/setup_mathjax.sh` (`make book` runs it)."
    )


def check_mathjax(app: Sphinx, config) -> None:
    if config.mathjax_path and not _is_url(config.mathjax_path):
        app.course_mathjax_source = _mathjax_source(app)


def copy_mathjax(app: Sphinx, exception) -> None:
    source = getattr(app, "course_mathjax_source", None)
    if exception or source is None or app.builder.format != "html":
        return
    relative = Path(app.config.mathjax_path)
    target = Path(app.outdir) / "_static" / relative.parent
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / relative.name, target / relative.name)
    for component in sorted(p for p in source.iterdir() if p.is_dir()):
        shutil.copytree(component, target / component.name, dirs_exist_ok=True)


# --- 2. Alt text --------------------------------------------------------------------

def use_startup_file(app: Sphinx, config) -> None:
    """Kernels started by this build inherit PYTHONSTARTUP (IPython runs it)."""
    os.environ["PYTHONSTARTUP"] = str(STARTUP_FILE)


def inputs_fingerprint(confdir: Path, patterns: list[str],
                       ignore: list[str] = ()) -> str:
    """sha256 of the files the pages' outputs depend on besides their own code."""
    digest = hashlib.sha256()
    ignored = {p for pattern in ignore for p in confdir.glob(pattern)}
    for path in sorted({p for pattern in patterns for p in confdir.glob(pattern)
                        if p.is_file() and p not in ignored}):
        digest.update(path.relative_to(confdir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def fingerprint_inputs(app: Sphinx, config) -> None:
    """A config value Sphinx compares with the last build's: a change re-reads every
    page (rebuild="env")."""
    config.course_inputs_fingerprint = inputs_fingerprint(
        Path(app.confdir), list(config.course_execution_inputs),
        list(config.course_execution_inputs_ignore))


def refresh_stale_cache(app: Sphinx) -> None:
    """Empty the notebook cache when the execution inputs changed since it was filled.

    The stamp file in the cache names the fingerprint its outputs were made with.
    """
    config = getattr(app.env, "mystnb_config", None)
    if config is None or config.execution_mode != "cache":
        return
    cache = Path(config.execution_cache_path)
    stamp = cache / (CACHE_STAMP_PREFIX + app.config.course_inputs_fingerprint)
    if cache.is_dir() and not stamp.exists():
        LOGGER.info(f"course.sphinx_ext: emptying {cache}: the course package or the "
                    "pinned versions changed since its outputs were made")
        shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    stamp.touch()


def patch_myst_nb_images() -> None:
    """myst-nb takes only width/height from an output's metadata: add the alt text."""
    from myst_nb.core.render import NbElementRenderer

    original = NbElementRenderer.render_image
    if is_patched(original, "_course_alt"):
        return

    def render_image(self, data):
        result = original(self, data)
        alt = data.output_metadata.get(figure_alt.ALT_KEY)
        for node in result:
            if isinstance(node, nodes.image) and alt and not node.get("alt"):
                node["alt"] = alt
        for problem in data.output_metadata.get(figure_alt.PROBLEMS_KEY, []):
            self.logger.warning(
                f"plot in cell {data.cell_index}: {problem}; every plot needs a "
                "title (ax.set_title or fig.suptitle) and axis labels (ax.set_xlabel, "
                "ax.set_ylabel)", subtype="course_figure", line=data.line,
            )
        return result

    render_image._course_alt = True
    render_image.__wrapped__ = original
    NbElementRenderer.render_image = render_image


def is_patched(function, marker: str) -> bool:
    """Whether ``function`` or one it wraps (``__wrapped__``) carries ``marker``: two
    extensions wrap the same myst-nb method, each once per process."""
    while function is not None:
        if getattr(function, marker, False):
            return True
        function = getattr(function, "__wrapped__", None)
    return False


def check_alt_text(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for image in doctree.findall(nodes.image):
        if str(image.get("alt", "")).strip():
            continue
        in_output = any(
            "cell_output" in parent.get("classes", [])
            for parent in _ancestors(image)
        )
        if in_output:
            hint = ("show a matplotlib figure with plt.show() (the build writes "
                    "its alt text from its titles and labels) or give the code cell "
                    "the option `:mystnb: {image: {alt: \"...\"}}`")
        else:
            hint = "add `:alt:` to the figure or image, or text in ![...](path)"
        LOGGER.warning(f"image without alt text ({image.get('uri')}): {hint}",
                       location=image, type="course", subtype="alt_text")


def _ancestors(node):
    while node.parent is not None:
        node = node.parent
        yield node


# --- 3. Launch and download buttons -------------------------------------------------

def _repository(app: Sphinx) -> tuple[str, str]:
    options = app.config.html_theme_options
    return options.get("repository_url", "").rstrip("/"), options.get(
        "repository_branch", "main")


def fix_launch_buttons(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Runs after sphinx-book-theme has built the buttons (priority 501)."""
    if not context.get("ipynb_source"):
        return
    repo_url, branch = _repository(app)
    _add_setup_cell(Path(app.outdir) / "_sources" / context["ipynb_source"],
                    repo_url, branch)

    launch = app.config.html_theme_options.get("launch_buttons", {})
    colab_url = launch.get("colab_url", "").rstrip("/")
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in list(group["buttons"]):
            if button.get("text") != "Colab":
                continue
            if not app.config.course_colab_branch:
                group["buttons"].remove(button)
                continue
            org_repo = repo_url.split("github.com/", 1)[-1]
            site = i18n.LANGUAGES.get(app.config.language, i18n.LANGUAGES["en"])
            folder = f"{site.site_dir}/" if site.site_dir else ""
            button["url"] = (f"{colab_url}/github/{org_repo}/blob/"
                             f"{app.config.course_colab_branch}/{folder}_sources/"
                             f"{context['ipynb_source']}")


def _add_setup_cell(path: Path, repo_url: str, branch: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    if not any(IMPORTS_COURSE.search(source) for source in sources):
        return
    if any(SETUP_CELL_TAG in cell.metadata.get("tags", []) for cell in notebook.cells):
        return
    cell = nbformat.v4.new_code_cell(
        SETUP_CELL.format(url=repo_url, branch=branch),
        metadata={"tags": [SETUP_CELL_TAG]},
    )
    if (notebook.nbformat, notebook.nbformat_minor) < (4, 5):
        del cell["id"]
    notebook.cells.insert(0, cell)
    nbformat.write(notebook, path)


# --- 4. A duplicate script ----------------------------------------------------------

def drop_duplicate_scripts(app: Sphinx, pagename, templatename, context,
                           doctree) -> None:
    """Keep one copy of each inline script.

    sphinx-thebe and sphinx-togglebutton add inline scripts with app.add_js_file(None,
    body=...) after the builder exists: Sphinx keeps them twice, once named None and
    once named "", and the second `const THEBE_JS_URL = ...` throws "Identifier
    'THEBE_JS_URL' has already been declared" on every page.
    """
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = tuple(sorted(getattr(script, "attributes", {}).items()))
        key = (str(script.filename or ""), attributes)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app: Sphinx) -> dict:
    app.add_config_value("course_mathjax_source", "node_modules/mathjax/es5", "html")
    app.add_config_value("course_colab_branch", "gh-pages", "html")
    app.connect("config-inited", check_mathjax)
    app.connect("config-inited", use_startup_file)
    app.add_config_value("course_execution_inputs",
                         ["course/**/*.py", "requirements.txt"], "env")
    # the student's check (course/check/, course/grading_terms.py) runs in the
    # exercise notebooks' last cell, never in a page
    app.add_config_value("course_execution_inputs_ignore",
                         ["course/sphinx_*.py", "course/i18n.py", "course/termbase.py",
                          "course/check/*.py", "course/grading_terms.py"],
                         "env")
    app.add_config_value("course_inputs_fingerprint", "", "env")
    app.connect("config-inited", fingerprint_inputs)
    app.connect("builder-inited", refresh_stale_cache, priority=900)  # after myst-nb's
    app.connect("build-finished", copy_mathjax)
    app.connect("doctree-resolved", check_alt_text)
    app.connect("html-page-context", fix_launch_buttons, priority=600)
    app.connect("html-page-context", drop_duplicate_scripts, priority=600)
    patch_myst_nb_images()
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
