"""The grader's layout: imports point one way, down the layers, with no cycle; no
function longer than 60 lines and no module longer than 400 in autograder/ or course/.

Layers, top to bottom (a module may import from its own layer or any layer below):

    cli            the command line; nothing imports it
    orchestration  one command each: grade a class, collect, feedback, export, report,
                   release, references, the demo class, the worker pool, pages
    grading        grade one submission: checks, fingerprint, gradebook
    kernel         the sandboxed kernel that runs student code
    notebook       notebook cells, reading submissions, the workspace's files, config

``course`` (the public package) never imports ``autograder`` (the instructor's).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

LAYERS = {
    "cli": ["autograder.__main__", "autograder.cli"],
    "orchestration": ["autograder.grading", "autograder.collect", "autograder.feedback",
                      "autograder.export", "autograder.report", "autograder.release",
                      "autograder.references", "autograder.demo", "autograder.scheduler",
                      "autograder.progress", "autograder.pages", "autograder.taskqueue",
                      "autograder.queued"],
    "grading": ["autograder.grade_one", "autograder.grade_cells", "autograder.fingerprint",
                "autograder.gradebook", "autograder.jobstore", "autograder.reference_rules", "autograder.verdicts",
                "autograder.probes", "autograder.checks", "autograder.checks.*"],
    "kernel": ["autograder.sandbox", "autograder.sandbox.*"],
    "notebook": ["autograder", "autograder.assemble", "autograder.intake",
                 "autograder.cells", "autograder.workspace", "autograder.config",
                 "autograder.nbgrader_config", "autograder.errors"],
}
ORDER = list(LAYERS)

MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400
# Files other people are changing right now (the checks); each is to be split when
# they are done. Their sizes today, so that they cannot grow:
# {path: (module lines, {function: lines})}.
TOO_LONG_FOR_NOW: dict[str, tuple[int, dict[str, int]]] = {}


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(*packages: str, root: Path = REPO) -> list[Path]:
    return sorted(p for package in packages for p in (root / package).rglob("*.py")
                  if "__pycache__" not in p.parts)


def imports_of(path: Path, known: set[str], root: Path = REPO) -> set[str]:
    """The modules of ``known`` a file imports, anywhere in it (functions included)."""
    here = module_name(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name in known and name != here}


def import_graph(packages=("autograder", "course"), root: Path = REPO) -> dict[str, set]:
    files = {module_name(p, root): p for p in python_files(*packages, root=root)}
    return {name: imports_of(path, set(files), root) for name, path in files.items()}


def cycles(graph: dict[str, set]) -> list[list[str]]:
    """Every import cycle found by a depth-first search (each as a path)."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def layer_of(module: str) -> str | None:
    for layer, patterns in LAYERS.items():
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*")
                                     and module.startswith(pattern[:-1])):
                return layer
    return None


def upward_imports(graph: dict[str, set]) -> list[str]:
    wrong = []
    for module, targets in graph.items():
        for target in targets:
            if module.startswith("course") and target.startswith("autograder"):
                wrong.append(f"{module} -> {target} (the public course imports the grader)")
            elif layer_of(module) and layer_of(target) and \
                    ORDER.index(layer_of(target)) < ORDER.index(layer_of(module)):
                wrong.append(f"{module} ({layer_of(module)}) -> {target} "
                             f"({layer_of(target)})")
    return sorted(wrong)


# ----------------------------------------------------------------------------- the tests
def test_every_grader_module_has_a_layer():
    missing = [m for m in import_graph() if m.startswith("autograder") and not layer_of(m)]
    assert not missing, f"add these modules to LAYERS in {__file__}: {missing}"


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_imports_point_down_the_layers():
    assert upward_imports(import_graph()) == []


def test_the_checker_finds_an_injected_cycle_and_an_upward_import(tmp_path):
    """The two checks above can fail: a copy of the grader with one import added."""
    for package in ("autograder", "course"):
        for path in python_files(package):
            copy = tmp_path / path.relative_to(REPO)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    with open(tmp_path / "autograder" / "workspace.py", "a", encoding="utf-8") as fh:
        fh.write("\n\ndef _injected():\n    from autograder import cli\n")
    graph = import_graph(root=tmp_path)
    assert any(cycle[0] == cycle[-1] and {"autograder.cli", "autograder.workspace"}
               <= set(cycle) for cycle in cycles(graph)), cycles(graph)
    assert "autograder.workspace (notebook) -> autograder.cli (cli)" in \
        upward_imports(graph)


def function_lengths(path: Path) -> dict[str, int]:
    lengths = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lengths[node.name] = max(lengths.get(node.name, 0),
                                     node.end_lineno - node.lineno + 1)
    return lengths


def test_functions_and_modules_are_short():
    too_long = []
    for path in python_files("autograder", "course"):
        rel = path.relative_to(REPO).as_posix()
        module_limit, function_limits = TOO_LONG_FOR_NOW.get(rel, (MAX_MODULE_LINES, {}))
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > max(module_limit, MAX_MODULE_LINES):
            too_long.append(f"{rel}: {lines} lines (limit {module_limit})")
        for name, length in function_lengths(path).items():
            limit = max(function_limits.get(name, 0), MAX_FUNCTION_LINES)
            if length > limit:
                too_long.append(f"{rel}: {name}() is {length} lines (limit {limit})")
    assert not too_long, "split these:\n" + "\n".join(too_long)


def test_the_readme_layout_table_lists_every_folder_of_the_tree():
    import re
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.splitlines()
    folders = {path.split("/")[0] for path in tracked if "/" in path}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = {re.sub(r"/.*", "", cell) for cell in
              re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)}
    assert listed == folders, (sorted(folders - listed), sorted(listed - folders))
