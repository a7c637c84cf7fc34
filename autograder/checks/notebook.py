"""Read the graded cells of a source notebook and run them in this process.

Used by ``autograder.references`` (to record what classic mistakes give) and by the
tests (to grade fake submissions without starting a kernel per mistake).
"""

import ast
import contextlib
import io
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


def solution_path(name):
    return ROOT / "solutions" / name / f"{name}.ipynb"


def exercise_path(name):
    return ROOT / "exercises" / name / f"{name}.ipynb"


def read(name):
    return nbformat.read(solution_path(name), as_version=4)


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def cells_by_id(nb):
    """{grade_id: cell} for every nbgrader cell."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if nbgrader_meta(c).get("grade_id")}


def graded_tests(nb):
    """{grade_id: points} of the autograded test cells, in notebook order."""
    return {
        nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"]
        for c in nb.cells
        if nbgrader_meta(c).get("grade") and c.cell_type == "code"
    }


def visible_part(source):
    """A test cell's source before its hidden block."""
    return source.split(HIDDEN_BEGIN)[0]


def split_probe(probe):
    """(statements, last expression) of a probe's source."""
    tree = ast.parse(probe)
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise ValueError("a probe must end with an expression")
    last = tree.body[-1]
    lines = probe.splitlines()
    head = "\n".join(lines[: last.lineno - 1])
    tail = "\n".join(lines[last.lineno - 1:])
    return head, tail


def run_probe(probe, namespace):
    """Run a probe in ``namespace`` as a kernel would: its value, round-tripped as JSON."""
    import json

    head, tail = split_probe(probe)
    exec(compile(head, "<probe>", "exec"), namespace)
    value = eval(compile(tail, "<probe>", "eval"), namespace)
    return json.loads(json.dumps(value))


def run_cells(sources, namespace=None, quiet=True):
    """Execute code cells in one namespace, as one kernel would (a __main__-like dict)."""
    namespace = {"__name__": "__main__"} if namespace is None else namespace
    out = io.StringIO()
    with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
        for source in sources:
            exec(compile(source, "<cell>", "exec"), namespace)
    return namespace
