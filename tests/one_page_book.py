"""A one-page book with the course's own _config.yml and build script.

The tests of the build itself (strict mode, alt text, offline formulas) use it, so they
exercise the real settings rather than a copy of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MYST_HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

"""


def write(folder: Path, page: str) -> Path:
    """A book in ``folder`` whose only page is ``page`` (MyST, without the header)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    # _config.yml names the bibliography; a missing .bib is a warning, so a failed build
    (folder / "book").mkdir(exist_ok=True)
    (folder / "book" / "references.bib").write_text(
        (ROOT / "book" / "references.bib").read_text())
    (folder / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (folder / "page.md").write_text(MYST_HEADER + page)
    return folder


def add_pages(folder: Path, pages: dict[str, str]) -> Path:
    """More pages (name: MyST body without the header) after the book's first page."""
    chapters = "".join(f"- file: {name}\n" for name in pages)
    (folder / "_toc.yml").write_text(f"format: jb-book\nroot: page\nchapters:\n{chapters}")
    for name, body in pages.items():
        (folder / f"{name}.md").write_text(MYST_HEADER + body)
    return folder


def build_command(folder: Path, *options: str) -> list[str]:
    """The course's strict build of ``folder`` (the site goes to folder/_build/html)."""
    return [sys.executable, str(ROOT / "scripts" / "build_book.py"), str(folder),
            *options]
