"""Grade one submission: the contract's ``grade_submission`` (section 3).

The student's answers run in a kernel (sandboxed where possible); each test cell's
visible part runs there too, and its hidden block is replaced by the part's *probe*
(``autograder/checks/<assignment>.py``), whose value crosses back as JSON text. The
judge compares that value with the reference in THIS process: reference values never
enter the student's kernel, and nothing the student's code does there can change them.

The result is plain JSON data; ``grade_submission`` never raises.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import re
import secrets
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from autograder import intake
from autograder.assemble import assemble
from autograder.cells import graded_parts, is_test, nbgrader_meta, strip_hidden_tests
from autograder import sandbox as kernels

#: Bump when a change here can change a grade: every submission is then graded again.
GRADER_VERSION = "1"
REPO = Path(__file__).resolve().parent.parent
# Files of the instructor's assignment folder never copied into a student's kernel.
PRIVATE_SUFFIXES = (".ipynb",)


def load_notebook(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


@dataclass
class Assignment:
    """Everything that decides a grade for one assignment."""

    name: str
    template_path: Path  # the instructor's notebook
    template: nbformat.NotebookNode
    support_dir: Path  # its folder: data files are copied next to each submission
    checks: dict
    references: dict
    fingerprint: str  # sha256 over all of the above and the grader's version

    @property
    def notebook(self) -> str:
        return self.template_path.stem


def load_assignment(name: str, source: str | None = None, checks: str | None = None,
                    references: str | None = None) -> Assignment:
    """The instructor's notebook ``<source>/<name>/<name>.ipynb`` (default source: the
    repository's ``solutions/``), the checks module (default
    ``autograder.checks.<name>``) and the references (default
    ``autograder/references/<name>.json``)."""
    template_path = Path(source or REPO / "solutions") / name / f"{name}.ipynb"
    if not template_path.exists():
        raise FileNotFoundError(f"no instructor notebook {template_path}")
    module = importlib.import_module(checks or f"autograder.checks.{name}")
    references_path = Path(references or REPO / "autograder" / "references" / f"{name}.json")
    digest = hashlib.sha256(f"grader {GRADER_VERSION}\n".encode())
    support_dir = template_path.parent
    for path in sorted(support_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(support_dir)).encode() + path.read_bytes())
    # the assignment's checks and the shared helpers next to them (not the checks of
    # other assignments: editing those must not regrade this one)
    module_path = Path(module.__file__)
    others = {f"{a}.py" for a in _known_assignments()} - {module_path.name}
    for path in sorted(module_path.parent.glob("*.py")):
        if path.name not in others:
            digest.update(path.name.encode() + path.read_bytes())
    references_bytes = references_path.read_bytes()
    digest.update(references_bytes)
    return Assignment(
        name=name, template_path=template_path, template=load_notebook(template_path),
        support_dir=support_dir, checks=dict(module.CHECKS),
        references=json.loads(references_bytes), fingerprint=digest.hexdigest())


def _known_assignments() -> tuple[str, ...]:
    try:
        from autograder.checks import ASSIGNMENTS
    except ImportError:
        return ()
    return tuple(ASSIGNMENTS)


def missing_checks(assignment: Assignment) -> list[str]:
    """Autograded parts of the notebook with no check or no reference."""
    return [p["grade_id"] for p in graded_parts(assignment.template) if p["auto"]
            and (p["grade_id"] not in assignment.checks
                 or p["grade_id"] not in assignment.references)]


# ----------------------------------------------------------------------------- probes
def probe_program(probe: str, nonce: str) -> str:
    """Wrap a probe (statements, then one expression) into code that writes the
    expression's value as JSON between two markers on stdout, leaving no names behind
    in the student's namespace."""
    tree = ast.parse(probe)
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise ValueError("a probe must end with an expression")
    body = tree.body[:-1] + [ast.Return(value=tree.body[-1].value)]
    func = ast.FunctionDef(name="__autograder_probe", args=ast.arguments(
        posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=body, decorator_list=[], returns=None)
    module = ast.Module(body=[func], type_ignores=[])
    ast.fix_missing_locations(module)
    return "\n".join([
        ast.unparse(module),
        "def __autograder_emit():",
        "    import json as _json, sys as _sys",
        "    def _plain(o):",
        "        return o.tolist() if hasattr(o, 'tolist') else repr(o)",
        "    _text = _json.dumps(__autograder_probe(), allow_nan=True, default=_plain)",
        f"    _sys.stdout.write('<<{nonce}>>' + _text + '<</{nonce}>>\\n')",
        "    _sys.stdout.flush()",
        "try:",
        "    __autograder_emit()",
        "finally:",
        "    del __autograder_probe, __autograder_emit",
    ])


def probe_value(outputs, nonce: str):
    """The JSON value between the markers in a probe cell's stdout, or raise ValueError."""
    text = "".join(o.get("text", "") for o in outputs
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    match = re.search(f"<<{nonce}>>(.*)<</{nonce}>>", text, re.S)
    if match is None:
        raise ValueError("the check produced no value")
    return json.loads(match.group(1))


def _plain_messages(messages) -> list[str]:
    if not isinstance(messages, (list, tuple)):
        raise TypeError(f"judge returned {type(messages).__name__}, not a list")
    return [str(m) for m in messages]


def _error_line(error: str | None, limit: int = 300) -> str:
    lines = (error or "").strip().splitlines()
    return lines[0].rstrip(": ")[:limit] if lines else ""


# ----------------------------------------------------------------------------- grading
def _result(parts, status="graded", reason=None, notes=None):
    score = sum(p["points"] or 0.0 for p in parts.values())
    return {
        "status": status,
        "reason": reason,
        "score": score,
        "max_score": sum(p["max_points"] for p in parts.values()),
        "parts": parts,
        "notes": list(notes or []),
    }


def _copy_support_files(support_dir: Path | None, workdir: Path) -> None:
    """The instructor's data files of the assignment (never notebooks), as nbgrader
    autograde copies its source folder; the student's own extra files are not copied."""
    if support_dir is None or not support_dir.is_dir():
        return
    for path in support_dir.rglob("*"):
        rel = path.relative_to(support_dir)
        if (path.is_dir() or path.suffix in PRIVATE_SUFFIXES
                or any(p.startswith(".") or p == "__pycache__" for p in rel.parts)):
            continue
        dest = workdir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)


def grade_submission(submission_path, assignment, instructor_nb, checks, references,
                     limits=None, sandbox=None, *, support_dir=None,
                     graded_notebook=None) -> dict:
    """Grade one notebook; returns the JSON-serialisable result, never raises.

    ``instructor_nb`` is the instructor's notebook (a path or a NotebookNode);
    ``checks`` maps grade_id -> Check(probe, judge); ``references`` grade_id -> JSON.
    ``sandbox`` is passed to ``sandbox.start_kernel`` (None: sandbox if available).
    ``graded_notebook``: where to write the notebook as it ran (nbgrader's
    ``autograded/`` copy, which the formgrader shows for manual grading): the
    instructor's cells, the student's answers, the outputs, test cells reduced to their
    visible part plus the hidden checks' verdict. Removed when nothing could run.
    """
    started = time.monotonic()
    limits = limits or kernels.Limits()
    parts: dict[str, dict] = {}
    notes: list[str] = []
    try:
        if not isinstance(instructor_nb, nbformat.NotebookNode):
            support_dir = support_dir or Path(instructor_nb).parent
            instructor_nb = load_notebook(instructor_nb)
        for part in graded_parts(instructor_nb):
            parts[part["grade_id"]] = {
                "title": part["title"],
                "points": 0.0 if part["auto"] else None,
                "max_points": part["max_points"],
                "passed": False if part["auto"] else None,
                "auto": part["auto"],
                "messages": [] if part["auto"] else ["graded by hand"],
                "notes": [],
            }
        result, ran = _grade(Path(submission_path), assignment, instructor_nb, checks,
                             references, limits, sandbox, support_dir, parts, notes)
        if graded_notebook is not None:
            _write_graded(Path(graded_notebook), ran)
    except Exception as err:  # noqa: BLE001 - the contract: never raise
        for part in parts.values():
            if part["auto"]:
                part.update(points=0.0, passed=False)
        result = _result(parts, "failed", "internal grader error: "
                         f"{type(err).__name__}: {err}", notes)
        result["traceback"] = traceback.format_exc()
    result["assignment"] = assignment
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def _write_graded(path: Path, nb) -> None:
    if nb is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, str(tmp))
    tmp.replace(path)


def _grade(path, assignment, instructor_nb, checks, references, limits, sandbox,
           support_dir, parts, notes):
    """(result, the notebook as it ran or None)."""
    if not path.exists():
        return _result(parts, "failed", f"missing notebook: no {path.name}", notes), None
    try:
        student_nb = intake.read_submission(path)
    except intake.Rejected as err:
        return _result(parts, "failed", err.reason, notes), None
    runnable, assemble_notes = assemble(instructor_nb, student_nb)
    notes.extend(assemble_notes)

    failure: str | None = None  # first limit breach: the submission's failure reason
    with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        _copy_support_files(Path(support_dir) if support_dir else None, workdir)
        try:
            kernel = kernels.start_kernel(workdir, limits, sandbox)
            client = kernel.__enter__()
        except Exception as err:  # noqa: BLE001
            return (_result(parts, "failed", f"the kernel did not start: {err}", notes),
                    None)
        try:
            deadline = time.monotonic() + limits.notebook_timeout
            failure = _run_cells(client, runnable, checks, references, limits, deadline,
                                 parts, notes)
        finally:
            try:
                kernel.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - shutting down a dead kernel may fail
                pass
    status = "failed" if failure else "graded"
    return _result(parts, status, failure, notes), runnable


def _run_cells(client, runnable, checks, references, limits, deadline, parts, notes):
    """Run the notebook; returns the first limit breach (None if there was none)."""
    failure = None

    class Stop(Exception):
        """The kernel is gone or out of time: later cells cannot run."""

    def run(source: str, label: str):
        nonlocal failure
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            failure = failure or (f"notebook time limit ({limits.notebook_timeout:g} s) "
                                  f"reached before {label}")
            raise Stop
        cell_limits = replace(limits, cell_timeout=min(limits.cell_timeout, remaining))
        res = kernels.run_cell(client, source, cell_limits)
        if res.timed_out and failure is None:
            if cell_limits.cell_timeout < limits.cell_timeout:
                failure = (f"notebook time limit ({limits.notebook_timeout:g} s) "
                           f"reached in {label}")
            else:
                failure = f"cell time limit ({limits.cell_timeout:g} s) reached in {label}"
        if res.truncated and failure is None:
            failure = (f"output limit ({limits.max_output_bytes} bytes) exceeded "
                       f"in {label}")
        if getattr(res, "limit", None) in ("memory", "processes", "file size") \
                and failure is None:  # sandbox.CellResult.limit names the breach
            failure = f"{_error_line(res.error)} in {label}"
        if getattr(res, "kernel_dead", False):
            failure = failure or f"the kernel stopped in {label}: {_error_line(res.error)}"
            raise Stop
        return res

    cells = [c for c in runnable.cells if c.cell_type == "code"]
    for cell in cells:  # nothing of the hidden tests in the graded copy, run or not
        cell.outputs = []
        if is_test(cell):
            cell.source = strip_hidden_tests(cell.source)
    for index, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        label = f"cell '{gid}'" if gid else f"code cell {index + 1}"
        try:
            if not is_test(cell):
                res = run(cell.source, label)
                cell.outputs = [nbformat.from_dict(o) for o in res.outputs]
                if res.error and not res.timed_out:
                    notes.append(f"{label} raised {_error_line(res.error)}")
                continue
            part = parts[gid]
            res = run(cell.source, f"the visible checks of '{gid}'")
            cell.outputs = [nbformat.from_dict(o) for o in res.outputs]
            if res.timed_out:
                part["messages"].append(_error_line(res.error))
                continue
            visible_ok = res.error is None
            if not visible_ok:
                part["messages"].append(f"visible check failed: {_error_line(res.error)}")
            verdict = _probe_and_judge(gid, checks, references, run)
            part["messages"].extend(verdict)
            if visible_ok and not verdict:
                part.update(points=part["max_points"], passed=True)
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stdout", text="[hidden checks] " + (
                    "; ".join(verdict) if verdict else "passed") + "\n"))
        except Stop:
            _not_run(parts, cells[index:], f"not run: {failure}")
            return failure
    return failure


def _not_run(parts, cells, message):
    for cell in cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if is_test(cell) and gid in parts and not parts[gid]["messages"]:
            parts[gid]["messages"].append(message)


def _probe_and_judge(gid, checks, references, run) -> list[str]:
    """Run the part's probe in the kernel, judge its value here. Messages never quote
    the probe's source: it is the hidden test."""
    check = checks.get(gid)
    if check is None or gid not in references:
        return ["internal: no hidden check is registered for this part"]
    nonce = secrets.token_hex(8)
    res = run(probe_program(check.probe, nonce), f"the hidden checks of '{gid}'")
    if res.timed_out:
        return [f"the hidden checks {_error_line(res.error)}"]
    if res.error:
        return [f"the hidden checks raised {_error_line(res.error, 200)}"]
    try:
        got = probe_value(res.outputs, nonce)
    except ValueError as err:
        return [f"the hidden checks could not read your answer ({err})"]
    try:
        return _plain_messages(check.judge(got, references[gid]))
    except Exception as err:  # noqa: BLE001 - a judge must not crash; if it does, 0
        return [f"internal: the judge failed ({type(err).__name__}); "
                "tell your instructor"]
