"""The built website, read as files: offline assets, alt text, buttons, downloads.

Checks every page of _build/html (the pages the last build wrote, read from its
search index, so a page left over from an older build is not checked). `make test`
builds the site first; run alone, these tests skip when there is no site. Set
COURSE_SITE to check a site built elsewhere (scripts/build_book.py . /tmp/x puts it
in /tmp/x/_build/html).

The browser tests (test_site_browser.py) check what only a browser can see.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import matplotlib
import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import one_page_book
from course import figure_alt, i18n

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("COURSE_SITE", ROOT / "_build" / "html")).resolve()
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
NO_SITE = f"no built website at {SITE}: run `make book` first (`make test` does)"
needs_site = pytest.mark.skipif(not (SITE / "searchindex.js").is_file(), reason=NO_SITE)


# --- the pages of the site -----------------------------------------------------------

def site_pages(folder: str = "") -> list[str]:
    """Pages (paths relative to the site) that the last build wrote, in the English
    site or in a translation's folder (``zh``).

    The search index lists every document of the build; genindex and search are the
    pages Sphinx adds; index.html is jupyter-book's redirect to the first page.
    """
    site = SITE / folder
    if not (site / "searchindex.js").is_file():
        return []
    text = (site / "searchindex.js").read_text()
    index = json.loads(text[text.index("(") + 1: text.rindex(")")])
    pages = [f"{name}.html" for name in index["docnames"]]
    prefix = f"{folder}/" if folder else ""
    return [prefix + page for page in
            sorted(pages) + ["genindex.html", "search.html", "index.html"]]


TRANSLATED_SITES = [language.site_dir for language in i18n.site_languages(ROOT)[1:]]


def every_page() -> list[str]:
    """The pages of the English site and of every translated one."""
    return site_pages() + [page for folder in TRANSLATED_SITES
                           for page in site_pages(folder)]


def content_pages() -> list[str]:
    """every_page() without the index, search and redirect pages Sphinx adds."""
    added = ("genindex.html", "search.html", "index.html")
    return [page for page in every_page() if page.rsplit("/", 1)[-1] not in added]


@lru_cache(maxsize=None)
def soup(page: str) -> BeautifulSoup:
    return BeautifulSoup((SITE / page).read_text(), "html.parser")


def local_target(page: str, href: str) -> tuple[Path, str] | None:
    """(file, anchor) a link on page points to inside the site; None if external."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
        return None
    base = (SITE / page).parent
    path = (base / unquote(parts.path)).resolve() if parts.path else (SITE / page)
    if path.is_dir():
        path = path / "index.html"
    return path, unquote(parts.fragment)


@lru_cache(maxsize=None)
def ids_in(path: Path) -> frozenset[str]:
    html = BeautifulSoup(path.read_text(errors="replace"), "html.parser")
    return frozenset(
        [tag["id"] for tag in html.find_all(id=True)]
        + [tag["name"] for tag in html.find_all("a", attrs={"name": True})]
    )


def notebook_pages() -> list[str]:
    """Pages written as notebooks (MyST, jupytext header): they get launch buttons."""
    sources = [(page, (ROOT / page).with_suffix(".md")) for page in site_pages()]
    return [page for page, source in sources
            if source.is_file() and source.read_text().startswith("---\njupytext:")]


def student_notebooks() -> list[Path]:
    return sorted((ROOT / "exercises").glob("*/*.ipynb"))


def exercise_downloads() -> dict[str, Path]:
    """Notebook name -> file, for every .ipynb download link on the Exercises page."""
    page = "book/exercises.html"
    found = {}
    for link in soup(page).select("a.download[href$='.ipynb']"):
        path, _ = local_target(page, link["href"])
        found[path.name] = path
    return found


# --- checks ------------------------------------------------------------------------

@needs_site
def test_the_site_has_the_pages_of_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [chapter["file"] for part in toc.get("parts", [])
                             for chapter in part.get("chapters", [])]
    missing = [f for f in files if f"{f}.html" not in site_pages()]
    assert not missing, f"pages in _toc.yml missing from the site (stale?): {missing}"


@needs_site
@pytest.mark.parametrize("page", every_page())
def test_page_loads_nothing_from_the_network(page):
    """Scripts, styles, images and frames all come from the site itself."""
    html = soup(page)
    external = [
        tag.get("src") or tag.get("href")
        for tag in html.find_all(["script", "img", "iframe", "link", "source"])
        if (tag.name != "link" or set(tag.get("rel", [])) & {"stylesheet", "preload",
                                                              "icon", "modulepreload"})
        and local_target(page, tag.get("src") or tag.get("href") or "") is None
    ]
    assert not external, f"{page} loads from the network: {external}"


# What TensorFlow, absl and Python's warnings module print: "WARNING:tensorflow:...",
# "W0000 00:00:... file.cc:12] ...", ".../file.py:34: UserWarning: ...". A page that
# shows a warning on purpose prints its message without these prefixes.
LIBRARY_WARNING = re.compile(r"WARNING:tensorflow|^[IWEF]\d{4} \d\d:\d\d:\d\d|"
                             r"\.py:\d+: \w*Warning:", re.M)


def test_the_warning_pattern_tells_library_warnings_from_lessons():
    for printed in ["WARNING:tensorflow:5 out of the last 5 calls to <function run> "
                    "triggered tf.function retracing.",
                    "W0000 00:00:1796 cuda_platform.cc:52] failed call to cuInit",
                    "/x/keras/src/layers/core/dense.py:93: UserWarning: Do not pass"]:
        assert LIBRARY_WARNING.search(printed), printed
    assert not LIBRARY_WARNING.search("UserWarning: Do not pass an `input_shape`")


@needs_site
@pytest.mark.parametrize("page", site_pages())
def test_cell_outputs_show_no_library_warning(page):
    """TensorFlow's notices (retracing, oneDNN, CUDA) are noise to a reader: the pages
    avoid their causes rather than show them."""
    found = [LIBRARY_WARNING.search(output.get_text()).group(0)
             for output in soup(page).select(".cell_output")
             if LIBRARY_WARNING.search(output.get_text())]
    assert not found, f"{page}: cell outputs show library warnings: {found}"


@needs_site
@pytest.mark.parametrize("page", every_page())
def test_formulas_use_the_sites_own_mathjax(page):
    html = soup(page)
    if not html.select(".math"):
        return
    scripts = [tag["src"] for tag in html.find_all("script", src=True)
               if "mathjax" in tag["src"]]
    assert scripts, f"{page} has formulas but loads no MathJax"
    for src in scripts:
        path, _ = local_target(page, src)
        assert path.is_file(), f"{page}: {src} is not in the site ({path})"
        # CHTML fonts load from the folder next to the entry file
        fonts = path.parent / "output" / "chtml" / "fonts" / "woff-v2"
        assert any(fonts.glob("*.woff")), f"MathJax fonts missing in {fonts}"


@needs_site
@pytest.mark.parametrize("page", every_page())
def test_every_image_has_alt_text(page):
    """Empty alt, or alt that is only the file's name (docutils' fallback), fails."""
    bad = []
    for img in soup(page).find_all("img"):
        alt = (img.get("alt") or "").strip()
        name = Path(urlsplit(img.get("src", "")).path).name
        looks_like_a_file = re.fullmatch(r"[\w./-]+\.(png|jpe?g|svg|gif)", alt)
        if not alt or (name and name in alt) or looks_like_a_file:
            bad.append(f"<img src={img.get('src')!r} alt={img.get('alt')!r}>")
    assert not bad, f"{page}: images without real alt text: {bad}"


@needs_site
@pytest.mark.parametrize("page", every_page())
def test_internal_links_resolve(page):
    """Every link inside the site reaches a file, and its #anchor an element there."""
    broken = []
    for tag in soup(page).find_all(["a", "link"], href=True):
        target = local_target(page, tag["href"])
        if target is None:
            continue
        path, anchor = target
        if not path.is_file():
            broken.append(f"{tag['href']} (no file {path})")
        elif anchor and path.suffix == ".html" and anchor not in ids_in(path):
            broken.append(f"{tag['href']} (no #{anchor} in {path.name})")
    assert not broken, f"{page}: broken internal links: {broken}"


@needs_site
@pytest.mark.parametrize("page", content_pages())
def test_page_has_search_and_repository_buttons(page):
    html = soup(page)
    assert html.select("button.search-button__button"), f"{page}: no search button"
    repo = html.select_one("a.btn-source-repository-button")
    assert repo is not None, f"{page}: no repository button"
    assert repo["href"] == CONFIG["repository"]["url"]


@needs_site
@pytest.mark.parametrize("page", notebook_pages())
def test_notebook_page_has_launch_and_download_buttons(page):
    html = soup(page)
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    branch = CONFIG["repository"]["branch"]
    launch = {a.get_text(strip=True): a["href"]
              for a in html.select(".dropdown-launch-buttons a")}
    source = page.removesuffix(".html")
    assert launch.get("Binder") == (
        f"{CONFIG['launch_buttons']['binderhub_url']}/v2/gh/{repo}/{branch}"
        f"?urlpath=lab/tree/{source}.md"), launch
    colab_branch = CONFIG["sphinx"]["config"]["course_colab_branch"]
    assert launch.get("Colab") == (
        f"{CONFIG['launch_buttons']['colab_url']}/github/{repo}/blob/{colab_branch}"
        f"/_sources/{source}.ipynb"), launch

    downloads = {a.get_text(strip=True): a["href"]
                 for a in html.select(".dropdown-download-buttons a")}
    assert {".ipynb", ".md"} <= set(downloads), downloads
    md_path, _ = local_target(page, downloads[".md"])
    assert md_path.read_text().startswith("---\njupytext:"), f"{md_path}: not a page"
    ipynb_path, _ = local_target(page, downloads[".ipynb"])
    notebook = nbformat.read(ipynb_path, as_version=4)
    nbformat.validate(notebook)
    imports_course = any(re.search(r"^\s*(from|import)\s+course\b", cell.source, re.M)
                         for cell in notebook.cells if cell.cell_type == "code")
    if imports_course:
        first = notebook.cells[0]
        assert "course-remote-setup" in first.metadata.get("tags", []), (
            f"{ipynb_path.name} imports course but has no set-up cell first")
        assert f"git+{CONFIG['repository']['url']}@{branch}" in first.source


@needs_site
@pytest.mark.slow
def test_make_publish_pushes_the_public_course_and_the_site(tmp_path):
    """`make publish` pushes the public course to its branch and the site, in every
    language, to the Colab branch of the public repository; here `make publish-built`
    (publish without the build) pushes into a scratch bare repository, from a scratch
    work repository.
    The Pages branch must hold the notebook each Colab button opens and .nojekyll
    (GitHub Pages' Jekyll would hide _static/ and _sources/); the course branch must
    be the public course, without solutions or grading code."""
    colab_branch = CONFIG["sphinx"]["config"]["course_colab_branch"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^PAGES_BRANCH \?= {re.escape(colab_branch)}$", makefile, re.M)
    recipe = re.search(r"^publish-built:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "--no-jekyll" in recipe and "--branch $(PAGES_BRANCH)" in recipe
    assert recipe.count("$(PUBLIC_REMOTE)") == 2, "both pushes go to the public remote"
    remote, work = tmp_path / "public.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org",
               GIT_DIR=str(work / ".git"))  # ghp-import commits there, not here
    subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "publish-built",
                    f"PUBLIC_REMOTE={remote}", f"PUBLIC_DIR={tmp_path / 'public'}",
                    f"SITE_DIR={SITE}", f"PYTHON={sys.executable}",
                    f"VENV={Path(sys.executable).parent.parent}"],
                   env=env, check=True, capture_output=True)

    def tree(branch):
        return set(subprocess.run(
            ["git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only", branch],
            check=True, capture_output=True, text=True).stdout.split())

    site = tree(colab_branch)
    assert ".nojekyll" in site and "index.html" in site
    pages = notebook_pages()
    assert pages
    missing = [f"{folder}_sources/{p.removesuffix('.html')}.ipynb" for p in pages
               for folder in ["", *(f"{f}/" for f in TRANSLATED_SITES)]
               if f"{folder}_sources/{p.removesuffix('.html')}.ipynb" not in site]
    assert not missing, f"Colab buttons that would find nothing: {missing}"
    assert {f"{folder}/index.html" for folder in TRANSLATED_SITES} <= site
    course = tree(CONFIG["repository"]["branch"])
    for language in i18n.site_languages(ROOT)[1:]:  # what Binder opens from its pages
        assert {i18n.page_notebook(f"{p.removesuffix('.html')}.md", language.code)
                for p in pages} <= course
    assert {"README.md", "LICENSE", "pyproject.toml", "requirements.txt",
            "_config.yml", "_toc.yml"} <= course
    assert not [p for p in course if p.startswith(("solutions/", "autograder/", "tests/"))]
    assert {f"exercises/{nb.parent.name}/{nb.name}" for nb in student_notebooks()} <= course


@needs_site
def test_every_student_notebook_is_downloadable_from_the_exercises_page():
    downloads = exercise_downloads()
    missing = [nb.name for nb in student_notebooks() if nb.name not in downloads]
    assert not missing, (
        f"exercises/ notebooks without a download on the Exercises page: {missing}")
    for name, path in downloads.items():
        assert path.is_file(), f"download link to {name} leads nowhere ({path})"
        nbformat.validate(nbformat.read(path, as_version=4))


@needs_site
@pytest.mark.parametrize("page", [p for p in site_pages()
                                  if p.startswith(("book/optimizers/", "book/keras/"))])
def test_chapter_links_to_its_exercises(page):
    """Each chapter ends with Exercises: a link to the Exercises page or a notebook."""
    links = [local_target(page, a["href"])
             for a in soup(page).select("article a[href]")]
    targets = {t[0] for t in links if t is not None}
    exercise_files = set(exercise_downloads().values())
    assert (SITE / "book" / "exercises.html") in targets or targets & exercise_files, (
        f"{page} links neither to the Exercises page nor to an exercise notebook")


# --- course.figure_alt: the alt text and the plot rules ----------------------------

def _figure(panels=1, titles=True, labels=True, suptitle=None):
    fig, axes = plt.subplots(1, panels, squeeze=False)
    for number, ax in enumerate(axes[0]):
        ax.plot([0, 1], [1, 0])
        if titles:
            ax.set_title(f"title {number}")
        if labels:
            ax.set(xlabel="epoch", ylabel="loss")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def test_alt_text_is_built_from_titles_and_labels():
    alt, problems = figure_alt.describe(_figure(panels=2, suptitle="Iris, SGD"))
    assert alt == ("Iris, SGD. Panel 1: title 0, loss against epoch. "
                   "Panel 2: title 1, loss against epoch.")
    assert problems == []
    plt.close("all")


@pytest.mark.parametrize("kwargs, problem", [
    ({"titles": False}, "the plot has no title (and the figure no suptitle)"),
    ({"labels": False}, "the plot has no x-axis label"),
])
def test_a_plot_without_title_or_labels_is_reported(kwargs, problem):
    alt, problems = figure_alt.describe(_figure(**kwargs))
    assert problem in problems
    plt.close("all")


def test_a_suptitle_names_the_panels_and_an_image_needs_no_labels():
    fig, (left, right) = plt.subplots(1, 2)
    fig.suptitle("Digits")
    left.imshow([[0, 1], [1, 0]])
    left.axis("off")
    right.plot([0, 1])
    right.set(xlabel="x", ylabel="y")
    alt, problems = figure_alt.describe(fig)
    assert problems == [] and alt == "Digits. Panel 2: y against x."
    plt.close("all")


# --- course.sphinx_ext: what fails the build -----------------------------------------

BAD_PLOT_PAGE = """\
# A page with an unlabelled plot

```{code-cell} ipython3
import matplotlib.pyplot as plt
plt.plot([3, 2, 1])
plt.title("Loss")
plt.show()
```
"""


@pytest.mark.build
@pytest.mark.slow
def test_a_plot_without_axis_labels_fails_the_strict_build(tmp_path):
    one_page_book.write(tmp_path, BAD_PLOT_PAGE)
    result = subprocess.run(one_page_book.build_command(tmp_path),
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "the plot has no x-axis label" in output
    assert "the plot has no y-axis label" in output


def test_a_missing_mathjax_stops_the_build_with_the_command_to_run(tmp_path):
    from sphinx.errors import ConfigError

    from course import sphinx_ext

    app = SimpleNamespace(
        confdir=str(tmp_path), srcdir=str(tmp_path),
        config=SimpleNamespace(course_mathjax_source="no_such_folder",
                               mathjax_path="mathjax/tex-chtml.js"))
    with pytest.raises(ConfigError, match="scripts/setup_mathjax.sh"):
        sphinx_ext.check_mathjax(app, app.config)


def test_offline_jshtml_drops_the_cdn_and_gives_the_frame_alt_text():
    from matplotlib.animation import FuncAnimation

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set(title="A dot", xlabel="x", ylabel="y")
    (dot,) = ax.plot([0], [0], "o")
    animation = FuncAnimation(fig, lambda i: dot.set_data([i], [i]), frames=2)
    assert "maxcdn" in animation.to_jshtml()  # what matplotlib does by itself
    html = figure_alt.offline_jshtml(animation)
    assert "maxcdn" not in html and "font-awesome" not in html
    assert '<img alt="Animation: A dot, y against x." id="_anim_img' in html
    plt.close("all")
