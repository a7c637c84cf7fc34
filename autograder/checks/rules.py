"""Hidden checks for update-rule parts: the hidden inputs, the probe, the Keras twin.

Every rule part is graded the same way. The probe creates two float64 parameters
(shapes 2x3 and 3), calls the student's ``init_states(params, hyperparams)`` and then
``update(params, grads, states, hyperparams)`` on hidden inputs, in two scenarios:

- ``fresh``: 20 steps from ``init_states`` with small gradients (scale 1e-2, signs
  mixed) and non-default hyperparameters (a large epsilon 1e-2, betas 0.8/0.888);
- ``resume``: 3 steps from an intermediate state written into the student's state
  variables (the step counter at 6, moments already non-zero).

It records the parameters and the states after steps 1, 2, 3, 5, 10, 15, 20 (resume:
1, 2, 3). ``python -m autograder references`` runs Keras's own optimizer on the same inputs to
produce what the judge expects. Under these inputs each classic mistake moves the
numbers by far more than the tolerance; at Keras's defaults two of them would hide
under a 1e-4 tolerance (epsilon outside Adagrad's root, the paper's epsilon in Adam).
"""

from dataclasses import dataclass, field

import numpy as np

from autograder.checks.in_kernel.rules import probe_update_rule
from autograder.checks.probe import Probe

SHAPES = ((2, 3), (3,))
FRESH_STEPS = 20
FRESH_RECORD = (1, 2, 3, 5, 10, 15, 20)
RESUME_STEPS = 3
RESUME_RECORD = (1, 2, 3)
RESUME_T = 6.0


@dataclass(frozen=True)
class RuleSpec:
    """One graded update rule.

    ``optimizer`` names the course's reference rule (autograder.checks.instructor_rules.OPTIMIZERS),
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
        """The hidden inputs, deterministic: {scenario: what the probe runs}."""
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

    def probe(self) -> Probe:
        """The student's rule run on the hidden inputs (``in_kernel/rules.py``)."""
        return Probe(probe_update_rule, {"scenarios": self.inputs()})


def _rounded(array):
    """Nested lists of floats with 4 significant digits: short, exact when written out."""
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
