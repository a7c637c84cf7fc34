"""Hidden checks of assignment 2, adaptive methods (solutions/adaptive)."""

from autograder.checks import Check, Mistake
from autograder.checks.kit import judge_rule
from autograder.checks.rules import RuleSpec

RULES = {
    "adagrad_update": RuleSpec(
        "adagrad", "adagrad_init", "adagrad_update",
        {"lr": 0.05, "initial_accumulator": 0.3, "eps": 1e-2}, seed=201,
        states={"s": ("accumulator", ("_accumulator", 1.0))},
    ),
    "rmsprop_update": RuleSpec(
        "rmsprop", "rmsprop_init", "rmsprop_update",
        {"lr": 0.02, "rho": 0.8, "eps": 1e-2}, seed=202,
        states={"s": ("positive", ("_velocity", 1.0))},
    ),
    "adadelta_update": RuleSpec(
        "adadelta", "adadelta_init", "adadelta_update",
        {"lr": 0.5, "rho": 0.8, "eps": 1e-2}, seed=203,
        states={
            "s": ("positive", ("_accumulated_grad", 1.0)),
            "u": ("positive", ("_accumulated_delta_var", 1.0)),
        },
    ),
}


def judge_adagrad(got, ref):
    return judge_rule(got, ref, {
        "s": "s starts at hyperparams['initial_accumulator'] and grows by g**2 (the "
             "square of g) before the weights move.",
        "params": "w = w - lr * g / sqrt(s + eps): eps inside the square root, "
                  "the s of this step.",
    })


def judge_rmsprop(got, ref):
    return judge_rule(got, ref, {
        "s": "s = rho * s + (1 - rho) * g**2, before the weights move.",
        "params": "w = w - lr * g / sqrt(s + eps): eps inside the square root, "
                  "the s of this step.",
    })


def judge_adadelta(got, ref):
    return judge_rule(got, ref, {
        "s": "s = rho * s + (1 - rho) * g**2, first.",
        "u": "u = rho * u + (1 - rho) * delta**2, after delta, whose formula uses the "
             "previous u.",
        "params": "delta = -sqrt(u + eps) / sqrt(s + eps) * g (eps inside both roots), "
                  "then w = w + lr * delta.",
    })


CHECKS = {
    "adagrad_update": Check(RULES["adagrad_update"].probe(), judge_adagrad),
    "rmsprop_update": Check(RULES["rmsprop_update"].probe(), judge_rmsprop),
    "adadelta_update": Check(RULES["adadelta_update"].probe(), judge_adadelta),
}

_ADAGRAD_STEP = ("        s.assign_add(tf.square(g))\n"
                 "        p.assign_sub(lr * g / tf.sqrt(s + eps))")
_RMSPROP_STEP = (
    "        s.assign(rho * s + (1 - rho) * tf.square(g))\n"
    "        p.assign_sub(lr * g / tf.sqrt(s + eps))"
)

MISTAKES = [
    Mistake("adagrad_update", "adagrad_answer", "accumulator from 0",
            "tf.Variable(start * tf.ones_like(p))", "tf.Variable(tf.zeros_like(p))",
            "the accumulator starts at 0; Keras starts it at hyperparams['initial_accumulator']."),
    Mistake("adagrad_update", "adagrad_answer", "epsilon outside the root",
            "lr * g / tf.sqrt(s + eps)", "lr * g / (tf.sqrt(s) + eps)",
            "eps is added outside the square root; Keras's Adagrad adds it inside."),
    Mistake("adagrad_update", "adagrad_answer", "g instead of g squared",
            "s.assign_add(tf.square(g))", "s.assign_add(g)",
            "the accumulator adds g, not g**2."),
    Mistake("adagrad_update", "adagrad_answer", "|g| instead of g squared",
            "s.assign_add(tf.square(g))", "s.assign_add(tf.abs(g))",
            "the accumulator adds |g|, not g**2."),
    Mistake("adagrad_update", "adagrad_answer", "state updated after the weights",
            _ADAGRAD_STEP,
            "        p.assign_sub(lr * g / tf.sqrt(s + eps))\n        s.assign_add(tf.square(g))",
            "the weights move before s includes this step's g**2; update s first."),
    Mistake("adagrad_update", "adagrad_answer", "sign error",
            "p.assign_sub(lr * g / tf.sqrt(s + eps))", "p.assign_add(lr * g / tf.sqrt(s + eps))",
            "the step goes with the gradient instead of against it."),
    Mistake("rmsprop_update", "rmsprop_answer", "missing (1 - rho)",
            "s.assign(rho * s + (1 - rho) * tf.square(g))", "s.assign(rho * s + tf.square(g))",
            "the new squared gradient is not scaled by (1 - rho)."),
    Mistake("rmsprop_update", "rmsprop_answer", "epsilon outside the root",
            "lr * g / tf.sqrt(s + eps)", "lr * g / (tf.sqrt(s) + eps)",
            "eps is added outside the square root; Keras's RMSprop adds it inside."),
    Mistake("rmsprop_update", "rmsprop_answer", "no epsilon (the notes' form)",
            "lr * g / tf.sqrt(s + eps)", "lr * g / tf.sqrt(s)",
            "eps is missing (the seed notes leave it out); Keras adds it inside the root."),
    Mistake("rmsprop_update", "rmsprop_answer", "g instead of g squared",
            "(1 - rho) * tf.square(g)", "(1 - rho) * g",
            "the average is over g, not g**2."),
    Mistake("rmsprop_update", "rmsprop_answer", "|g| instead of g squared",
            "(1 - rho) * tf.square(g)", "(1 - rho) * tf.abs(g)",
            "the average is over |g|, not g**2."),
    Mistake("rmsprop_update", "rmsprop_answer", "state updated after the weights",
            _RMSPROP_STEP,
            "        p.assign_sub(lr * g / tf.sqrt(s + eps))\n"
            "        s.assign(rho * s + (1 - rho) * tf.square(g))",
            "the weights move before s includes this step's gradient; update s first."),
    Mistake("rmsprop_update", "rmsprop_answer", "sign error",
            "p.assign_sub(lr * g / tf.sqrt(s + eps))", "p.assign_add(lr * g / tf.sqrt(s + eps))",
            "the step goes with the gradient instead of against it."),
    Mistake("adadelta_update", "adadelta_answer", "missing (1 - rho) in s",
            "s.assign(rho * s + (1 - rho) * tf.square(g))", "s.assign(rho * s + tf.square(g))",
            "the squared gradient is not scaled by (1 - rho) in s."),
    Mistake("adadelta_update", "adadelta_answer", "missing (1 - rho) in u",
            "u.assign(rho * u + (1 - rho) * tf.square(delta))",
            "u.assign(rho * u + tf.square(delta))",
            "the squared step is not scaled by (1 - rho) in u."),
    Mistake("adadelta_update", "adadelta_answer", "epsilon outside the roots",
            "delta = -tf.sqrt(u + eps) / tf.sqrt(s + eps) * g",
            "delta = -(tf.sqrt(u) + eps) / (tf.sqrt(s) + eps) * g",
            "eps is added outside the square roots; Keras adds it inside both."),
    Mistake("adadelta_update", "adadelta_answer", "g instead of g squared",
            "(1 - rho) * tf.square(g)", "(1 - rho) * g",
            "s averages g, not g**2."),
    Mistake("adadelta_update", "adadelta_answer", "u updated before the step",
            "        delta = -tf.sqrt(u + eps) / tf.sqrt(s + eps) * g\n"
            "        u.assign(rho * u + (1 - rho) * tf.square(delta))",
            "        u.assign(rho * u + (1 - rho) * tf.square(g))\n"
            "        delta = -tf.sqrt(u + eps) / tf.sqrt(s + eps) * g",
            "u must average the squared steps delta**2, updated after delta."),
    Mistake("adadelta_update", "adadelta_answer", "state updated after the weights",
            "        s.assign(rho * s + (1 - rho) * tf.square(g))\n"
            "        delta = -tf.sqrt(u + eps) / tf.sqrt(s + eps) * g",
            "        delta = -tf.sqrt(u + eps) / tf.sqrt(s + eps) * g\n"
            "        s.assign(rho * s + (1 - rho) * tf.square(g))",
            "the step uses s before this step's gradient is in it; update s first."),
    Mistake("adadelta_update", "adadelta_answer", "learning rate ignored",
            "p.assign_add(lr * delta)", "p.assign_add(delta)",
            "the step ignores the learning rate; Keras multiplies delta by it."),
    Mistake("adadelta_update", "adadelta_answer", "sign error",
            "p.assign_add(lr * delta)", "p.assign_sub(lr * delta)",
            "the step goes with the gradient instead of against it."),
    # hyperparameters written as numbers (the visible tests' values)
    Mistake("adagrad_update", "adagrad_answer", "hard-coded initial_accumulator",
            'start = hyperparams["initial_accumulator"]',
            'start = 0.1',
            "the accumulator's start is a fixed number instead of "
            "hyperparams['initial_accumulator']."),
    Mistake("adagrad_update", "adagrad_answer", "hard-coded lr",
            'lr, eps = hyperparams["lr"], hyperparams["eps"]',
            'lr, eps = 0.1, hyperparams["eps"]',
            "the learning rate is a fixed number instead of hyperparams['lr']."),
    Mistake("adagrad_update", "adagrad_answer", "hard-coded eps",
            'lr, eps = hyperparams["lr"], hyperparams["eps"]',
            'lr, eps = hyperparams["lr"], 1e-7',
            "eps is a fixed number instead of hyperparams['eps']."),
    Mistake("rmsprop_update", "rmsprop_answer", "hard-coded lr",
            'lr, rho, eps = hyperparams["lr"], hyperparams["rho"], hyperparams["eps"]',
            'lr, rho, eps = 0.01, hyperparams["rho"], hyperparams["eps"]',
            "the learning rate is a fixed number instead of hyperparams['lr']."),
    Mistake("rmsprop_update", "rmsprop_answer", "hard-coded rho",
            'lr, rho, eps = hyperparams["lr"], hyperparams["rho"], hyperparams["eps"]',
            'lr, rho, eps = hyperparams["lr"], 0.9, hyperparams["eps"]',
            "rho is a fixed number instead of hyperparams['rho']."),
    Mistake("rmsprop_update", "rmsprop_answer", "hard-coded eps",
            'lr, rho, eps = hyperparams["lr"], hyperparams["rho"], hyperparams["eps"]',
            'lr, rho, eps = hyperparams["lr"], hyperparams["rho"], 1e-7',
            "eps is a fixed number instead of hyperparams['eps']."),
    Mistake("adadelta_update", "adadelta_answer", "hard-coded lr",
            'lr, rho, eps = hyperparams["lr"], hyperparams["rho"], hyperparams["eps"]',
            'lr, rho, eps = 1.0, hyperparams["rho"], hyperparams["eps"]',
            "the learning rate is a fixed number instead of hyperparams['lr']."),
    Mistake("adadelta_update", "adadelta_answer", "hard-coded rho",
            'lr, rho, eps = hyperparams["lr"], hyperparams["rho"], hyperparams["eps"]',
            'lr, rho, eps = hyperparams["lr"], 0.95, hyperparams["eps"]',
            "rho is a fixed number instead of hyperparams['rho']."),
    Mistake("adadelta_update", "adadelta_answer", "hard-coded eps",
            'lr, rho, eps = hyperparams["lr"], hyperparams["rho"], hyperparams["eps"]',
            'lr, rho, eps = hyperparams["lr"], hyperparams["rho"], 1e-7',
            "eps is a fixed number instead of hyperparams['eps']."),
]
