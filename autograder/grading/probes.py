"""A probe's run in the student's kernel: the cell the grader runs (``probe_program``)
and the value read back from its output (``probe_value``).

The cell defines one function that holds the probe's code (``Probe.source``) and emits
the probe's value as JSON text between two markers carrying a nonce; the function is
deleted afterwards, so the student's namespace keeps no name of the grader's.
"""

from __future__ import annotations

import json
import re
import textwrap

from autograder.checks.in_kernel.emit import emit
from autograder.checks.probe import Probe

FUNCTION = "__autograder_probe"


def probe_program(probe: Probe, nonce: str) -> str:
    """The probe cell: the probe's value written as JSON between two markers on
    stdout, no name left behind in the student's namespace."""
    body = "\n".join([probe.source(emit), probe.inputs_line(),
                      f"{emit.__name__}({probe.call()}, '<<{nonce}>>', '<</{nonce}>>')"])
    return "\n".join([f"def {FUNCTION}():", textwrap.indent(body, "    "),
                      "", "", "try:", f"    {FUNCTION}()", "finally:", f"    del {FUNCTION}"])


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
