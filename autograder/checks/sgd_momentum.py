"""Hidden checks of assignment 1, SGD and momentum (solutions/sgd_momentum)."""

from autograder.checks import Check, Mistake
from autograder.checks import figures
from autograder.checks.kit import judge_rule
from autograder.checks.rules import RuleSpec

RULES = {
    "sgd_update": RuleSpec("sgd", "sgd_init", "sgd_update", {"lr": 0.05}, seed=101),
    "momentum_ema_update": RuleSpec(
        "momentum_ema", "momentum_ema_init", "momentum_ema_update",
        {"lr": 0.05, "beta": 0.8}, seed=102,
        # Keras's velocity is -lr * m (autograder.checks.instructor_rules: lr scaled by 1 - beta)
        states={"m": ("signed", ("_momentum", -1 / 0.05))},
    ),
    "momentum_velocity_update": RuleSpec(
        "momentum", "momentum_init", "momentum_update",
        {"lr": 0.05, "momentum": 0.8}, seed=103,
        states={"v": ("signed", ("_momentum", 1.0))},
    ),
}

# References that follow from the specification alone (no arithmetic to check).
STATIC = {
    "iris_loss_plot": {
        "histories": {
            "history_sgd": {"rule": "sgd_update", "epochs": 100, "hyperparams": {"lr": 0.1}},
            "history_momentum": {
                "rule": "momentum_ema_update", "epochs": 100,
                "hyperparams": {"lr": 0.1, "beta": 0.9},
            },
        },
        "one_axes": True,
    },
}


def judge_sgd(got, ref):
    return judge_rule(got, ref, {
        "params": "SGD moves each parameter by -lr * g: check the sign, and use "
                  "hyperparams['lr'] rather than a fixed number.",
    })


def judge_momentum_ema(got, ref):
    return judge_rule(got, ref, {
        "m": "m = beta * m + (1 - beta) * g, computed before the weights move, "
             "with beta = hyperparams['beta'].",
        "params": "w = w - lr * m, with the m of this step.",
    })


def judge_momentum_velocity(got, ref):
    return judge_rule(got, ref, {
        "v": "v = momentum * v - lr * g (Keras's velocity already holds the learning "
             "rate and points against the gradient).",
        "params": "w = w + v, with the v of this step.",
    })


CHECKS = {
    "sgd_update": Check(RULES["sgd_update"].probe(), judge_sgd),
    "momentum_ema_update": Check(RULES["momentum_ema_update"].probe(), judge_momentum_ema),
    "momentum_velocity_update": Check(
        RULES["momentum_velocity_update"].probe(), judge_momentum_velocity
    ),
    "iris_loss_plot": Check(
        figures.probe(STATIC["iris_loss_plot"]["histories"]), figures.judge_histories_plot
    ),
}

MISTAKES = [
    Mistake("sgd_update", "sgd_answer", "sign error",
            "p.assign_sub(lr * g)", "p.assign_add(lr * g)",
            "the step goes with the gradient instead of against it (a sign error)."),
    Mistake("sgd_update", "sgd_answer", "hard-coded lr",
            'lr = hyperparams["lr"]', "lr = 0.1",
            "the learning rate is a fixed number instead of hyperparams['lr']."),
    Mistake("momentum_ema_update", "momentum_ema_answer", "missing (1 - beta)",
            "m.assign(beta * m + (1 - beta) * g)", "m.assign(beta * m + g)",
            "the new gradient is not scaled by (1 - beta)."),
    Mistake("momentum_ema_update", "momentum_ema_answer", "state updated after the weights",
            "        m.assign(beta * m + (1 - beta) * g)\n        p.assign_sub(lr * m)",
            "        p.assign_sub(lr * m)\n        m.assign(beta * m + (1 - beta) * g)",
            "the weights move with the previous m; update m first, then the weights."),
    Mistake("momentum_ema_update", "momentum_ema_answer", "sign error",
            "p.assign_sub(lr * m)", "p.assign_add(lr * m)",
            "the step goes with the average gradient instead of against it."),
    Mistake("momentum_ema_update", "momentum_ema_answer", "hard-coded lr",
            'lr, beta = hyperparams["lr"], hyperparams["beta"]',
            'lr, beta = 0.1, hyperparams["beta"]',
            "the learning rate is a fixed number instead of hyperparams['lr']."),
    Mistake("momentum_ema_update", "momentum_ema_answer", "hard-coded beta",
            'lr, beta = hyperparams["lr"], hyperparams["beta"]',
            'lr, beta = hyperparams["lr"], 0.9',
            "beta is a fixed number instead of hyperparams['beta']."),
    Mistake("momentum_velocity_update", "momentum_answer", "hard-coded lr",
            'lr, mu = hyperparams["lr"], hyperparams["momentum"]',
            'lr, mu = 0.1, hyperparams["momentum"]',
            "the learning rate is a fixed number instead of hyperparams['lr']."),
    Mistake("momentum_velocity_update", "momentum_answer", "hard-coded momentum",
            'lr, mu = hyperparams["lr"], hyperparams["momentum"]',
            'lr, mu = hyperparams["lr"], 0.9',
            "the momentum is a fixed number instead of hyperparams['momentum']."),
    Mistake("momentum_velocity_update", "momentum_answer", "sign error",
            "v.assign(mu * v - lr * g)", "v.assign(mu * v + lr * g)",
            "the velocity adds lr * g; Keras's velocity subtracts it."),
    Mistake("momentum_velocity_update", "momentum_answer", "state updated after the weights",
            "        v.assign(mu * v - lr * g)\n        p.assign_add(v)",
            "        p.assign_add(v)\n        v.assign(mu * v - lr * g)",
            "the weights move with the previous velocity; update v first."),
    Mistake("momentum_velocity_update", "momentum_answer", "the moving-average form",
            "v.assign(mu * v - lr * g)\n        p.assign_add(v)",
            "v.assign(mu * v + (1 - mu) * g)\n        p.assign_sub(lr * v)",
            "this is the notes' moving-average form; Keras's velocity is "
            "v = momentum * v - lr * g, and w = w + v."),
    Mistake("iris_loss_plot", "iris_training_answer", "typed-in history",
            'history_sgd = train(sgd_init, sgd_update, {"lr": 0.1}, epochs=100)',
            'history_sgd = {"loss": [0.3 * 0.98**i for i in range(100)], "rule": "sgd_update",\n'
            '               "hyperparams": {"lr": 0.1}, "epochs": 100, "accuracy": [0.9] * 100}',
            "is not what your sgd_update gives"),
]
