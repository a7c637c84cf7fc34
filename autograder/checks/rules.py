"""Hidden checks for update-rule parts: inputs, the probe, the Keras twin.

Every rule part is graded the same way. The probe creates two float64 parameters
(shapes 2x3 and 3), calls the student's ``init_states(params, hyperparams)`` and then
``update(params, grads, states, hyperparams)`` on hidden inputs, in two scenarios:

- ``fresh``: 20 steps from ``init_states`` with small gradients (scale 1e-2, signs
  mixed) and non-default hyperparameters (a large epsilon 1e-2, betas 0.8/0.888);
- ``resume``: 3 steps from an intermediate state written into the student's state
  variables (the step counter at 6, moments already non-zero).

It records the parameters and the states after steps 1, 2, 3, 5, 10, 15, 20 (resume:
1, 2, 3). ``autograder.references`` runs Keras's own optimizer on the same inputs to
produce what the judge expects. Under these inputs each classic mistake moves the
numbers by far more than the tolerance; at Keras's defaults two of them would hide
under a 1e-4 tolerance (epsilon outside Adagrad's root, the paper's epsilon in Adam).
"""

from dataclasses import dataclass, field

import numpy as np

SHAPES = ((2, 3), (3,))
FRESH_STEPS = 20
FRESH_RECORD = (1, 2, 3, 5, 10, 15, 20)
RESUME_STEPS = 3
RESUME_RECORD = (1, 2, 3)
RESUME_T = 6.0


@dataclass(frozen=True)
class RuleSpec:
    """One graded update rule.

    ``optimizer`` names the course's reference rule (autograder.reference_rules.OPTIMIZERS),
    whose ``.keras(hyperparams)`` gives the Keras optimizer taking the same steps.
    ``states`` maps each state name the notebook specifies to how the probe fills it
    for the resume scenario ("signed", "positive", "accumulator" or "counter") and to
    the Keras optimizer variable it equals: (name suffix, factor) with
    ours = factor * Keras's.
    """

    optimizer: str
    init: str
    update: str
    hyperparams: dict
    seed: int
    states: dict = field(default_factory=dict)

    def inputs(self):
        """The hidden inputs, deterministic: {scenario: keyword arguments of the probe}."""
        rng = np.random.default_rng(self.seed)
        scenarios = {}
        for scenario, steps, record in (
            ("fresh", FRESH_STEPS, FRESH_RECORD),
            ("resume", RESUME_STEPS, RESUME_RECORD),
        ):
            if scenario == "resume" and not self.states:
                continue
            start = [_rounded(rng.normal(0.0, 1.0, s)) for s in SHAPES]
            grads = [[_rounded(rng.normal(0.0, 1e-2, s)) for s in SHAPES] for _ in range(steps)]
            state_values = {}
            if scenario == "resume":
                for name, (kind, _) in self.states.items():
                    state_values[name] = _state_value(kind, rng, self.hyperparams)
            scenarios[scenario] = {
                "init": self.init,
                "update": self.update,
                "hyperparams": dict(self.hyperparams),
                "start": start,
                "state_values": state_values,
                "grads": grads,
                "record": list(record),
                "keys": list(self.states),
            }
        return scenarios

    def probe(self):
        lines = [PROBE_HELPERS, f"_probe_inputs = {self.inputs()!r}"]
        lines.append("{name: _probe_run(**kw) for name, kw in _probe_inputs.items()}")
        return "\n".join(lines)


def _rounded(array):
    """Nested lists of floats with 4 significant digits: short, exact in the probe's text."""
    return np.vectorize(lambda x: float(f"{x:.4g}"))(array).tolist()


def _state_value(kind, rng, hyperparams):
    if kind == "counter":
        return RESUME_T
    values = []
    for s in SHAPES:
        if kind == "signed":
            values.append(_rounded(rng.normal(0.0, 1e-2, s)))
        elif kind == "positive":
            values.append(_rounded(rng.uniform(2e-5, 2e-4, s)))
        elif kind == "accumulator":  # Adagrad: starts at initial_accumulator, only grows
            values.append(_rounded(hyperparams["initial_accumulator"] + rng.uniform(1e-4, 1e-3, s)))
        else:
            raise ValueError(kind)
    return values


PROBE_HELPERS = '''\
import numpy as np
import tensorflow as tf


def _probe_plain(x):
    """A number or a flat list of numbers (nan/inf as None), whatever x was."""
    try:
        values = np.asarray(x, dtype=np.float64)
    except Exception:
        return "not numbers: " + repr(x)[:80]
    if values.ndim == 0:
        return float(values) if np.isfinite(values) else None
    return [float(v) if np.isfinite(v) else None for v in values.ravel()]


def _probe_states(states, keys):
    out = {}
    for key in keys:
        value = states[key]
        if isinstance(value, (list, tuple)):
            out[key] = [_probe_plain(v) for v in value]
        else:
            out[key] = _probe_plain(value)
    return out


def _probe_run(init, update, hyperparams, start, state_values, grads, record, keys):
    """Run the student's rule on hidden inputs; errors become part of the result."""
    try:
        init, update = globals()[init], globals()[update]
        params = [tf.Variable(np.array(x, dtype=np.float64)) for x in start]
        states = init(params, dict(hyperparams))
        for key, value in state_values.items():  # resume from an intermediate state
            if isinstance(value, list):
                for var, v in zip(states[key], value):
                    var.assign(np.reshape(np.array(v, dtype=np.float64), var.shape))
            else:
                states[key].assign(tf.cast(value, states[key].dtype))
        records = []
        for step, g in enumerate(grads, start=1):
            g = [tf.constant(np.array(x, dtype=np.float64)) for x in g]
            update(params, g, states, dict(hyperparams))
            if step in record:
                records.append({
                    "params": [_probe_plain(p) for p in params],
                    "states": _probe_states(states, keys),
                })
        return {"records": records}
    except Exception as error:
        return {"error": (type(error).__name__ + ": " + str(error))[:500]}
'''
