"""Execute the book's pages on every core before Sphinx reads them.

With ``execute_notebooks: cache`` myst-nb executes each page whose jupyter-cache entry
is missing while Sphinx reads it, one page at a time, each paying ``import tensorflow``.
This module finds those pages the way myst-nb will look them up, executes them, one
kernel per core, and stores the outputs in the same cache, so that the jupyter-book build
that follows finds every page cached and executes nothing.

To match myst-nb exactly it starts a Sphinx application with jupyter-book's own final
configuration (no build): that gives myst-nb's parser and execution settings, the pages
of the table of contents, the cache's path, and runs the course extension's hooks
(PYTHONSTARTUP for the figures' alt text, and emptying a cache made with an older
``course`` package). Each page is read by myst-nb's own reader; it is executed, like
myst-nb does, by jupyter-cache's ``single_nb_execution`` in the page's folder with the
page's timeout and allow_errors; the result is cached under the hash myst-nb computes.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import re
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nbformat import NotebookNode


@dataclass
class Page:
    path: Path
    notebook: NotebookNode
    read_fmt: dict | None
    timeout: int | None
    allow_errors: bool


@dataclass
class Outcome:
    notebook: NotebookNode  # as executed
    seconds: float
    traceback: str | None  # None when the page executed without error
    page: Page | None = None  # set by the parent (the worker sends no copy back)


@dataclass
class Plan:
    cache_path: Path
    pending: list[Page]
    cached: int
    history: Path  # seconds each page took when last executed, to start long ones first


def plan(book_dir: Path, output_dir: Path) -> Plan:
    """The pages of the book whose cache entry myst-nb would not find."""
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    with patch_docutils(str(book_dir)), docutils_namespace():
        app = _sphinx_app(book_dir, output_dir)
        cache_path = Path(app.env.mystnb_config.execution_cache_path)
        pages = list(_notebook_pages(app))
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_path))
    pending = [page for page in pages if not _is_cached(cache, page.notebook)]
    history = output_dir / "_build" / HISTORY_NAME
    return Plan(cache_path, longest_first(pending, _read_history(history)),
                len(pages) - len(pending), history)


HISTORY_NAME = ".page-execution-seconds.json"


def longest_first(pages: list[Page], seconds: dict[str, float]) -> list[Page]:
    """Start the longest pages first, so that no core waits alone at the end for a
    long page started last: by their last time, pages never timed first, longest
    code first (a rough guess)."""
    def key(page):
        last = seconds.get(str(page.path))
        code = sum(len(cell.source) for cell in page.notebook.cells
                   if cell.cell_type == "code")
        return (last is not None, -(last or 0.0), -code)
    return sorted(pages, key=key)


def _read_history(path: Path) -> dict[str, float]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_history(path: Path, outcomes: list[Outcome]) -> None:
    seconds = _read_history(path)
    seconds.update({str(o.page.path): round(o.seconds, 1) for o in outcomes})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(seconds, indent=1, sort_keys=True))


def _sphinx_app(book_dir: Path, output_dir: Path):
    """Sphinx as `jupyter-book build BOOK --path-output OUT -n` configures it."""
    from jupyter_book.config import get_final_config
    from sphinx.application import Sphinx

    config, _ = get_final_config(
        user_yaml=book_dir / "_config.yml",
        cli_config={"external_toc_path": (book_dir / "_toc.yml").as_posix(),
                    "latex_individualpages": False, "nitpicky": True},
        sourcedir=book_dir, use_external_toc=True,
    )
    html = output_dir / "_build" / "html"
    # Status and warnings go nowhere: the real build that follows reports them.
    return Sphinx(srcdir=str(book_dir), confdir=None, outdir=str(html),
                  doctreedir=str(html.parent / ".doctrees"), buildername="html",
                  confoverrides=config, status=None, warning=io.StringIO(),
                  freshenv=False)


def _notebook_pages(app):
    """Each page myst-nb will execute in cache mode, read as myst-nb reads it
    (myst_nb.sphinx_.Parser.parse and myst_nb.core.execute.create_client)."""
    from myst_nb.core.read import create_nb_reader

    env = app.env
    env.find_files(app.config, app.builder)
    suffixes = tuple(suffix for suffix, kind in app.config.source_suffix.items()
                     if kind == "myst-nb")
    for docname in sorted(env.found_docs):
        path = Path(env.doc2path(docname))
        if not path.name.endswith(suffixes):
            continue
        text = path.read_text(encoding=app.config.source_encoding)
        reader = create_nb_reader(str(path), env.myst_config, env.mystnb_config, text)
        if reader is None:  # a Markdown page without a notebook header
            continue
        notebook = reader.read(text)
        nb_config = _page_config(env.mystnb_config, notebook)
        if nb_config is None or nb_config.execution_mode != "cache":
            continue
        posix = PurePosixPath(path.as_posix())
        if any(posix.match(p) for p in nb_config.execution_excludepatterns):
            continue
        yield Page(path, notebook, reader.read_fmt, nb_config.execution_timeout,
                   nb_config.execution_allow_errors)


def _page_config(nb_config, notebook):
    """myst-nb's kernel aliases and the page's own ``mystnb`` metadata; None when
    that metadata is invalid (myst-nb then warns, and the strict build fails)."""
    from myst_nb.core.nb_to_tokens import nb_node_to_dict

    kernel = notebook.metadata.get("kernelspec", {}).get("name")
    if kernel is not None:
        for pattern, alias in (nb_config.kernel_rgx_aliases or {}).items():
            if re.fullmatch(pattern, kernel):
                notebook.metadata["kernelspec"]["name"] = alias
                break
    if nb_config.metadata_key not in notebook.metadata:
        return nb_config
    overrides = nb_node_to_dict(notebook.metadata[nb_config.metadata_key])
    overrides.pop("output_folder", None)
    try:
        return nb_config.copy(**overrides)
    except Exception:  # noqa: BLE001 - bad page metadata: myst-nb executes that page itself
        return None


def _is_cached(cache, notebook) -> bool:
    try:
        cache.match_cache_notebook(notebook)
        return True
    except KeyError:
        return False


def _execute(page: Page) -> Outcome:
    """In a worker process: what NotebookClientCache.start_client does (local CWD).

    The kernel's stderr (TensorFlow's start-up chatter, which the pages remove) goes
    to a file instead of interleaving with the progress lines; a failure shows it.
    """
    from jupyter_cache.executors.utils import single_nb_execution

    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stderr, _redirect_fd(2, stderr.fileno()):
        try:
            result = single_nb_execution(
                page.notebook, cwd=str(page.path.parent.resolve()),
                allow_errors=page.allow_errors, timeout=page.timeout,
                meta_override=True)
        except Exception:  # noqa: BLE001 - the kernel died, or would not start: this page fails
            error = traceback.format_exc()
        else:
            if result.err is None:
                return Outcome(result.nb, result.time, None)
            error = result.exc_string
        stderr.seek(0)
        kernel_stderr = stderr.read()[-20000:]
    return Outcome(page.notebook, time.perf_counter() - start,
                   f"{error}\n----- kernel stderr -----\n{kernel_stderr}")


@contextlib.contextmanager
def _redirect_fd(fd: int, target: int):
    saved = os.dup(fd)
    os.dup2(target, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def execute(work: Plan, jobs: int, root: Path, log=print) -> list[Outcome]:
    """Execute the pending pages, ``jobs`` at a time; cache each success as it
    finishes. Logs one line per page; returns the failures."""
    from jupyter_cache import get_cache

    cache = get_cache(str(work.cache_path))
    failures: list[Outcome] = []
    finished: list[Outcome] = []
    total, start = len(work.pending), time.perf_counter()
    # spawn: a clean worker (no Sphinx state, no inherited sqlite handle)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(_execute, page): page for page in work.pending}
        for done, future in enumerate(as_completed(futures), 1):
            outcome = future.result()
            outcome.page = futures[future]
            finished.append(outcome)
            _store(cache, outcome)
            if outcome.traceback is not None:
                failures.append(outcome)
            status = "ok" if outcome.traceback is None else "FAILED"
            name = _relative(outcome.page.path, root)
            log(f"[{done}/{total}] {status:6} {outcome.seconds:6.1f} s  {name}")
    _write_history(work.history, finished)
    log(f"executed {total} page(s) in {time.perf_counter() - start:.1f} s with "
        f"{jobs} job(s): {total - len(failures)} ok, {len(failures)} failed")
    return failures


def _store(cache, outcome: Outcome) -> None:
    """Record the page as myst-nb does: a project record (its traceback on failure)
    and, on success, the executed notebook under the hash of its code."""
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.cache.db import NbProjectRecord

    record = cache.add_nb_to_project(str(outcome.page.path),
                                     read_data=outcome.page.read_fmt)
    NbProjectRecord.remove_tracebacks([record.pk], cache.db)
    if outcome.traceback is not None:
        NbProjectRecord.set_traceback(record.uri, outcome.traceback, cache.db)
        return
    cache.cache_notebook_bundle(
        CacheBundleIn(outcome.notebook, record.uri,
                      data={"execution_seconds": outcome.seconds}),
        check_validity=False, overwrite=True)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
