"""The built website in a real browser, with the network off.

Headless Chromium (Debian's `chromium`, driven by Playwright through executable_path)
opens every page of _build/html from a local HTTP server. Every request that does not
go to that server is aborted and recorded, and the tests assert that none was made.
Per page, in English and in every translation (zh/): no console error, no failed
request, every formula typeset by MathJax (no raw TeX left), every image loaded and
shown at a readable size, every internal link resolving. Also: the search, the
exercise downloads, a site built without a network, and screenshots of three pages,
saved next to the site (_build/screenshots/). On the translated sites: Chinese text
drawn with real glyphs on every page, the language switch both ways on every page,
and a search for 学习率 that lists the optimizer pages that use it.

`make test` builds the site first; run alone, the tests skip when there is no site
(COURSE_SITE points them at another one, as in test_site_html.py).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import nbformat
import pytest
from bs4 import BeautifulSoup

import one_page_book
from test_site_html import (NO_SITE, ROOT, SITE, TRANSLATED_SITES, content_pages,
                            every_page, ids_in, site_pages)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (SITE / "searchindex.js").is_file(), reason=NO_SITE)]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run",
                 "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
SCREENSHOTS = SITE.parent / "screenshots"
MIN_SCALE = 0.6  # a figure shown below 60% of its size has 10-pt text under 8 px
TEX_LEFT = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\$[^\s$][^$\n]*\$")

# Text a reader sees, outside code, scripts and typeset formulas.
VISIBLE_TEXT_JS = """() => {
  const skip = 'PRE, CODE, SCRIPT, STYLE, TEXTAREA, MJX-CONTAINER, .highlight';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.parentElement.closest(skip)) parts.push(node.textContent);
  }
  return parts.join(' ');
}"""

MATH_JS = """() => {
  const math = [...document.querySelectorAll('.math')];
  return {
    formulas: math.length,
    typeset: math.filter(el => el.querySelector('mjx-container')).length,
    errors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent),
  };
}"""

IMAGES_JS = """() => [...document.images].map(img => {
  const box = img.getBoundingClientRect();
  const column = img.closest('article, .bd-article') || document.body;
  return {
    src: img.getAttribute('src'), complete: img.complete,
    natural: img.naturalWidth, shown: box.width,
    intended: Number(img.getAttribute('width')) || img.naturalWidth,
    column: column.getBoundingClientRect().width,
    inArticle: img.closest('article') !== null,
  };
})"""


def _chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if not path:
        pytest.fail("no chromium: install Debian's (apt-get install chromium) or set "
                    "CHROMIUM to a Chromium binary; .ci/run installs it")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """Chromium drops requests it no longer needs (a page left mid-load): a broken
        pipe then is no error; anything else is printed as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _serve(folder: Path):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


@pytest.fixture(scope="module")
def site_url():
    server, url = _serve(SITE)
    yield url
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(),
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class OfflineContext:
    """A browser context that lets through only requests to base_url."""

    def __init__(self, browser, base_url: str, root: Path = SITE):
        self.base_url, self.root = base_url, root
        self.context = browser.new_context(viewport=VIEWPORT, accept_downloads=True,
                                           service_workers="block")

    def open(self, path: str):
        """(page, problems) after loading path and letting MathJax finish.

        problems lists, as they happen: requests to the network (aborted), console
        errors, script errors, failed or refused requests to the site.
        """
        page = self.context.new_page()
        problems: list[str] = []

        def local_only(route):
            if route.request.url.startswith(self.base_url):
                route.continue_()
            else:
                problems.append(f"request to the network: {route.request.url}")
                route.abort("internetdisconnected")

        page.route("**/*", local_only)
        page.on("console", lambda m: m.type == "error" and problems.append(
            f"console error: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
        page.on("requestfailed", lambda r: r.url.startswith(self.base_url)
                and problems.append(f"failed request: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and problems.append(
            f"HTTP {r.status}: {r.url}"))
        url = self.base_url + path
        page.goto(url, wait_until="load")
        redirect = _redirect(self.root / path)
        if redirect:  # jupyter-book's index.html: <meta http-equiv="Refresh" ...>
            page.wait_for_url(urljoin(url, redirect), wait_until="load")
        if page.locator(".math").count():
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                timeout=15_000)
            page.evaluate("() => MathJax.startup.promise")
        page.evaluate("() => document.fonts.ready.then(() => true)")
        return page, problems

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def offline(browser, site_url):
    context = OfflineContext(browser, site_url)
    yield context
    context.close()


def _redirect(file: Path) -> str | None:
    """The URL a page redirects to with <meta http-equiv="refresh">, if it does."""
    if not file.is_file() or file.suffix != ".html":
        return None
    meta = BeautifulSoup(file.read_text(), "html.parser").find(
        "meta", attrs={"http-equiv": re.compile("^refresh$", re.I)})
    if meta is None:
        return None
    return meta.get("content", "").split("url=", 1)[-1].strip()


def _site_file(url: str, base_url: str) -> tuple[Path, str]:
    parts = urlsplit(url)
    path = SITE / unquote(parts.path[len(urlsplit(base_url).path):])
    if path.is_dir():
        path = path / "index.html"
    return path, unquote(parts.fragment)


# --- every page ----------------------------------------------------------------------

@pytest.mark.parametrize("path", every_page())
def test_page_works_offline(offline, path):
    page, problems = offline.open(path)
    try:
        math = page.evaluate(MATH_JS)
        if math["formulas"]:
            if math["typeset"] < math["formulas"]:
                problems.append(f"{math['formulas'] - math['typeset']} of "
                                f"{math['formulas']} formulas not typeset by MathJax")
            problems += [f"MathJax error: {error}" for error in math["errors"]]
        raw = TEX_LEFT.findall(page.evaluate(VISIBLE_TEXT_JS))
        if raw:
            problems.append(f"raw TeX left in the text: {raw[:5]}")

        for img in page.evaluate(IMAGES_JS):
            if not (img["complete"] and img["natural"] > 0):
                problems.append(f"image not loaded: {img['src']}")
            elif img["inArticle"] and img["shown"] > img["column"] + 1:
                problems.append(f"image wider than the text column: {img['src']}")
            elif img["inArticle"] and img["shown"] < MIN_SCALE * img["intended"]:
                problems.append(
                    f"image shrunk to {img['shown'] / img['intended']:.0%} of its size "
                    f"at a {VIEWPORT['width']}-px window, too small to read: "
                    f"{img['src']} (make the figure narrower, figsize width <= 10 in)")
        overflow = page.evaluate(
            "() => document.scrollingElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            problems.append(f"the page scrolls sideways by {overflow} px")

        for href in page.evaluate(
                "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"):
            if not href.startswith(offline.base_url):
                continue
            file, anchor = _site_file(href, offline.base_url)
            if not file.is_file():
                problems.append(f"link to a missing file: {href}")
            elif anchor and file.suffix == ".html" and anchor not in ids_in(file):
                problems.append(f"link to a missing anchor: {href}")
    finally:
        page.close()
    assert not problems, f"{path}:\n" + "\n".join(problems)


# --- search, downloads, screenshots ---------------------------------------------------

def test_search_finds_pages_offline(offline):
    page, problems = offline.open("book/intro.html")
    try:
        page.locator("button.search-button__button:visible").first.click()
        box = page.locator("#pst-search-dialog input[name='q']")
        box.fill("optimizer")
        box.press("Enter")
        page.wait_for_url("**/search.html?q=optimizer*")
        results = page.locator("#search-results ul.search li")
        results.first.wait_for(timeout=15_000)
        assert results.count() >= 1
    finally:
        page.close()
    assert not problems, problems


def test_exercise_downloads_are_notebooks(offline):
    page, problems = offline.open("book/exercises.html")
    names = []
    try:
        links = page.locator("a.download[href$='.ipynb']")
        for number in range(links.count()):
            with page.expect_download() as info:
                links.nth(number).click()
            download = info.value
            notebook = nbformat.read(download.path(), as_version=4)
            nbformat.validate(notebook)
            names.append(download.suggested_filename)
    finally:
        page.close()
    assert not problems, problems
    expected = sorted(p.name for p in (ROOT / "exercises").glob("*/*.ipynb"))
    assert sorted(names) == expected, (
        f"the Exercises page offers {sorted(names)}; exercises/ holds {expected}")


def test_screenshots(offline, capsys):
    optimizer = "book/optimizers/adam.html"
    if not (SITE / optimizer).is_file():
        optimizer = "book/training-loop.html"
    SCREENSHOTS.mkdir(exist_ok=True)
    saved = []
    for name, path in [("home", "index.html"), ("optimizer", optimizer),
                       ("exercises", "book/exercises.html")]:
        page, problems = offline.open(path)
        try:
            file = SCREENSHOTS / f"{name}.png"
            page.screenshot(path=file, full_page=True)
            saved.append(f"{file} ({page.url.removeprefix(offline.base_url)})")
        finally:
            page.close()
        assert not problems, problems
    with capsys.disabled():
        print("\nscreenshots of the website, network off:\n  " + "\n  ".join(saved))


# --- a site built with no network at all ----------------------------------------------

OFFLINE_PAGE = """\
# Built offline

Inline $w_{t+1} = w_t - \\eta\\, g_t$ and displayed:

$$
\\hat v_t = \\frac{v_t}{1 - \\beta_1^t}.
$$

```{code-cell} ipython3
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot([3, 2, 1.5, 1.2])
ax.set(title="Loss of a built-offline page", xlabel="epoch", ylabel="loss")
plt.show()
```
"""


PROBE = """
import socket
try:
    socket.create_connection(("pypi.org", 443), 5)
except OSError:
    print("offline")
"""


class OfflineBuild:
    """A one-page book built by scripts/build_book.py inside `bwrap --unshare-net`.

    It starts when the module's first test does and runs beside the page tests
    (about 10 s, mostly jupyter-book's start and one kernel); the last test waits.
    """

    def __init__(self, folder: Path):
        self.folder, self.error, self.process = folder, None, None
        bwrap = shutil.which("bwrap")
        if not bwrap:
            self.error = "no bwrap: apt-get install bubblewrap (.ci/run installs it)"
            return
        isolate = [bwrap, "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent",
                   "--"]
        probe = subprocess.run(isolate + [sys.executable, "-c", PROBE],
                               capture_output=True, text=True)
        if probe.stdout.strip() != "offline":
            self.error = f"bwrap --unshare-net left the network reachable: {probe}"
            return
        book = one_page_book.write(folder / "book", OFFLINE_PAGE)
        self.log = folder / "build.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                isolate + one_page_book.build_command(book),
                stdout=log, stderr=subprocess.STDOUT)
        self.site = book / "_build" / "html"

    def wait(self) -> Path:
        if self.error:
            pytest.fail(self.error)
        returncode = self.process.wait(timeout=300)
        assert returncode == 0, self.log.read_text()[-3000:]
        return self.site

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module", autouse=True)
def offline_build(tmp_path_factory):
    build = OfflineBuild(tmp_path_factory.mktemp("offline-build"))
    yield build
    build.stop()


@pytest.mark.build
@pytest.mark.sandbox
def test_a_site_built_without_network_renders_its_formulas(browser, offline_build):
    site = offline_build.wait()
    html = BeautifulSoup((site / "page.html").read_text(), "html.parser")
    assert html.find("img", alt=re.compile("Loss of a built-offline page")), (
        "the plot's alt text was not written from its title")
    server, url = _serve(site)
    context = OfflineContext(browser, url, site)
    try:
        page, problems = context.open("page.html")
        math = page.evaluate(MATH_JS)
        raw = TEX_LEFT.findall(page.evaluate(VISIBLE_TEXT_JS))
        page.close()
    finally:
        context.close()
        server.shutdown()
    assert math["formulas"] == 2 and math["typeset"] == 2 and not math["errors"], math
    assert not raw and not problems, (raw, problems)


# --- the translated sites -------------------------------------------------------------

# On a canvas, text in the page's own font: Chinese drawn with a font that has the
# glyphs differs from as many private-use characters, which no font has (both would
# be the same empty boxes).
CJK_DRAWN_JS = """() => {
  const cjk = /[\\u4e00-\\u9fff]{2}/;
  const el = [...document.querySelectorAll(
      'article p, article li, article h1, article h2, article td, article dt')]
      .find(e => cjk.test(e.textContent));
  if (!el) return null;
  const sample = el.textContent.match(cjk)[0];
  const font = getComputedStyle(el).font;
  const draw = (s) => {
    const canvas = document.createElement('canvas');
    canvas.width = 80; canvas.height = 40;
    const ctx = canvas.getContext('2d');
    ctx.font = font; ctx.fillText(s, 2, 30);
    return Array.from(ctx.getImageData(0, 0, 80, 40).data).join(',');
  };
  return {sample, font, boxes: draw(sample) === draw('\\ue000\\ue001')};
}"""


def translated_pages() -> list[str]:
    return [p for p in content_pages() if p.startswith(tuple(
        f"{folder}/" for folder in TRANSLATED_SITES))]


def english_pages() -> list[str]:
    return [p for p in content_pages() if p not in translated_pages()]


@pytest.mark.parametrize("path", translated_pages())
def test_chinese_is_drawn_with_real_glyphs(offline, path):
    """Needs fonts-noto-cjk (.ci/run installs it). Formulas are checked on every page
    by test_page_works_offline."""
    page, problems = offline.open(path)
    try:
        drawn = page.evaluate(CJK_DRAWN_JS)
    finally:
        page.close()
    assert drawn is not None, f"{path}: no Chinese text in the article"
    assert not drawn["boxes"], f"{path}: {drawn['sample']} drawn as empty boxes ({drawn})"
    assert not problems, problems


@pytest.mark.parametrize("path", english_pages())
def test_the_language_switch_works_both_ways(offline, path):
    page, problems = offline.open(path)
    try:
        for target in [f"{TRANSLATED_SITES[0]}/{path}", path]:
            page.locator(".course-language-switch a").first.click()
            page.wait_for_url(offline.base_url + target, timeout=15_000)
            page.wait_for_load_state("load")
    finally:
        page.close()
    assert not problems, problems


@pytest.mark.parametrize("folder", TRANSLATED_SITES)
def test_a_chinese_search_lists_the_optimizer_pages(offline, folder):
    """A search for 学习率 on the Chinese site lists every optimizer page whose text
    has the word (jieba segments the pages; the glossary's terms are its words)."""
    using = sorted(
        page for page in site_pages(folder) if page.startswith(f"{folder}/book/optimizers/")
        and "学习率" in BeautifulSoup((SITE / page).read_text(), "html.parser")
        .select_one("article").get_text())
    assert using, "no Chinese optimizer page has the word 学习率"
    page, problems = offline.open(f"{folder}/book/intro.html")
    try:
        page.locator("button.search-button__button:visible").first.click()
        box = page.locator("#pst-search-dialog input[name='q']")
        box.fill("学习率")
        box.press("Enter")
        page.wait_for_url("**/search.html?q=*")
        # Sphinx lists the results one at a time (5 ms apart) and writes its summary
        # ("found N pages") after the last: only then is the list whole
        page.wait_for_function(
            "() => document.querySelector('#search-results p.search-summary')"
            "?.innerText.trim()", timeout=30_000)
        found = {urlsplit(href).path.removeprefix(urlsplit(offline.base_url).path)
                 for href in page.evaluate(
                     "() => [...document.querySelectorAll('#search-results ul.search li a')]"
                     ".map(a => a.href)")}
    finally:
        page.close()
    missing = [p for p in using if p not in found]
    assert not missing, f"the search for 学习率 misses {missing} (found {sorted(found)})"
    assert not problems, problems
