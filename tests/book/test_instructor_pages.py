"""The book builds from the public course alone, and its instructor pages still say
what the grader does.

The public course (``make public``) holds the book and the ``course`` package, never
``autograder/``. So no page may import the grader in a code cell: the instructor pages
show the grader's numbers as literals, and these tests check the literals against the
grader here, in the instructor's repository:

- security.md's table of default limits equals ``autograder.sandbox.Limits()``;
- grading.md's totals and outcome counts equal the demo class's expected grades.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
SECURITY = BOOK / "instructor" / "security.md"
GRADING = BOOK / "instructor" / "grading.md"

sys.path.insert(0, str(ROOT / "scripts"))
import make_public  # noqa: E402 - after the sys.path line
import student_env  # noqa: E402 - after the sys.path line

CODE_CELL = re.compile(r"^(`{3,})\{code-cell\}[^\n]*\n(.*?)^\1[ \t]*$", re.S | re.M)


def code_cells(page_text: str) -> list[str]:
    """The code of a MyST page's code cells, without their options."""
    cells = []
    for _, block in CODE_CELL.findall(page_text):
        block = re.sub(r"\A---\n.*?^---\n", "", block, flags=re.S | re.M)
        cells.append(re.sub(r"^:\w[\w-]*:.*$", "", block, flags=re.M))
    return cells


# --- every page builds from the public course ----------------------------------------

def student_locked_modules() -> set[str]:
    """Top-level modules installed by a distribution that the student lock pins."""
    locked = set()
    for line in (ROOT / "requirements-student.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            locked.add(re.sub(r"[-_.]+", "-", re.split(r"[=<>!~;\[ ]", line)[0]).lower())
    by_module = importlib.metadata.packages_distributions()
    return {module for module, dists in by_module.items()
            if {re.sub(r"[-_.]+", "-", d).lower() for d in dists} & locked}


def course_modules_imported(sources: list[str]) -> set[str]:
    """Every ``course.x`` a page's code names in an import (``from course import x``
    included: x may be a module)."""
    named = set()
    for source in sources:
        lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.Import):
                named |= {a.name for a in node.names if a.name.startswith("course.")}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "course":
                    named |= {f"course.{a.name}" for a in node.names}
                elif node.module.startswith("course."):
                    named.add(node.module)
    return named


def public_course_names() -> set[str]:
    """``course`` and what it holds in the public course: its git-tracked modules
    (what make_public copies) and the names its ``__init__`` defines."""
    names = {"course"}
    for path in make_public.tracked_files("course"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if path.suffix == ".py":
            names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    init = ast.parse((ROOT / "course" / "__init__.py").read_text(encoding="utf-8"))
    for node in init.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(f"course.{node.name}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {f"course.{(a.asname or a.name).split('.')[0]}" for a in node.names}
        elif isinstance(node, ast.Assign):
            names |= {f"course.{t.id}" for t in node.targets if isinstance(t, ast.Name)}
    return names


def foreign_imports(pages: dict[str, str], allowed: set[str]) -> list[str]:
    """'page: module' for each module a page's code imports that is neither in the
    public package, the standard library, nor pinned by the student lock."""
    wrong = []
    for name, text in sorted(pages.items()):
        cells = code_cells(text)
        modules = student_env.imported_modules(cells) | course_modules_imported(cells)
        wrong += [f"{name}: {module}" for module in sorted(modules)
                  if module not in allowed and module not in sys.stdlib_module_names]
    return wrong


@pytest.fixture(scope="module")
def public_modules() -> set[str]:
    allowed = public_course_names() | student_locked_modules()
    assert "autograder" not in allowed and {"numpy", "course.grade_plots"} <= allowed
    return allowed


def book_pages() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(BOOK.rglob("*.md"))}


def test_no_page_imports_the_grader_or_a_module_students_lack(public_modules):
    pages = book_pages()
    assert len(pages) > 15 and sum(bool(code_cells(t)) for t in pages.values()) > 10
    assert foreign_imports(pages, public_modules) == []


def test_a_page_importing_the_grader_is_named(public_modules):
    page = GRADING.read_text(encoding="utf-8").replace(
        "from course.grade_plots import",
        "from autograder import demo\nfrom course.grade_plots import")
    sneaky = ("```{code-cell} ipython3\n:tags: [remove-cell]\nimport nbgrader.api\n"
              "from course.optimizers import OPTIMIZERS\nfrom course import reference_rules\n"
              "```\n")
    assert foreign_imports({"grading.md": page, "other.md": sneaky}, public_modules) == \
        ["grading.md: autograder", "other.md: course.optimizers",
         "other.md: course.reference_rules", "other.md: nbgrader"]


# --- security.md: the table of default limits ----------------------------------------

UNITS = {"": 1, "s": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def limits_table(page_text: str) -> dict[str, int | float]:
    """{field: default} from the page's `| `field` | 60 s | ... |` rows."""
    rows = re.findall(r"^\| `(\w+)` \| ([\d.]+) ?(\w*) \|", page_text, flags=re.M)
    values = {field: float(number) * UNITS[unit] for field, number, unit in rows}
    return {field: int(v) if v.is_integer() else v for field, v in values.items()}


def limits_mismatches(table: dict[str, float], limits) -> list[str]:
    """One line per field where the table and the dataclass's defaults differ."""
    fields = {f.name: getattr(limits, f.name) for f in dataclasses.fields(limits)}
    wrong = [f"{name}: page {table.get(name)}, Limits() {value}"
             for name, value in fields.items() if table.get(name) != value]
    wrong += [f"{name}: on the page, not a field of Limits" for name in table
              if name not in fields]
    return wrong


def test_the_security_page_shows_the_default_limits():
    from autograder.sandbox import Limits

    table = limits_table(SECURITY.read_text(encoding="utf-8"))
    assert len(table) == len(dataclasses.fields(Limits))
    assert limits_mismatches(table, Limits()) == []


def test_a_wrong_default_on_the_security_page_is_named():
    from autograder.sandbox import Limits

    text = SECURITY.read_text(encoding="utf-8")
    assert "| `max_processes` | 64 |" in text and "| `memory_bytes` | 4 GiB |" in text
    text = text.replace("| `max_processes` | 64 |", "| `max_processes` | 65 |")
    text = text.replace("| `memory_bytes` | 4 GiB |", "| `memory_bytes` | 4 MiB |")
    text = re.sub(r"^\| `max_files` .*\n", "", text, flags=re.M)
    assert limits_mismatches(limits_table(text), Limits()) == [
        f"memory_bytes: page {4 * 2**20}, Limits() {4 * 2**30}",
        "max_processes: page 65, Limits() 64",
        "max_files: page None, Limits() 10000"]


# --- grading.md: the report's two plots of the demo class ----------------------------

def plot_data(page_text: str) -> dict:
    """The page's literal ``totals``, ``outcomes`` and ``score_histogram``'s max score."""
    found = {}
    for cell in code_cells(page_text):
        for node in ast.walk(ast.parse(cell)):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    getattr(node.targets[0], "id", None) in ("totals", "outcomes"):
                found[node.targets[0].id] = ast.literal_eval(node.value)
            elif isinstance(node, ast.Call) and \
                    getattr(node.func, "id", None) == "score_histogram":
                found["max_score"] = ast.literal_eval(node.args[2])
    return found


def demo_plot_data(assignment: str = "sgd_momentum") -> dict:
    """What the page showed before it became public: the demo class's expected grades,
    counted per part as the page's old cell counted them."""
    import nbformat

    from autograder.commands import demo
    from autograder.notebook import nbgrader_cells as cells

    expected = demo.expected_grades([assignment])
    grades = [student[assignment] for student in expected.values()]
    totals = [g["score"] for g in grades]
    outcomes = {}
    for g in grades:
        for part, points in g["parts"].items():
            counts = outcomes.setdefault(part, {})
            if points is None:
                key = "by_hand"
            elif g["status"] == "failed":
                key = "failed"
            else:
                key = "passed" if points > 0 else "not_passed"
            counts[key] = counts.get(key, 0) + 1
    source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", 4)
    max_score = sum(part["max_points"] for part in cells.graded_parts(source))
    return {"totals": totals, "outcomes": outcomes, "max_score": max_score}


def plot_data_mismatches(page: dict, demo: dict) -> list[str]:
    """What differs, in order too: the totals by student, the bars by part."""
    wrong = [f"{key}: page {page.get(key)!r}, demo {demo[key]!r}"
             for key in ("totals", "max_score") if page.get(key) != demo[key]]
    shown = page.get("outcomes") or {}
    if list(shown) != list(demo["outcomes"]):
        wrong.append(f"outcomes' parts: page {list(shown)}, demo {list(demo['outcomes'])}")
    wrong += [f"outcomes[{part!r}]: page {shown.get(part)}, demo {counts}"
              for part, counts in demo["outcomes"].items() if shown.get(part) != counts]
    return wrong


@pytest.fixture(scope="module")
def demo_data() -> dict:
    return demo_plot_data()


@pytest.mark.slow  # the demo class builds 13 notebooks in memory (about 5 s)
def test_the_grading_page_plots_the_demo_class(demo_data):
    page = plot_data(GRADING.read_text(encoding="utf-8"))
    assert len(page["totals"]) == 13 and page["max_score"] == 15
    assert plot_data_mismatches(page, demo_data) == []


@pytest.mark.slow
def test_a_wrong_number_on_the_grading_page_is_named(demo_data):
    text = GRADING.read_text(encoding="utf-8")
    line = '"sgd_update": {"passed": 8, "not_passed": 3, "failed": 2}'
    assert line in text
    text = text.replace(line, line.replace('"passed": 8', '"passed": 9'))
    text = text.replace("totals = [13, 11,", "totals = [13, 12,")
    wrong = plot_data_mismatches(plot_data(text), demo_data)
    assert wrong == [
        "totals: page [13, 12, 9, 9, 10, 0, 0, 0, 13, 13, 13, 7, 13], "
        "demo [13.0, 11.0, 9.0, 9.0, 10.0, 0.0, 0.0, 0.0, 13.0, 13.0, 13.0, 7.0, 13.0]",
        "outcomes['sgd_update']: page {'passed': 9, 'not_passed': 3, 'failed': 2}, "
        "demo {'passed': 8, 'not_passed': 3, 'failed': 2}"]


# --- large-class.md: the capacity table and the worker's systemd unit ----------------

LARGE_CLASS = BOOK / "instructor" / "large-class.md"
WORKER_UNIT = BOOK / "instructor" / "autograder-worker.service"
GRADING_COST = ROOT / "benchmarks" / "results" / "grading_cost.json"
QUEUE_BENCH = ROOT / "benchmarks" / "results" / "queue.json"
CAPACITY_CORES = (1, 8, 64)
LARGE_CLASS_SIZE = 50_000
CAPACITY_ROW = re.compile(r"^\| `(\w+)` \| ([\d.]+) s \| ([\d,]+) \| ([\d,]+) \| "
                          r"([\d,]+) \| ([\d,]+) \|$", re.M)


def capacity_from_benchmark(cost: dict) -> dict[str, list[str]]:
    """Each assignment's row as the formula gives it from grading_cost.json: CPU s per
    submission, CPU-hours of 50,000 submissions, then submissions per hour on 1, 8 and
    64 worker cores (cores x 3600 / CPU s per submission)."""
    rows = {}
    for name, figures in cost["assignments"].items():
        cpu = figures["cpu_s_per_submission"]
        rows[name] = ([f"{cpu:.2f}", f"{round(LARGE_CLASS_SIZE * cpu / 3600):,}"]
                      + [f"{round(cores * 3600 / cpu):,}" for cores in CAPACITY_CORES])
    return rows


def capacity_table(page_text: str) -> dict[str, list[str]]:
    return {name: list(cells) for name, *cells in CAPACITY_ROW.findall(page_text)}


def capacity_mismatches(page: dict, expected: dict) -> list[str]:
    wrong = [f"{name}: page {page.get(name)}, formula {row}"
             for name, row in expected.items() if page.get(name) != row]
    return wrong + [f"{name}: on the page, not in the benchmark" for name in page
                    if name not in expected]


def test_the_large_class_page_quotes_the_measured_capacity():
    import json

    cost = json.loads(GRADING_COST.read_text())
    expected = capacity_from_benchmark(cost)
    assert len(expected) >= 2
    assert capacity_mismatches(capacity_table(LARGE_CLASS.read_text()), expected) == []


def test_a_wrong_capacity_on_the_large_class_page_is_named():
    import json

    expected = capacity_from_benchmark(json.loads(GRADING_COST.read_text()))
    name, row = next(iter(expected.items()))
    text = LARGE_CLASS.read_text()
    line = f"| `{name}` | {row[0]} s | " + " | ".join(row[1:]) + " |"
    assert line in text
    edited = text.replace(line, line.replace(f"| {row[2]} |", "| 1 |"))
    assert capacity_mismatches(capacity_table(edited), expected) == [
        f"{name}: page {row[:2] + ['1'] + row[3:]}, formula {row}"]


def test_the_large_class_page_quotes_the_queue_benchmark():
    import json

    ratio = json.loads(QUEUE_BENCH.read_text())["ratio"]
    assert f"ratio of {ratio:.2f}" in " ".join(LARGE_CLASS.read_text().split())


TAIL_SHARES = (0.0, 0.01, 0.05)
TAIL_CORES = 64
TAIL_ROW = re.compile(r"^\| `(\w+)` \| ([\d.]+) h \| ([\d.]+) h \| ([\d.]+) h \|$", re.M)


def tail_from_benchmark(cost: dict) -> dict[str, list[str]]:
    """Hours for 50,000 submissions on 64 cores when a share of them runs to the
    notebook's time limit: 50,000 x (CPU s + share x limit) / (64 x 3600)."""
    from autograder.sandbox.limits import Limits

    limit = Limits().notebook_timeout

    def hours(cpu: float, share: float) -> str:
        return f"{LARGE_CLASS_SIZE * (cpu + share * limit) / (TAIL_CORES * 3600):.1f}"

    return {name: [hours(figures["cpu_s_per_submission"], share) for share in TAIL_SHARES]
            for name, figures in cost["assignments"].items()}


def test_the_large_class_page_says_what_64_cores_do_tail_included():
    import json

    expected = tail_from_benchmark(json.loads(GRADING_COST.read_text()))
    page = {name: list(cells) for name, *cells in TAIL_ROW.findall(LARGE_CLASS.read_text())}
    assert page == expected


def worker_command_problems(unit_text: str) -> list[str]:
    """What is wrong with a unit's ExecStart as ``python -m autograder worker``: the
    program, an option autograder/cli.py's parser refuses, or a URL on the command line
    (every user sees it in ps: the worker reads them from the EnvironmentFile)."""
    import contextlib
    import io
    import shlex

    from autograder.commands.cli import build_parser

    found = re.findall(r"^ExecStart=(.*)$", unit_text, flags=re.M)
    if len(found) != 1:
        return [f"{len(found)} ExecStart lines"]
    argv = shlex.split(found[0])
    if not (Path(argv[0]).name.startswith("python")
            and argv[1:4] == ["-m", "autograder", "worker"]):
        return [f"not python -m autograder worker: {found[0]}"]
    if re.search(r"\$\{?\w+|://", found[0]):
        return [f"a URL on the command line: {found[0]}"]
    args = argv[3:]
    refusal = io.StringIO()
    with contextlib.redirect_stderr(refusal):
        try:
            build_parser().parse_args(args)
        except SystemExit:
            return [refusal.getvalue().strip().splitlines()[-1]]
    return []


def test_the_worker_unit_runs_the_real_worker_command():
    unit = WORKER_UNIT.read_text()
    assert worker_command_problems(unit) == []
    assert re.search(r"^EnvironmentFile=/etc/autograder/worker.env$", unit, re.M)
    assert "```{literalinclude} autograder-worker.service" in LARGE_CLASS.read_text()


def test_a_worker_unit_with_a_wrong_option_is_named():
    unit = WORKER_UNIT.read_text()
    assert "--concurrency 8" in unit
    assert worker_command_problems(unit.replace("--concurrency 8", "--threads 8")) == [
        "python -m autograder: error: unrecognized arguments: --threads 8"]
    command = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    assert worker_command_problems(unit.replace(" worker ", " serve ")) == [
        "not python -m autograder worker: " + command.replace(" worker ", " serve ")]
    with_url = command.replace(" worker ", " worker --broker ${AUTOGRADER_BROKER} ")
    assert worker_command_problems(unit.replace(command, with_url)) == [
        f"a URL on the command line: {with_url}"]


def test_the_large_class_page_quotes_the_fresh_kernel_cost():
    """The page's 'X CPU s instead of Y' for a worker without root: fresh kernels
    (grading_cost-fresh.json) against warm ones (grading_cost.json)."""
    import json

    warm = json.loads(GRADING_COST.read_text())["assignments"]
    fresh_file = json.loads((GRADING_COST.parent / "grading_cost-fresh.json").read_text())
    assert fresh_file["machine"]["kernel_mode"].startswith("fresh")
    text = " ".join(LARGE_CLASS.read_text().split())
    for name, figures in fresh_file["assignments"].items():
        assert figures["kernels_used"] == {"fresh": figures["submissions"]}
        quoted = (f"`{name}` costs {figures['cpu_s_per_submission']:.2f} CPU s instead of "
                  f"{warm[name]['cpu_s_per_submission']:.2f}")
        assert quoted in text, quoted


# --- grading.md: where one submission's CPU seconds go --------------------------------

def cost_bar_data(page_text: str) -> dict | None:
    """The page's literal ``costs`` (what ``grading_cost_bars`` draws)."""
    for cell in code_cells(page_text):
        for node in ast.walk(ast.parse(cell)):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    getattr(node.targets[0], "id", None) == "costs":
                return ast.literal_eval(node.value)
    return None


def test_the_grading_page_draws_the_measured_grading_cost():
    """The stacked bars on the grading page are grading_cost.json's profile."""
    import json

    from course.grade_plots import cost_by_group

    expected = cost_by_group(json.loads(GRADING_COST.read_text()))
    text = GRADING.read_text(encoding="utf-8")
    assert cost_bar_data(text) == expected
    assert "grading_cost_bars(costs" in text
    name = next(iter(expected))
    edited = text.replace(f"\"measured\": {expected[name]['measured']}",
                          f"\"measured\": {expected[name]['measured'] + 1}", 1)
    assert cost_bar_data(edited) != expected


def test_the_large_class_page_quotes_the_measured_tail():
    import json

    tail = json.loads(GRADING_COST.read_text())["tail"]
    assert tail["wall_s"] >= tail["notebook_timeout_s"]  # it did run to its limit
    text = " ".join(LARGE_CLASS.read_text().split())
    assert f"held the worker {tail['wall_s']:.0f} s and cost {tail['cpu_s']:.0f} CPU s" in text
