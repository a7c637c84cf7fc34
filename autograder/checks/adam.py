"""Hidden checks of assignment 3, Adam (solutions/adam).

Part A (the moments) runs 20 steps of ``adam_moments`` from non-zero moments and
compares with the moment variables of Keras's ``Adam`` started from the same values.
Part B (bias correction) divides given moments at several step counts; the expected
values are the definition m / (1 - beta1**t), v / (1 - beta2**t) in float64. Part C is
a whole update rule, checked like every rule against Keras's ``Adam``
(autograder/checks/rules.py). Part D is the comparison figure.
"""

import numpy as np

from autograder.checks import Check, Mistake
from autograder.checks import figures
from autograder.checks.kit import judge_cases, judge_rule
from autograder.checks.in_kernel.adam import (
    probe_adam_bias_correction, probe_adam_moments,
)
from autograder.checks.probe import Probe
from autograder.checks.rules import RuleSpec, _rounded

HIDDEN_HP = {"lr": 0.02, "beta1": 0.8, "beta2": 0.888, "eps": 1e-2}

RULES = {
    "adam_update": RuleSpec(
        "adam", "adam_init", "adam_update", dict(HIDDEN_HP), seed=303,
        states={
            "m": ("signed", ("_momentum", 1.0)),
            "v": ("positive", ("_velocity", 1.0)),
            "t": ("counter", ("iteration", 1.0)),
        },
    ),
}

MOMENT_RECORD = (1, 2, 3, 10, 20)
BIAS_STEPS = (1, 2, 3, 10)


def _moment_inputs():
    rng = np.random.default_rng(301)
    return {
        "hyperparams": dict(HIDDEN_HP),
        "m0": _rounded(rng.normal(0.0, 1e-2, (2, 3))),
        "v0": _rounded(rng.uniform(2e-5, 2e-4, (2, 3))),
        "grads": [_rounded(rng.normal(0.0, 1e-2, (2, 3))) for _ in range(20)],
        "record": list(MOMENT_RECORD),
    }


def _bias_inputs():
    rng = np.random.default_rng(302)
    return {
        "hyperparams": dict(HIDDEN_HP),
        "cases": [
            {"m": _rounded(rng.normal(0.0, 1e-2, (2, 3))),
             "v": _rounded(rng.uniform(2e-5, 2e-4, (2, 3))), "t": t}
            for t in BIAS_STEPS
        ],
    }


STATIC = {
    "optimizer_comparison_plot": {
        "histories": {
            "history_sgd": {"rule": "sgd_update", "epochs": 100, "hyperparams": {"lr": 0.1}},
            "history_adam": {
                "rule": "adam_update", "epochs": 100,
                "hyperparams": {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
            },
        },
        "one_axes": True,
    },
}


def _label(hp):
    return "With the hidden inputs (" + ", ".join(f"{k}={v:g}" for k, v in hp.items()) + ")"


def compute_references(nb):
    """Part A from Keras's Adam (its moment variables); Part B from the definition."""
    import tensorflow as tf

    inputs = _moment_inputs()
    hp = inputs["hyperparams"]
    param = tf.Variable(np.zeros((2, 3)), dtype=tf.float64, name="param")
    optimizer = tf.keras.optimizers.Adam(
        learning_rate=hp["lr"], beta_1=hp["beta1"], beta_2=hp["beta2"], epsilon=hp["eps"]
    )
    optimizer.build([param])
    (m,) = [x for x in optimizer.variables if x.path.endswith("_momentum")]
    (v,) = [x for x in optimizer.variables if x.path.endswith("_velocity")]
    m.assign(np.array(inputs["m0"]))
    v.assign(np.array(inputs["v0"]))
    moment_cases = []
    for step, g in enumerate(inputs["grads"], start=1):
        optimizer.apply_gradients([(tf.constant(np.array(g)), param)])
        if step in MOMENT_RECORD:
            for key, var in (("m", m), ("v", v)):
                moment_cases.append({
                    "what": f"{key} after step {step}", "key": key,
                    "expected": [float(x) for x in var.numpy().ravel()],
                })
    bias = _bias_inputs()
    beta1, beta2 = bias["hyperparams"]["beta1"], bias["hyperparams"]["beta2"]
    bias_cases = []
    for case in bias["cases"]:
        t = case["t"]
        for key, values, beta in (("m_hat", case["m"], beta1), ("v_hat", case["v"], beta2)):
            corrected = np.array(values, dtype=np.float64) / (1 - beta**t)
            bias_cases.append({
                "what": f"{key} at t = {t}", "key": key,
                "expected": [float(x) for x in corrected.ravel()],
            })
    return {
        "adam_moments": {"label": _label(hp), "cases": moment_cases, "mistakes": []},
        "adam_bias_correction": {
            "label": _label(bias["hyperparams"]), "cases": bias_cases, "mistakes": []
        },
    }


def judge_moments(got, ref):
    return judge_cases(got, ref, {
        "m": "m = beta1 * m + (1 - beta1) * g, with beta1 = hyperparams['beta1'].",
        "v": "v = beta2 * v + (1 - beta2) * g**2: the square of g, and beta2.",
    })


def judge_bias_correction(got, ref):
    return judge_cases(got, ref, {
        "m_hat": "m_hat = m / (1 - beta1**t), with the t you are given (1 after one step).",
        "v_hat": "v_hat = v / (1 - beta2**t): beta2 for v, and divide, do not multiply.",
    })


def judge_adam(got, ref):
    return judge_rule(got, ref, {
        "t": "t counts the steps: add 1 at the start of every update (t = 1 in the first).",
        "m": "m = beta1 * m + (1 - beta1) * g, before the weights move.",
        "v": "v = beta2 * v + (1 - beta2) * g**2, before the weights move.",
        "params": "w = w - lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps), "
                  "with the new t, m and v; eps outside the root, added to sqrt(v).",
    })


CHECKS = {
    "adam_moments": Check(Probe(probe_adam_moments, _moment_inputs()), judge_moments),
    "adam_bias_correction": Check(Probe(probe_adam_bias_correction, _bias_inputs()),
                                  judge_bias_correction),
    "adam_update": Check(RULES["adam_update"].probe(), judge_adam),
    "optimizer_comparison_plot": Check(
        figures.probe(STATIC["optimizer_comparison_plot"]["histories"]),
        figures.judge_histories_plot,
    ),
}

_ADAM_LOOP = (
    "        m.assign(beta1 * m + (1 - beta1) * g)\n"
    "        v.assign(beta2 * v + (1 - beta2) * tf.square(g))\n"
    "        p.assign_sub(alpha * m / (tf.sqrt(v) + eps))"
)

MISTAKES = [
    # Part A
    Mistake("adam_moments", "adam_moments_answer", "missing (1 - beta1)",
            "m.assign(beta1 * m + (1 - beta1) * g)", "m.assign(beta1 * m + g)",
            "the new gradient is not scaled by (1 - beta1) in m."),
    Mistake("adam_moments", "adam_moments_answer", "missing (1 - beta2)",
            "v.assign(beta2 * v + (1 - beta2) * tf.square(g))",
            "v.assign(beta2 * v + tf.square(g))",
            "the squared gradient is not scaled by (1 - beta2) in v."),
    Mistake("adam_moments", "adam_moments_answer", "g instead of g squared",
            "(1 - beta2) * tf.square(g)", "(1 - beta2) * g",
            "v averages g, not g**2."),
    Mistake("adam_moments", "adam_moments_answer", "|g| instead of g squared",
            "(1 - beta2) * tf.square(g)", "(1 - beta2) * tf.abs(g)",
            "v averages |g|, not g**2."),
    Mistake("adam_moments", "adam_moments_answer", "betas swapped",
            'beta1, beta2 = hyperparams["beta1"], hyperparams["beta2"]',
            'beta2, beta1 = hyperparams["beta1"], hyperparams["beta2"]',
            "beta1 belongs to m and beta2 to v."),
    # Part B
    Mistake("adam_bias_correction", "bias_correct_answer", "no bias correction",
            "return m / (1 - beta1**t), v / (1 - beta2**t)", "return m, v",
            "the moments are returned without dividing by (1 - beta**t)."),
    Mistake("adam_bias_correction", "bias_correct_answer", "t starting at 0",
            "return m / (1 - beta1**t), v / (1 - beta2**t)",
            "return m / (1 - beta1**(t - 1)), v / (1 - beta2**(t - 1))",
            "the correction uses t - 1: t is 1 after the first step, not 0."),
    Mistake("adam_bias_correction", "bias_correct_answer", "betas swapped",
            "return m / (1 - beta1**t), v / (1 - beta2**t)",
            "return m / (1 - beta2**t), v / (1 - beta1**t)",
            "m_hat uses beta1 and v_hat uses beta2."),
    Mistake("adam_bias_correction", "bias_correct_answer", "multiplied instead of divided",
            "return m / (1 - beta1**t), v / (1 - beta2**t)",
            "return m * (1 - beta1**t), v * (1 - beta2**t)",
            "the moments must be divided by (1 - beta**t), not multiplied."),
    # Part C
    Mistake("adam_update", "adam_answer", "no bias correction",
            "alpha = lr * tf.sqrt(1 - beta2**t) / (1 - beta1**t)", "alpha = lr",
            "the step has no bias correction: lr * sqrt(1 - beta2**t) / (1 - beta1**t)."),
    Mistake("adam_update", "adam_answer", "t starting at 0",
            '    states["t"].assign_add(1.0)\n    t = states["t"]\n',
            '    t = tf.identity(states["t"])\n    states["t"].assign_add(1.0)\n',
            "the corrections use t before it is increased: t must be 1 in the first step."),
    Mistake("adam_update", "adam_answer", "the paper's epsilon",
            "p.assign_sub(alpha * m / (tf.sqrt(v) + eps))",
            "p.assign_sub(alpha * m / (tf.sqrt(v) + eps * tf.sqrt(1 - beta2**t)))",
            "this is the paper's form, eps added to sqrt(v_hat); Keras adds eps to sqrt(v)."),
    Mistake("adam_update", "adam_answer", "epsilon inside the root",
            "p.assign_sub(alpha * m / (tf.sqrt(v) + eps))",
            "p.assign_sub(alpha * m / tf.sqrt(v + eps))",
            "eps is inside the square root; Adam adds it outside, to sqrt(v)."),
    Mistake("adam_update", "adam_answer", "g instead of g squared",
            "(1 - beta2) * tf.square(g)", "(1 - beta2) * g",
            "v averages g, not g**2."),
    Mistake("adam_update", "adam_answer", "missing (1 - beta1)",
            "m.assign(beta1 * m + (1 - beta1) * g)", "m.assign(beta1 * m + g)",
            "the new gradient is not scaled by (1 - beta1) in m."),
    Mistake("adam_update", "adam_answer", "missing (1 - beta2)",
            "v.assign(beta2 * v + (1 - beta2) * tf.square(g))",
            "v.assign(beta2 * v + tf.square(g))",
            "the squared gradient is not scaled by (1 - beta2) in v."),
    Mistake("adam_update", "adam_answer", "state updated after the weights",
            _ADAM_LOOP,
            "        p.assign_sub(alpha * m / (tf.sqrt(v) + eps))\n"
            "        m.assign(beta1 * m + (1 - beta1) * g)\n"
            "        v.assign(beta2 * v + (1 - beta2) * tf.square(g))",
            "the weights move with the previous m and v; update the moments first."),
    Mistake("adam_update", "adam_answer", "sign error",
            "p.assign_sub(alpha * m / (tf.sqrt(v) + eps))",
            "p.assign_add(alpha * m / (tf.sqrt(v) + eps))",
            "the step goes with the gradient instead of against it."),
    # hyperparameters written as numbers (the visible values)
    Mistake("adam_moments", "adam_moments_answer", "hard-coded beta1",
            'beta1, beta2 = hyperparams["beta1"], hyperparams["beta2"]',
            'beta1, beta2 = 0.9, hyperparams["beta2"]',
            "beta1 is a fixed number instead of hyperparams['beta1']."),
    Mistake("adam_moments", "adam_moments_answer", "hard-coded beta2",
            'beta1, beta2 = hyperparams["beta1"], hyperparams["beta2"]',
            'beta1, beta2 = hyperparams["beta1"], 0.999',
            "beta2 is a fixed number instead of hyperparams['beta2']."),
    Mistake("adam_bias_correction", "bias_correct_answer", "hard-coded beta1",
            'beta1, beta2 = hyperparams["beta1"], hyperparams["beta2"]',
            'beta1, beta2 = 0.9, hyperparams["beta2"]',
            "beta1 is a fixed number instead of hyperparams['beta1']."),
    Mistake("adam_bias_correction", "bias_correct_answer", "hard-coded beta2",
            'beta1, beta2 = hyperparams["beta1"], hyperparams["beta2"]',
            'beta1, beta2 = hyperparams["beta1"], 0.999',
            "beta2 is a fixed number instead of hyperparams['beta2']."),
    Mistake("adam_update", "adam_answer", "hard-coded lr",
            'lr, beta1, beta2 = hyperparams["lr"], hyperparams["beta1"], hyperparams["beta2"]',
            'lr, beta1, beta2 = 0.01, hyperparams["beta1"], hyperparams["beta2"]',
            "the learning rate is a fixed number instead of hyperparams['lr']."),
    Mistake("adam_update", "adam_answer", "hard-coded beta1",
            'lr, beta1, beta2 = hyperparams["lr"], hyperparams["beta1"], hyperparams["beta2"]',
            'lr, beta1, beta2 = hyperparams["lr"], 0.9, hyperparams["beta2"]',
            "beta1 is a fixed number instead of hyperparams['beta1']."),
    Mistake("adam_update", "adam_answer", "hard-coded beta2",
            'lr, beta1, beta2 = hyperparams["lr"], hyperparams["beta1"], hyperparams["beta2"]',
            'lr, beta1, beta2 = hyperparams["lr"], hyperparams["beta1"], 0.999',
            "beta2 is a fixed number instead of hyperparams['beta2']."),
    Mistake("adam_update", "adam_answer", "hard-coded eps",
            'eps = hyperparams["eps"]',
            'eps = 1e-7',
            "eps is a fixed number instead of hyperparams['eps']."),
    # Part D
    Mistake("optimizer_comparison_plot", "comparison_answer", "typed-in history",
            'history_adam = train(adam_init, adam_update,\n'
            '                     {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}, '
            'epochs=100)',
            'history_adam = {"loss": [0.3 * 0.97**i for i in range(100)], "rule": "adam_update",\n'
            '                "hyperparams": {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, '
            '"eps": 1e-7},\n'
            '                "epochs": 100, "accuracy": [0.9] * 100}',
            "is not what your adam_update gives"),
]
