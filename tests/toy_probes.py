"""Probes of the tests' toy assignments (plain Python, no TensorFlow), shipped into a
kernel as the course's are (``autograder/checks/probe.py``): kernel-side functions that
reach the student's names through the notebook's namespace."""

from autograder.checks.in_kernel.names import student


def probe_squares(namespace, inputs):
    """``square`` on each input; an error as ``{"error": "<type>: <message>"}``, as the
    course's probes report one."""
    try:
        return {"values": [student(namespace, "square")(x) for x in inputs]}
    except Exception as error:  # noqa: BLE001 - the student's error, as data for the judge
        return {"error": (type(error).__name__ + ": " + str(error))[:500]}


def probe_cubes(namespace, inputs):
    """``cube`` on each input; an error propagates (the probe cell fails)."""
    return [student(namespace, "cube")(x) for x in inputs]


def probe_name(namespace, name):
    """Whatever the notebook holds under ``name``."""
    return namespace[name]
