"""Check one notebook: read it, plan the run as grading would, run it, judge it."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path

from course.check.kernel import CellOutcome, CheckKernel
from course.check.plan import Plan, plan
from course.check.verdict import Judge, PartVerdict, Report
from course.grading_terms import LIMITS, GradingLimits, notebook_language, say


class CheckError(Exception):
    """The check could not run; the message is one line for the student."""


def read_notebook(path: Path) -> dict:
    """The notebook at ``path`` as plain JSON data; ``CheckError`` when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CheckError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CheckError(f"cannot read {path}: {error}") from None
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as error:
        raise CheckError(f"{Path(path).name} is not a notebook: invalid JSON at line "
                         f"{error.lineno} ({error.msg})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise CheckError(f"{Path(path).name} is not a Jupyter notebook (no list of cells)")
    return notebook


def execute(run_plan: Plan, limits: GradingLimits = LIMITS, progress=None
            ) -> list[CellOutcome]:
    """Run the plan's cells in order in one fresh kernel; one outcome per cell."""
    outcomes: list[CellOutcome] = []
    total = len(run_plan.cells)
    with tempfile.TemporaryDirectory(prefix="course-check-",
                                     ignore_cleanup_errors=True) as work:
        try:
            kernel = CheckKernel(work, limits).__enter__()
        except Exception as error:  # noqa: BLE001 - any cause: one line for the student
            raise CheckError(f"the check could not start a kernel: {error}") from None
        try:
            for index, cell in enumerate(run_plan.cells):
                if progress:
                    progress(index, total)
                outcomes.append(kernel.run(cell.source, setup=cell.kind == "setup"))
            if progress:
                progress(total, total)
        finally:
            kernel.__exit__(None, None, None)
    return outcomes


def check_notebook(path: str | Path | None = None, *, notebook: dict | None = None,
                   name: str | None = None, limits: GradingLimits = LIMITS,
                   progress=None) -> Report:
    """Run a copy of the notebook as grading will and report on it.

    ``path``: the notebook file; or ``notebook``: its JSON data (Colab) with ``name``,
    its file name if known. ``progress(done, total)`` is called as cells run.
    """
    if notebook is None:
        notebook = read_notebook(Path(path))
    name = name or (Path(path).name if path is not None else None)
    language = notebook_language(notebook)
    run_plan = plan(notebook)
    outcomes = execute(run_plan, limits, progress)
    report = Judge(run_plan, outcomes, language, limits).report(name or "notebook")
    if run_plan.assignment and name and name != f"{run_plan.assignment}.ipynb":
        report.warnings.insert(0, say("wrong_name", language, name=name,
                                      expected=f"{run_plan.assignment}.ipynb"))
        report.name_problem = True
    return report


def report_to_json(report: Report) -> str:
    return json.dumps(asdict(report), ensure_ascii=False)


def report_from_json(text: str) -> Report:
    data = json.loads(text)
    data["parts"] = [PartVerdict(**p) for p in data["parts"]]
    data["limits"] = GradingLimits(**data["limits"])
    return Report(**data)
