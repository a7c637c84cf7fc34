"""What the grader says about a submission, and what student text may appear with it.

Two rules, both about text a student controls:

* **No hidden input leaves through the student's words.** Once the student's code has run
  on the hidden inputs (in a probe), anything it writes (an exception's message, a
  print, the repr of its objects, even the name of an exception class it made up) may
  carry those inputs. Messages about hidden checks therefore name only the exception's
  type, and only when it is one of Python's or TensorFlow's own; the probe's value is
  cleaned of such text before a judge can quote it (``redact_probe_value``).
* **The grader's verdict cannot be forged.** Its authoritative copy lives in the test
  cell's metadata (``metadata["autograder"]["hidden_checks"]``), which no student
  output can reach; the line the grader adds to the cell's outputs for the formgrader
  starts with ``VERDICT_MARKER``, and every line of student output that could pass for
  it is marked as the notebook's own (``defuse_outputs``).
"""

from __future__ import annotations

import builtins
import re
import unicodedata

#: The start of the grader's verdict line in an autograded notebook.
VERDICT_MARKER = "[hidden checks]"
#: What a student's line that looks like the grader's verdict is prefixed with.
FORGED_PREFIX = "(printed by the notebook, not the grader) "
#: Stands for an exception whose class the student's code defined.
OWN_CLASS = "an exception of a class the notebook defines"

_TENSORFLOW_ERRORS = frozenset({
    "OpError", "CancelledError", "UnknownError", "InvalidArgumentError",
    "DeadlineExceededError", "NotFoundError", "AlreadyExistsError",
    "PermissionDeniedError", "UnauthenticatedError", "ResourceExhaustedError",
    "FailedPreconditionError", "AbortedError", "OutOfRangeError", "UnimplementedError",
    "InternalError", "UnavailableError", "DataLossError",
})
KNOWN_ERRORS = frozenset(
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)) | _TENSORFLOW_ERRORS

# "hidden checks" in brackets, whatever the case, spacing or punctuation around it
_LOOKALIKE = re.compile(r"\[\W*hidden\W*checks?\W*\]", re.IGNORECASE)


def safe_error_name(name) -> str:
    """An exception's type name fit for feedback: Python's and TensorFlow's own
    exceptions by name, any other (the student's own class) by a fixed phrase."""
    name = str(name or "").strip()
    return name if name in KNOWN_ERRORS else OWN_CLASS


def _redact_string(text: str, key) -> str:
    if key == "error":  # the probes' convention: "<type>: <message>"
        head, sep, _ = text.partition(": ")
        if sep or head.isidentifier():
            return safe_error_name(head)
        return text  # the probe's own words ("no dict named history_sgd")
    if text.startswith("not numbers: "):  # the probes' repr of a value that is not numbers
        return "not numbers"
    return text


def redact_probe_value(value):
    """The probe's JSON value with the student's words taken out of it: errors keep
    their exception's type only, reprs become "not numbers". Iterative: a value nested
    100,000 deep is cleaned without recursion."""
    root = [value]
    stack = [(root, 0, None)]
    while stack:
        container, index, key = stack.pop()
        item = container[index]
        if isinstance(item, str):
            container[index] = _redact_string(item, key)
        elif isinstance(item, dict):
            for k in item:
                stack.append((item, k, k))
        elif isinstance(item, list):
            for i in range(len(item)):
                stack.append((item, i, key))
    return root[0]


def defuse_text(text: str) -> str:
    """Mark every line of student output that could pass for the grader's verdict."""
    if not isinstance(text, str):
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        plain = "".join(ch for ch in unicodedata.normalize("NFKC", line)
                        if unicodedata.category(ch) != "Cf")  # zero-width characters
        if _LOOKALIKE.search(plain):
            lines[i] = FORGED_PREFIX + line
    return "\n".join(lines)


def defuse_outputs(outputs: list[dict]) -> list[dict]:
    """Student outputs as they may appear in the autograded notebook: no line that
    reads as the grader's verdict, no metadata claiming to be the grader's."""
    for out in outputs:
        if "text" in out:
            out["text"] = defuse_text(out["text"])
        for field in ("evalue", "ename"):
            if field in out:
                out[field] = defuse_text(out[field])
        if isinstance(out.get("traceback"), list):
            out["traceback"] = [defuse_text(line) for line in out["traceback"]]
        data = out.get("data")
        if isinstance(data, dict):
            for mime, value in data.items():
                data[mime] = ([defuse_text(v) for v in value] if isinstance(value, list)
                              else defuse_text(value))
        if isinstance(out.get("metadata"), dict):
            out["metadata"].pop("autograder", None)
    return outputs


def verdict_line(messages: list[str]) -> str:
    """The grader's line under a test cell: passed, or what failed."""
    said = "; ".join(defuse_text(m).replace("\n", " ") for m in messages)
    return f"{VERDICT_MARKER} {said or 'passed'}\n"


def record_verdict(cell, passed: bool, messages: list[str], review: str | None = None
                   ) -> None:
    """The authoritative verdict, in the test cell's metadata (out of any output's
    reach), and the grader's line in its outputs."""
    import nbformat

    cell.metadata.setdefault("autograder", {})["hidden_checks"] = {
        "passed": bool(passed), "messages": list(messages), "review": review}
    said = list(messages) + ([f"not judged ({review}): left for the instructor's review"]
                             if review else [])
    cell.outputs.append(nbformat.v4.new_output("stream", name="stdout",
                                               text=verdict_line(said)))
