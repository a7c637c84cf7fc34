#!/usr/bin/env python3
"""The "Check my notebook" cells at the end of every solution notebook.

    python scripts/check_cell.py           # add or refresh them in solutions/*/*.ipynb
    python scripts/check_cell.py --check   # exit 1 naming the notebooks that lack them

Every assignment ends with a heading that says what the check does and a locked code
cell that runs it (``course.check.check_cell_source``, in the notebook's language, with
the public repository of ``_config.yml`` in its install hint). Then ``make exercises``
releases them. Run it after changing the cell's text or adding an assignment.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from make_public import repository  # noqa: E402 - after the sys.path line that finds it

from course.check import CHECK_CELL_ID, check_cell_source  # noqa: E402 - after the sys.path line that finds it
from course.check.frontend import CHECK_HEADING as HEADING  # noqa: E402 - after the sys.path line that finds it
from course.check.frontend import CHECK_HEADING_ID as HEADING_ID  # noqa: E402 - after the sys.path line that finds it
from course.grading_terms import notebook_language  # noqa: E402 - after the sys.path line that finds it


def check_cells(notebook, name: str) -> list:
    """The heading and the check cell for one assignment notebook."""
    language = notebook_language(notebook)
    url, branch = repository((ROOT / "_config.yml").read_text(encoding="utf-8"))
    title, text = HEADING.get(language, HEADING["en"]).split("\n\n")
    width = 88 if language == "en" else 44  # a Chinese character is two columns wide
    heading = nbformat.v4.new_markdown_cell(f"{title}\n\n{textwrap.fill(text, width)}")
    heading.id = HEADING_ID
    cell = nbformat.v4.new_code_cell(check_cell_source(f"{name}.ipynb", url, branch,
                                                       language))
    cell.id = CHECK_CELL_ID
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": CHECK_CELL_ID, "locked": True,
                                 "schema_version": 3, "solution": False}
    return [heading, cell]


def with_check_cells(notebook, name: str):
    """The notebook without any earlier check cells, and with them at its end."""
    kept = [c for c in notebook.cells if c.get("id") not in (HEADING_ID, CHECK_CELL_ID)
            and c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != CHECK_CELL_ID]
    notebook.cells = kept + check_cells(notebook, name)
    return notebook


def solutions(root: Path = ROOT) -> list[Path]:
    return sorted(p for p in (root / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when a notebook lacks its cells")
    args = parser.parse_args(argv)
    stale = []
    for path in solutions():
        text = path.read_text(encoding="utf-8")
        notebook = with_check_cells(nbformat.reads(text, as_version=4), path.stem)
        new = nbformat.writes(notebook) + "\n"
        if new != text:
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check and stale:
        print("check cells missing or stale (run python scripts/check_cell.py, then "
              "make exercises): " + ", ".join(stale), file=sys.stderr)
        return 1
    for name in stale:
        print(f"{name}: check cells written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
