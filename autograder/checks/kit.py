"""Judge helpers shared by every check: plain Python, no imports beyond ``math``.

A judge reads the JSON a probe printed in the student's kernel, so everything here
treats its input as untrusted (wrong types, NaN, missing keys give a message, never an
exception). ``python -m autograder.references`` copies this module's source, with the
check's judge, into the hidden block of each graded test cell, so that plain nbgrader
reaches the same verdict inside the kernel; keep it self-contained.
"""

import math

RTOL = 1e-6  # relative to the largest expected change; float64 arithmetic is ~1e-15


def numbers(x, size=None):
    """``x`` as a list of floats (non-finite ones as None), or None if it is not one."""
    if isinstance(x, (bool, str)) or not isinstance(x, list):
        return None
    if size is not None and len(x) != size:
        return None
    out = []
    for value in x:
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, (int, float))):
            return None
        out.append(None if value is None else number(value))
    return out


def number(x):
    """``x`` as a finite float, or None (an int too large for a float is None too)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    try:
        value = float(x)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def same_curve(got, want, rtol):
    """True if two lists from ``numbers`` hold the same values (a nan/inf, None, only
    where the other has one): a plotted line against the history it should show."""
    return len(got) == len(want) and all(
        a is b is None or (a is not None and b is not None
                           and abs(a - b) <= rtol * max(1.0, abs(b)))
        for a, b in zip(got, want))


def short(values, limit=4):
    """A few numbers for a message: [0.0123, -0.456, ...]."""
    shown = ["nan/inf" if v is None else f"{v:.6g}" for v in values[:limit]]
    return "[" + ", ".join(shown) + (", ...]" if len(values) > limit else "]")


def first_mismatch(got, expected, start=None, rtol=RTOL):
    """Index of the first element of ``got`` off from ``expected``, or None.

    With ``start``, compares the changes ``x - start`` (parameters move by small steps
    from values of order one, so their change is what the rule decides). The tolerance
    is ``rtol`` times the largest expected change, plus 1e-12.
    """
    if start is not None:
        got = [None if g is None else g - s for g, s in zip(got, start)]
        expected = [e - s for e, s in zip(expected, start)]
    scale = max([abs(e) for e in expected] + [0.0])
    tol = rtol * scale + 1e-12
    for i, (g, e) in enumerate(zip(got, expected)):
        if g is None or abs(g - e) > tol:
            return i
    return None


def compare_arrays(label, got, expected, start=None, rtol=RTOL):
    """A message if the list ``got`` differs from ``expected``, else None."""
    values = numbers(got, len(expected))
    if values is None:
        return f"{label} should be {len(expected)} numbers; the check got {short_repr(got)}."
    if any(v is None for v in values):
        return f"{label} became nan or inf: {short(values)}."
    i = first_mismatch(values, expected, start, rtol)
    if i is None:
        return None
    # Say how far off, not the expected numbers: references stay with the grader.
    if start is not None:
        want, have = expected[i] - start[i], values[i] - start[i]
        what = "its change from the start"
    else:
        want, have, what = expected[i], values[i], "its value"
    size = abs(want) if want else max(abs(e) for e in expected) or 1.0
    return f"{label} is off ({what} at element {i} differs by {abs(have - want) / size:.1%})."


def short_repr(x, limit=80):
    try:
        text = repr(x)
    except (RecursionError, ValueError):  # nested too deep; an int too long to print
        text = f"<an unreadable {type(x).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def error_message(got):
    """The error a probe reported, as a message, or None."""
    if not isinstance(got, dict):
        return f"the check could not read your results (it got {short_repr(got)})."
    error = got.get("error")
    if error:
        return f"your code raised an error on the hidden inputs: {short_repr(error, 300)}"
    return None


def judge_rule(got, ref, hints):
    """Messages for an update rule's probe output against the reference trajectories.

    ``ref[scenario]`` holds the recorded ``steps``, the ``start`` parameters and, per
    recorded step, the expected ``params`` (flat lists) and ``states`` (per state name:
    one flat list per parameter, or a number such as the step counter ``t``).
    ``ref[scenario]["mistakes"]`` lists classic mistakes with the final parameters they
    give, so that a matching answer hears which mistake it made. ``hints`` maps a
    state name or "params" to what that quantity should be.
    """
    problem = error_message(got)
    if problem:
        return [problem[0].upper() + problem[1:]]
    messages = []
    for scenario, expected in ref.items():
        if not isinstance(expected, dict) or "records" not in expected:
            continue
        result = got.get(scenario)
        problem = error_message(result)
        if problem:
            messages.append(f"{expected['label']}: {problem}")
            continue
        records = result.get("records")
        if not isinstance(records, list) or len(records) != len(expected["records"]):
            messages.append(
                f"{expected['label']}: expected {len(expected['records'])} recorded "
                f"steps, the check got {short_repr(records)}."
            )
            continue
        message = _first_wrong_record(records, expected, hints)
        if message:
            messages.append(f"{expected['label']}: {message}")
            mistake = _known_mistake(records[-1], expected)
            if mistake:
                messages.append(f"Your numbers match a classic mistake: {mistake}")
    return sorted(set(messages), key=messages.index)


def _first_wrong_record(records, expected, hints):
    start = expected["start"]
    for step, got, want in zip(expected["steps"], records, expected["records"]):
        if not isinstance(got, dict):
            return f"after step {step} the check got {short_repr(got)}."
        got_states = got.get("states")
        if not isinstance(got_states, dict):
            got_states = {}
        for name, want_state in want["states"].items():
            message = _compare_state(name, got_states.get(name), want_state)
            if message:
                return f"after step {step}, {message} {hints.get(name, '')}".strip()
        got_params = got.get("params")
        if not isinstance(got_params, list) or len(got_params) != len(want["params"]):
            return f"after step {step} the parameters are {short_repr(got_params)}."
        for i, (g, w, s) in enumerate(zip(got_params, want["params"], start)):
            message = compare_arrays(f"parameter {i}", g, w, start=s)
            if message:
                return f"after step {step}, {message} {hints.get('params', '')}".strip()
    return None


def _compare_state(name, got, want):
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return (
                f"states[{name!r}] should hold {len(want)} arrays, one per parameter; "
                f"the check got {short_repr(got)}."
            )
        for i, (g, w) in enumerate(zip(got, want)):
            message = compare_arrays(f"states[{name!r}][{i}]", g, w)
            if message:
                return message
        return None
    value = number(got)
    if value is None or abs(value - want) > 1e-9 * max(1.0, abs(want)):
        return f"states[{name!r}] should be {want:g}, the check got {short_repr(got)}."
    return None


def _known_mistake(last, expected):
    params = last.get("params") if isinstance(last, dict) else None
    if not isinstance(params, list) or len(params) != len(expected["start"]):
        return None
    for mistake in expected.get("mistakes", []):
        if all(
            numbers(g, len(w)) is not None
            and first_mismatch(numbers(g, len(w)), w, start=s, rtol=1e-5) is None
            for g, w, s in zip(params, mistake["params"], expected["start"])
        ):
            return mistake["hint"]
    return None


def judge_cases(got, ref, hints):
    """Messages for a probe that returned {"values": [one flat list per case]}.

    ``ref["cases"]`` lists {"what", "key", "expected"}; ``hints[key]`` says what that
    quantity should be; ``ref["mistakes"]`` lists classic mistakes with the values
    they give.
    """
    problem = error_message(got)
    if problem:
        return [problem[0].upper() + problem[1:]]
    values = got.get("values")
    cases = ref["cases"]
    if not isinstance(values, list) or len(values) != len(cases):
        return [f"{ref['label']}: expected {len(cases)} results, "
                f"the check got {short_repr(values)}."]
    for value, case in zip(values, cases):
        message = compare_arrays(case["what"], value, case["expected"])
        if message:
            messages = [f"{ref['label']}: {message} {hints.get(case['key'], '')}".strip()]
            for mistake in ref.get("mistakes", []):
                if all(
                    numbers(v, len(w)) is not None and first_mismatch(numbers(v, len(w)), w) is None
                    for v, w in zip(values, mistake["values"])
                ):
                    messages.append(f"Your numbers match a classic mistake: {mistake['hint']}")
                    break
            return messages
    return []
