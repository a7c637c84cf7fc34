"""How a probe's value leaves the kernel: JSON text between two markers on stdout, read
back by ``autograder.grading.probes.probe_value``."""

import json
import sys

#: What an object that is not plain data becomes (never its repr: on hidden inputs,
#: text the student's code made could carry them).
UNREADABLE = "<a value the check cannot read>"


def readable(value):
    """JSON's fallback for what it cannot write: arrays and tensors become lists."""
    return value.tolist() if hasattr(value, "tolist") else UNREADABLE


def as_json_text(value):
    """A probe's value as JSON text, in the kernel and in the grader alike."""
    return json.dumps(value, allow_nan=True, default=readable)


def emit(value, begin, end):
    """Write the value on stdout between this run's two markers."""
    sys.stdout.write(begin + as_json_text(value) + end + "\n")
    sys.stdout.flush()
