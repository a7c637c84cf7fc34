"""Probes: the hidden checks' code that runs where the student's code ran, and the one
way a probe's value becomes JSON, in a student's kernel and in this process alike.

A probe is Python source (statements, then one expression) from ``autograder/checks``.
The grader wraps it with ``probe_program`` and runs it in the student's kernel;
``references`` and the tests run it in this process with ``run_probe``. Both serialise
the value with the same ``_plain`` (its source is ``PLAIN_SOURCE``), so a reference
computed here and a student's value read from a kernel can be compared as they are.
"""

from __future__ import annotations

import ast
import json
import re

from autograder.verdicts import UNREADABLE

# Arrays and tensors become lists; any other object is unreadable, never its repr:
# on hidden inputs, text the student's code made could carry them.
PLAIN_SOURCE = (
    "def _plain(o):\n"
    f"    return o.tolist() if hasattr(o, 'tolist') else {UNREADABLE!r}\n")
_compiled: dict = {}
exec(compile(PLAIN_SOURCE, "<autograder.probes>", "exec"), _compiled)  # noqa: S102
_plain = _compiled["_plain"]


def to_json(value) -> str:
    """A probe's value as JSON text, as a kernel sends it."""
    return json.dumps(value, allow_nan=True, default=_plain)


def split_probe(probe: str) -> tuple[str, str]:
    """(statements, last expression) of a probe's source."""
    tree = ast.parse(probe)
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise ValueError("a probe must end with an expression")
    lines = probe.splitlines()
    last = tree.body[-1].lineno - 1
    return "\n".join(lines[:last]), "\n".join(lines[last:])


def run_probe(probe: str, namespace: dict):
    """Run a probe in ``namespace`` as a kernel would: its value, round-tripped as JSON."""
    head, tail = split_probe(probe)
    exec(compile(head, "<probe>", "exec"), namespace)  # noqa: S102
    return json.loads(to_json(eval(compile(tail, "<probe>", "eval"), namespace)))  # noqa: S307


def probe_program(probe: str, nonce: str) -> str:
    """Wrap a probe into code that writes the expression's value as JSON between two
    markers on stdout, leaving no names behind in the student's namespace."""
    tree = ast.parse(probe)
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise ValueError("a probe must end with an expression")
    body = tree.body[:-1] + [ast.Return(value=tree.body[-1].value)]
    func = ast.FunctionDef(name="__autograder_probe", args=ast.arguments(
        posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=body, decorator_list=[], returns=None)
    module = ast.Module(body=[func], type_ignores=[])
    ast.fix_missing_locations(module)
    plain = "".join(f"    {line}\n" for line in PLAIN_SOURCE.splitlines())
    return "\n".join([
        ast.unparse(module),
        "def __autograder_emit():",
        "    import json as _json, sys as _sys",
        plain.rstrip("\n"),
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
    try:
        return json.loads(match.group(1))
    except RecursionError:  # the student's object, nested too deep for the decoder
        raise ValueError("its value is nested too deeply") from None
