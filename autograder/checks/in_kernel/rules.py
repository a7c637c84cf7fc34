"""Probes of the update-rule parts: the student's ``init_states`` and ``update`` run on
hidden inputs, recording parameters and states (``autograder/checks/rules.py`` makes
the inputs and says what is recorded)."""

import numpy as np


def flat_numbers(x):
    """A number or a flat list of numbers (nan/inf as None), whatever x was."""
    try:
        values = np.asarray(x, dtype=np.float64)
    except Exception:
        return "not numbers: " + repr(x)[:80]
    if values.ndim == 0:
        return float(values) if np.isfinite(values) else None
    return [float(v) if np.isfinite(v) else None for v in values.ravel()]


def states_of(states, keys):
    """The states named ``keys``: a flat list per parameter, or a number."""
    out = {}
    for key in keys:
        value = states[key]
        if isinstance(value, (list, tuple)):
            out[key] = [flat_numbers(v) for v in value]
        else:
            out[key] = flat_numbers(value)
    return out


def rule_records(namespace, scenario):
    """Run the student's rule on one scenario's hidden inputs; errors become part of
    the result."""
    import tensorflow as tf

    try:
        init = namespace[scenario["init"]]
        update = namespace[scenario["update"]]
        hyperparams = scenario["hyperparams"]
        params = [tf.Variable(np.array(x, dtype=np.float64)) for x in scenario["start"]]
        states = init(params, dict(hyperparams))
        for key, value in scenario["state_values"].items():  # resume from there
            if isinstance(value, list):
                for var, v in zip(states[key], value):
                    var.assign(np.reshape(np.array(v, dtype=np.float64), var.shape))
            else:
                states[key].assign(tf.cast(value, states[key].dtype))
        records = []
        for step, g in enumerate(scenario["grads"], start=1):
            g = [tf.constant(np.array(x, dtype=np.float64)) for x in g]
            update(params, g, states, dict(hyperparams))
            if step in scenario["record"]:
                records.append({
                    "params": [flat_numbers(p) for p in params],
                    "states": states_of(states, scenario["keys"]),
                })
        return {"records": records}
    except Exception as error:
        return {"error": (type(error).__name__ + ": " + str(error))[:500]}


def probe_update_rule(namespace, scenarios):
    """{scenario: what the student's rule recorded} for each scenario's inputs."""
    return {name: rule_records(namespace, scenario) for name, scenario in scenarios.items()}
