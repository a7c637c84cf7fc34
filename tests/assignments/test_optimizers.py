"""Every reference rule (autograder.checks.instructor_rules) takes the same steps as its Keras twin.

We compare displacements (w_t - w_0), not parameters: steps are small next to the
weights, so a relative error on w itself would hide a wrong rule.
"""

import numpy as np
import pytest
import tensorflow as tf

from autograder.checks.instructor_rules import OPTIMIZERS, keras_steps, own_steps

NUM_STEPS = 120

# Hyperparameters exactly representable in float32: Keras keeps hyperparameters in
# float32 variables even for float64 weights, so with these values the two rules
# must agree to float64 round-off. The large epsilon makes its placement matter.
EXACT = {
    "sgd": dict(lr=0.125),
    "momentum_ema": dict(lr=0.25, beta=0.75),
    "momentum": dict(lr=0.125, momentum=0.75),
    "nesterov": dict(lr=0.125, momentum=0.75),
    "adagrad": dict(lr=0.125, initial_accumulator=0.25, eps=2.0**-6),
    "rmsprop": dict(lr=0.0625, rho=0.75, eps=2.0**-6),
    "adadelta": dict(lr=1.0, rho=0.75, eps=2.0**-6),
    "adam": dict(lr=0.0625, beta1=0.75, beta2=0.875, eps=2.0**-6),
}

# Typical, non-representable values (0.9 is 0.899999976 in float32): the float32
# hyperparameters shift Keras's steps by ~1e-8 relative, so 1e-6 is the test's bound.
TYPICAL = {
    "sgd": dict(lr=0.1),
    "momentum_ema": dict(lr=0.1, beta=0.9),
    "momentum": dict(lr=0.02, momentum=0.8),
    "nesterov": dict(lr=0.02, momentum=0.8),
    "adagrad": dict(lr=0.02, initial_accumulator=0.1, eps=1e-2),
    "rmsprop": dict(lr=0.02, rho=0.8, eps=1e-2),
    "adadelta": dict(lr=0.3, rho=0.8, eps=1e-2),
    "adam": dict(lr=0.02, beta1=0.8, beta2=0.888, eps=1e-2),
}


def _gradients(scale):
    """Fixed gradients for a 4x3 weight and a bias, with a zero component."""
    rng = np.random.default_rng(2024)
    grads = [
        [scale * rng.normal(size=(4, 3)), scale * rng.normal(size=3)]
        for _ in range(NUM_STEPS)
    ]
    for g in grads:
        g[0][1, 2] = 0.0  # Adagrad/RMSprop without epsilon would divide by zero here
    return grads


def _start():
    rng = np.random.default_rng(7)
    return [rng.normal(size=(4, 3)), rng.normal(size=3)]


def _gradient_of_quadratic(step, params):
    # state-dependent gradients, so that a rule that drifts is pulled further off
    return [p.numpy() * 0.5 + 0.01 * np.sin(step) for p in params]


def _displacement_error(optimizer, hyperparams, grad_fn):
    start = _start()
    ours = own_steps(optimizer, hyperparams, start, grad_fn, NUM_STEPS)
    theirs = keras_steps(optimizer, hyperparams, start, grad_fn, NUM_STEPS)
    worst = 0.0
    for step_ours, step_theirs in zip(ours, theirs):
        for p_ours, p_theirs, p0 in zip(step_ours, step_theirs, start):
            moved = np.max(np.abs(p_theirs - p0))
            assert moved > 0, "the Keras optimizer did not move: the test is void"
            worst = max(worst, np.max(np.abs(p_ours - p_theirs)) / moved)
    return worst


def test_every_rule_with_a_keras_twin_is_compared_with_it():
    """A rule added to OPTIMIZERS is checked against Keras here, or this test says so."""
    twins = {name for name, o in OPTIMIZERS.items() if o.keras is not None}
    assert twins == set(EXACT) == set(TYPICAL), (
        f"add {sorted(twins - set(EXACT))} to EXACT and TYPICAL, with hyperparameters")
    # the one rule without a twin is the Adam paper's, compared with Keras's below
    assert {n for n, o in OPTIMIZERS.items() if o.keras is None} == {"adam_paper"}


@pytest.mark.parametrize("name", sorted(EXACT))
@pytest.mark.parametrize("scale", [1e-2, 1.0])
def test_rule_equals_keras_to_round_off(name, scale):
    optimizer = OPTIMIZERS[name]
    grads = _gradients(scale)
    err = _displacement_error(
        optimizer, optimizer.hyperparams(**EXACT[name]), lambda s, p: grads[s]
    )
    assert err < 1e-12, f"{name}: {err:.3g} relative to the displacement"


@pytest.mark.parametrize("name", sorted(TYPICAL))
def test_rule_equals_keras_typical_hyperparams(name):
    optimizer = OPTIMIZERS[name]
    err = _displacement_error(
        optimizer, optimizer.hyperparams(**TYPICAL[name]), _gradient_of_quadratic
    )
    assert err < 1e-6, f"{name}: {err:.3g} relative to the displacement"


@pytest.mark.parametrize("name", sorted(EXACT))
def test_rule_at_keras_defaults(name):
    optimizer = OPTIMIZERS[name]
    grads = _gradients(0.1)
    err = _displacement_error(optimizer, optimizer.hyperparams(), lambda s, p: grads[s])
    # Keras raises beta2 = 0.999 to the power t in float32 (0.99900001287): in
    # 1 - beta2**t that rounding is divided by 1e-3 and becomes ~1.3e-5 relative.
    tolerance = 5e-5 if name == "adam" else 1e-6
    assert err < tolerance, f"{name}: {err:.3g} relative to the displacement"


def test_defaults_match_keras():
    """The hand-written defaults are Keras's own defaults."""
    pairs = {
        "adagrad": (tf.keras.optimizers.Adagrad(), {"lr": "learning_rate",
                    "initial_accumulator": "initial_accumulator_value", "eps": "epsilon"}),
        "rmsprop": (tf.keras.optimizers.RMSprop(), {"lr": "learning_rate", "rho": "rho",
                    "eps": "epsilon"}),
        "adadelta": (tf.keras.optimizers.Adadelta(), {"lr": "learning_rate", "rho": "rho",
                     "eps": "epsilon"}),
        "adam": (tf.keras.optimizers.Adam(), {"lr": "learning_rate", "beta1": "beta_1",
                 "beta2": "beta_2", "eps": "epsilon"}),
        "sgd": (tf.keras.optimizers.SGD(), {"lr": "learning_rate"}),
    }
    for name, (keras_opt, names) in pairs.items():
        config = keras_opt.get_config()
        for ours, theirs in names.items():
            assert OPTIMIZERS[name].defaults[ours] == pytest.approx(config[theirs]), (
                name, ours)


def test_paper_adam_differs_from_keras_adam():
    """The paper's epsilon and Keras's epsilon-hat give different steps (the page's claim)."""
    grads = _gradients(1e-2)
    hp = dict(lr=0.0625, beta1=0.75, beta2=0.875, eps=2.0**-6)
    start = _start()
    paper = own_steps(OPTIMIZERS["adam_paper"], hp, start, lambda s, p: grads[s], 20)
    keras = keras_steps(OPTIMIZERS["adam"], hp, start, lambda s, p: grads[s], 20)
    assert np.max(np.abs(paper[-1][0] - keras[-1][0])) > 1e-4


def test_unknown_hyperparameter_is_a_clear_error():
    with pytest.raises(TypeError, match="has no hyperparameter"):
        OPTIMIZERS["adam"].hyperparams(beta_1=0.9)
