"""How long the graded notebooks take: each solution top to bottom, each hidden test.

    .venv/bin/python benchmarks/assignments.py [assignment ...] [--repeat N]

Runs every solution notebook in a fresh kernel (nbclient, as nbgrader does), kernel
start and TensorFlow's import included, after splitting each graded test cell into its
visible part and its hidden block so that the hidden block is timed on its own.
Prints, per notebook, the wall-clock time from kernel start to the last cell, the
slowest cell, and the slowest hidden block; with the machine's load average, since
other work on the machine slows every figure down. Targets: a notebook
under 30 s, a hidden block under 2 s.
"""

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.checks import ASSIGNMENTS  # noqa: E402 - after the sys.path line
from autograder.checks import notebook as nbt  # noqa: E402 - after the sys.path line
from autograder.notebook.nbgrader_cells import (  # noqa: E402 - after the sys.path line
    HIDDEN_BEGIN_LINE, nbgrader_meta,
)


def split_hidden(nb):
    """A copy of nb whose graded test cells are split: visible part, then hidden block."""
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code" and meta.get("grade") and HIDDEN_BEGIN_LINE in cell.source:
            visible, hidden = cell.source.split(HIDDEN_BEGIN_LINE)
            out.cells.append(nbformat.v4.new_code_cell(
                visible, metadata={"part": meta["grade_id"]}))
            out.cells.append(nbformat.v4.new_code_cell(
                HIDDEN_BEGIN_LINE + hidden, metadata={"hidden": meta["grade_id"]}))
        else:
            out.cells.append(nbformat.v4.new_code_cell(cell.source) if cell.cell_type == "code"
                             else nbformat.v4.new_markdown_cell(cell.source))
    return out


def _seconds(cell):
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    def parse(stamp):
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    return (parse(end) - parse(start)).total_seconds()


def run(name):
    nb = split_hidden(nbt.read(name))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(nbt.solution_path(name).parent)}})
    start = time.perf_counter()
    client.execute()
    total = time.perf_counter() - start
    # what would cost points: an error anywhere, stderr in a test cell
    errors = [c for c in nb.cells if c.cell_type == "code" and any(
        o.output_type == "error"
        or (getattr(o, "name", "") == "stderr" and ("part" in c.metadata or "hidden" in c.metadata))
        for o in c.outputs)]
    cells = [(c, _seconds(c)) for c in nb.cells if c.cell_type == "code"]
    hidden = {c.metadata["hidden"]: s for c, s in cells if "hidden" in c.metadata}
    slowest = max(cells, key=lambda pair: pair[1])
    return {"total": total, "hidden": hidden, "slowest_cell": slowest[1],
            "slowest_source": slowest[0].source.splitlines()[0][:60], "errors": len(errors)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", default=list(ASSIGNMENTS))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'notebook':<16} {'total s':>8} {'slowest cell s':>15} "
          f"{'slowest hidden s':>17}  errors")
    worst_total, worst_hidden = 0.0, 0.0
    for name in args.assignments:
        for _ in range(args.repeat):
            result = run(name)
            part, seconds = max(result["hidden"].items(), key=lambda kv: kv[1])
            worst_total = max(worst_total, result["total"])
            worst_hidden = max(worst_hidden, seconds)
            print(f"{name:<16} {result['total']:8.1f} {result['slowest_cell']:15.2f} "
                  f"{seconds:10.2f} ({part})  {result['errors']}")
    print(f"load average {os.getloadavg()[0]:.2f} at end; worst notebook {worst_total:.1f} s "
          f"(target < 30), worst hidden block {worst_hidden:.2f} s (target < 2)")


if __name__ == "__main__":
    main()
