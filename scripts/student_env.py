#!/usr/bin/env python3
"""The student's environment, built and tried the way a student uses it.

    python scripts/student_env.py --python /usr/bin/python3 [--venv DIR]

1. creates a virtual environment with that Python and installs requirements-student.txt
   into it with pip (with the machine's pip configuration): ``pip download`` fetches the
   wheels missing from a wheel cache that outlives the run (``$COURSE_WHEELHOUSE``,
   default ~/.cache/gd-keras-course/wheels: pip's own cache stayed empty on these
   machines), then ``pip install --no-index`` installs from it; when the cache already
   holds every wheel, the install goes straight to it;
2. imports in it every top-level module that the notebooks' code imports (found with
   ``ast`` in solutions/ and exercises/): a module missing from the student set fails
   here, by name;
3. runs every solution notebook top to bottom in a kernel of that environment;
4. runs every untouched exercise notebook: each graded test cell must stop with
   NotImplementedError; and checks that each exercise's visible test cell is the
   solution's test cell without its hidden block, so step 3 ran it against the answer.

Steps 2 to 4 run inside the environment (this file is run again with its Python and
``--inside``), so only the student set is importable there. Prints one line per step
with its time; exits 1 with a one-line reason on the first failure.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-student.txt"
HIDDEN_BLOCK = re.compile(r"\n?[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*", re.S)
WHEELHOUSE = Path(os.environ.get("COURSE_WHEELHOUSE",
                               Path.home() / ".cache" / "gd-keras-course" / "wheels"))
#: The last cell of every notebook, "Check my notebook" (course.check.CHECK_CELL_ID): it
#: imports the course package, which a student may lack, and says so instead of failing.
CHECK_CELL_ID = "check_my_notebook"
CELL_TIMEOUT = 900  # seconds; a busy 2-core machine makes TensorFlow's import alone 30 s


class StudentEnvError(Exception):
    """A failure of the student environment, said in one line."""


def assignment_notebooks(folder: str, root: Path = ROOT) -> list[Path]:
    """solutions/<name>/<name>.ipynb or exercises/<name>/<name>.ipynb, sorted."""
    return sorted(p for p in (root / folder).glob("*/*.ipynb") if p.stem == p.parent.name)


def code_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code"]


def cell_source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def imported_modules(sources: list[str]) -> set[str]:
    """Top-level names of the modules that code imports (IPython magics skipped)."""
    modules = set()
    for source in sources:
        lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def notebook_imports(root: Path = ROOT) -> list[str]:
    """Every third-party module the assignment notebooks import (stdlib left out)."""
    paths = assignment_notebooks("solutions", root) + assignment_notebooks("exercises", root)
    if not paths:
        raise StudentEnvError(f"no assignment notebooks under {root}/solutions or /exercises")
    sources = [cell_source(c) for p in paths for c in code_cells(p)
               if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != CHECK_CELL_ID]
    return sorted(imported_modules(sources) - set(sys.stdlib_module_names))


# --- outside: the environment --------------------------------------------------------

def python_version(python: str) -> str:
    try:
        out = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise StudentEnvError(f"cannot run Python {python!r}: {error}") from None
    return out.stdout.strip()


def create_env(python: str, venv: Path, lock: Path) -> Path:
    """A new venv at ``venv`` with ``lock`` installed; returns its python."""
    if venv.exists():
        if not (venv / "pyvenv.cfg").exists():
            raise StudentEnvError(
                f"{venv} exists and is not a virtual environment: give a new folder")
        shutil.rmtree(venv)
    run_step(f"venv with {python}", [python, "-m", "venv", str(venv)],
             hint="on Debian: apt-get install python3-venv")
    env_python = venv / "bin" / "python"
    pip = [str(env_python), "-m", "pip", "--disable-pip-version-check"]
    install = pip + ["install", "-q", "--no-index", "--find-links", str(WHEELHOUSE),
                     "-r", str(lock)]
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    # every wheel already cached: no index at all (pip resolves before it installs anything)
    if subprocess.run(install, capture_output=True).returncode == 0:
        print(f"[student-env] pip install -r {lock.name}, all from {WHEELHOUSE}: "
              f"{time.monotonic() - start:.0f} s", flush=True)
        return env_python
    run_step(f"pip download -r {lock.name} (what {WHEELHOUSE} lacks)",
             pip + ["download", "-q", "-d", str(WHEELHOUSE), "-r", str(lock)],
             hint="see pip's message above: is this Python in requires-python?")
    run_step(f"pip install -r {lock.name} from {WHEELHOUSE}", install)
    return env_python


def run_step(what: str, command: list[str], hint: str = "") -> None:
    start = time.monotonic()
    result = subprocess.run(command)
    if result.returncode != 0:
        raise StudentEnvError(
            f"{what} failed (exit {result.returncode}){'; ' + hint if hint else ''}")
    print(f"[student-env] {what}: {time.monotonic() - start:.0f} s", flush=True)


def lock_digest(lock: Path) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()[:12]


def build_and_try(python: str, venv: Path, lock: Path, root: Path) -> None:
    version = python_version(python)
    print(f"[student-env] Python {version} ({python}), {lock.name} {lock_digest(lock)}", flush=True)
    env_python = create_env(python, venv, lock)
    run_step("notebooks in the student environment",
             [str(env_python), str(Path(__file__).resolve()), "--inside", "--root", str(root)])


# --- inside: runs with the environment's Python ---------------------------------------

def check_imports(modules: list[str]) -> None:
    """Import each module here, where only the student set is installed."""
    import importlib

    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as error:
            missing.append(f"{name} ({error})")
    if missing:
        raise StudentEnvError("the notebooks import modules that the student set lacks: "
                              + ", ".join(missing))
    print(f"[student-env] imports: {', '.join(modules)}", flush=True)


def check_kernel_is_this_env() -> None:
    """The 'python3' kernel must be this environment's Python, not another one."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    if argv0 not in ("python", "python3", sys.executable):
        raise StudentEnvError(f"kernel 'python3' runs {argv0}, not {sys.executable}")


def execute(path: Path, workdir: Path, allow_errors: bool):
    """Run a notebook top to bottom in a kernel of this environment; the executed notebook."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                            allow_errors=allow_errors,
                            resources={"metadata": {"path": str(workdir)}})
    start = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as error:
        summary = str(error).strip().splitlines()[-1]
        raise StudentEnvError(
            f"{path.relative_to(path.parents[2])}: a cell failed: {summary}") from None
    print(f"[student-env] {path.parent.parent.name}/{path.name}: "
          f"{time.monotonic() - start:.0f} s", flush=True)
    return nb


def graded_tests(cells: list[dict]) -> dict[str, dict]:
    """The graded test cells of a notebook, by grade_id."""
    tests = {}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("grade") and not meta.get("solution"):
            tests[meta["grade_id"]] = cell
    return tests


def check_visible_tests_in_solution(exercise: Path, solution: Path) -> None:
    """Each visible test cell must be the solution's test cell minus its hidden block."""
    visible = graded_tests(code_cells(exercise))
    full = graded_tests(code_cells(solution))
    if not visible or visible.keys() != full.keys():
        raise StudentEnvError(f"{exercise.name}: graded test cells {sorted(visible)} differ from "
                              f"the solution's {sorted(full)}")
    for grade_id, cell in visible.items():
        if cell_source(cell).strip() != HIDDEN_BLOCK.sub("", cell_source(full[grade_id])).strip():
            raise StudentEnvError(f"{exercise.name}: test cell {grade_id} is not the solution's "
                                  "visible test: run make exercises")


def error_names(cell) -> list[str]:
    return [o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def check_untouched_exercise_fails(executed) -> None:
    """Every graded test cell of an untouched exercise stops with NotImplementedError, or
    with NameError (a name that an earlier answer cell, stopped by NotImplementedError at
    its top level, never defined); any other error is the environment's fault."""
    answer_raised = False
    for cell in executed.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta:
            continue
        if meta.get("solution"):
            answer_raised = answer_raised or error_names(cell) == ["NotImplementedError"]
        elif meta.get("grade"):
            errors = error_names(cell)
            expected = errors == ["NotImplementedError"] or (
                answer_raised and errors == ["NameError"])
            if not expected:
                raise StudentEnvError(f"untouched exercise, test cell {meta['grade_id']}: expected "
                                      f"NotImplementedError, got {errors or 'no error'}")


def inside(root: Path) -> None:
    check_imports(notebook_imports(root))
    check_kernel_is_this_env()
    solutions = assignment_notebooks("solutions", root)
    exercises = {p.stem: p for p in assignment_notebooks("exercises", root)}
    if sorted(exercises) != [p.stem for p in solutions]:
        raise StudentEnvError(f"exercises {sorted(exercises)} differ from the solutions")
    with tempfile.TemporaryDirectory(prefix="student-env-") as work:
        for solution in solutions:
            execute(solution, Path(work), allow_errors=False)
        for solution in solutions:
            exercise = exercises[solution.stem]
            check_visible_tests_in_solution(exercise, solution)
            check_untouched_exercise_fails(execute(exercise, Path(work), allow_errors=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the Python to build it with")
    parser.add_argument("--venv", type=Path, help="where (default: a temporary folder)")
    parser.add_argument("--lock", type=Path, default=LOCK, help="default: %(default)s")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--imports-only", action="store_true",
                        help="with --inside: only import what the notebooks import")
    args = parser.parse_args(argv)
    try:
        if args.inside and args.imports_only:
            check_imports(notebook_imports(args.root))
        elif args.inside:
            inside(args.root)
        elif args.venv:
            build_and_try(args.python, args.venv, args.lock, args.root)
        else:
            with tempfile.TemporaryDirectory(prefix="student-venv-") as tmp:
                build_and_try(args.python, Path(tmp) / "venv", args.lock, args.root)
    except StudentEnvError as error:
        print(f"[student-env] FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
