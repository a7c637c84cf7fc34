"""Read the graded cells of a source notebook and run them in this process.

Used by ``python -m autograder references`` (to record what classic mistakes give) and
by the tests (to grade fake submissions without starting a kernel per mistake).
"""

import contextlib
import io
from pathlib import Path

import nbformat

from autograder.notebook.nbgrader_cells import nbgrader_meta

ROOT = Path(__file__).resolve().parents[2]


def solution_path(name):
    return ROOT / "solutions" / name / f"{name}.ipynb"


def exercise_path(name):
    return ROOT / "exercises" / name / f"{name}.ipynb"


def read(name):
    return nbformat.read(solution_path(name), as_version=4)


def graded_tests(nb):
    """{grade_id: points} of the autograded test cells, in notebook order."""
    return {
        nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"]
        for c in nb.cells
        if nbgrader_meta(c).get("grade") and c.cell_type == "code"
    }


def run_cells(sources, namespace=None, quiet=True):
    """Execute code cells in one namespace, as one kernel would (a __main__-like dict)."""
    namespace = {"__name__": "__main__"} if namespace is None else namespace
    out = io.StringIO()
    with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
        for source in sources:
            exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102 - the course's own solution cells
    return namespace


def solution_namespace(name, nb=None, replace=None, run=None):
    """Execute the set-up cell and answer cells (optionally edited) of a solution.

    ``replace`` maps an answer cell's grade_id to new source; ``run`` restricts the
    answer cells executed (grade_ids; default all). Returns the namespace.
    """
    nb = nb or read(name)
    sources = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        grade_id = meta.get("grade_id")
        if meta.get("solution") and run is not None and grade_id not in run:
            continue
        if not meta.get("solution") and not meta.get("locked"):
            continue  # plain code cells (demonstrations) are not needed to grade
        source = (replace or {}).get(grade_id, cell.source)
        sources.append(source)
    return run_cells(sources)
