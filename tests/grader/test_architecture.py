"""The grader's layout: every module has its place in the one map of the layers
(``autograder/layers.py``), imports point one way, down the layers, with no cycle; no
function longer than 60 lines or with more than 6 parameters, and no module longer than
400 lines, in autograder/ or course/.

``course`` (the public package) never imports ``autograder`` (the instructor's).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from autograder.layers import LAYERS, ORDER, layer_of

REPO = Path(__file__).resolve().parents[2]
MAX_FUNCTION_LINES = 60
MAX_PARAMETERS = 6  # self included: more are a dataclass's fields
MAX_MODULE_LINES = 400


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


def unmapped(graph: dict[str, set]) -> list[str]:
    """Modules of the grader the map does not list."""
    return sorted(m for m in graph if m.startswith("autograder") and not layer_of(m))


def copy_of_the_code(root: Path) -> None:
    for package in ("autograder", "course"):
        for path in python_files(package):
            copy = root / path.relative_to(REPO)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")


# ----------------------------------------------------------------------------- the tests
def test_every_grader_module_has_a_place_in_the_map():
    missing = unmapped(import_graph())
    assert not missing, f"give these modules a line in autograder/layers.py: {missing}"


def test_the_map_lists_only_modules_that_exist():
    listed = {module for _, modules in LAYERS.values() for module in modules}
    gone = sorted(listed - set(import_graph()))
    assert not gone, f"autograder/layers.py lists modules that do not exist: {gone}"


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_imports_point_down_the_layers():
    assert upward_imports(import_graph()) == []


def test_the_checker_finds_an_injected_cycle_and_an_upward_import(tmp_path):
    """The two checks above can fail: a copy of the grader with one import added."""
    copy_of_the_code(tmp_path)
    with open(tmp_path / "autograder" / "workspace.py", "a", encoding="utf-8") as fh:
        fh.write("\n\ndef _injected():\n    from autograder.commands import cli\n")
    graph = import_graph(root=tmp_path)
    assert any(cycle[0] == cycle[-1] and {"autograder.commands.cli", "autograder.workspace"}
               <= set(cycle) for cycle in cycles(graph)), cycles(graph)
    assert "autograder.workspace (base) -> autograder.commands.cli (entry)" in \
        upward_imports(graph)


def test_a_module_added_without_a_place_in_the_map_is_found(tmp_path):
    copy_of_the_code(tmp_path)
    (tmp_path / "autograder" / "grading" / "new_part.py").write_text("X = 1\n")
    assert "autograder.grading.new_part" in unmapped(import_graph(root=tmp_path))


def function_lengths(path: Path) -> dict[str, int]:
    lengths = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lengths[node.name] = max(lengths.get(node.name, 0),
                                     node.end_lineno - node.lineno + 1)
    return lengths


def parameter_counts(path: Path) -> dict[str, int]:
    counts = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            count = (len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
                     + bool(args.vararg) + bool(args.kwarg))
            name = getattr(node, "name", f"lambda at line {node.lineno}")
            counts[name] = max(counts.get(name, 0), count)
    return counts


def test_no_function_takes_more_than_six_parameters():
    many = [f"{path.relative_to(REPO).as_posix()}: {name}() takes {count}"
            for path in python_files("autograder", "course")
            for name, count in parameter_counts(path).items() if count > MAX_PARAMETERS]
    assert not many, "group them in a dataclass:\n" + "\n".join(many)


def test_the_parameter_count_sees_every_kind_of_parameter(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f(a, /, b, *c, d, **e):\n    pass\ng = lambda self, x: x\n")
    assert parameter_counts(path) == {"f": 5, "lambda at line 3": 2}


def test_functions_and_modules_are_short():
    too_long = []
    for path in python_files("autograder", "course"):
        rel = path.relative_to(REPO).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{rel}: {lines} lines (limit {MAX_MODULE_LINES})")
        for name, length in function_lengths(path).items():
            if length > MAX_FUNCTION_LINES:
                too_long.append(f"{rel}: {name}() is {length} lines "
                                f"(limit {MAX_FUNCTION_LINES})")
    assert not too_long, "split these:\n" + "\n".join(too_long)


def test_the_course_package_lists_every_module_it_has():
    import course

    modules = {module_name(path) for path in python_files("course")} - {"course"}
    named = set(re.findall(r"^- (course(?:\.\w+)+)", course.__doc__, flags=re.M))
    assert named == modules, (sorted(modules - named), sorted(named - modules))


def test_the_readme_layout_table_lists_every_folder_of_the_tree():
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.splitlines()
    folders = {path.split("/")[0] for path in tracked if "/" in path}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = {re.sub(r"/.*", "", cell) for cell in
              re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)}
    assert listed == folders, (sorted(folders - listed), sorted(listed - folders))
