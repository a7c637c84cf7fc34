"""Correct answers written with NumPy (np.asarray(g), in-place array arithmetic): Keras's
steps, written another way, which run only eagerly; Part D trains them with
train(..., compiled=False), as the set-up cell's docstring says. Every part keeps its
points, Part D included (its check reruns the rule eagerly): tested in process
(tests/assignments/test_assignments.py) and with the real grader
(tests/grader/test_parts_alone.py)."""

NUMPY_SGD = """def sgd_init(params, hyperparams):
    return {}


def sgd_update(params, grads, states, hyperparams):
    for p, g in zip(params, grads):
        w = p.numpy()
        w -= hyperparams["lr"] * np.asarray(g)
        p.assign(w)
"""
NUMPY_ANSWERS = {
    "sgd_momentum": {
        "sgd_answer": NUMPY_SGD,
        "momentum_ema_answer": """def momentum_ema_init(params, hyperparams):
    return {"m": [tf.Variable(np.zeros(tuple(p.shape))) for p in params]}


def momentum_ema_update(params, grads, states, hyperparams):
    lr, beta = hyperparams["lr"], hyperparams["beta"]
    for p, g, m in zip(params, grads, states["m"]):
        average = m.numpy()
        average *= beta
        average += (1 - beta) * np.asarray(g)
        m.assign(average)
        w = p.numpy()
        w -= lr * average
        p.assign(w)
""",
        "momentum_answer": """def momentum_init(params, hyperparams):
    return {"v": [tf.Variable(np.zeros(tuple(p.shape))) for p in params]}


def momentum_update(params, grads, states, hyperparams):
    for p, g, v in zip(params, grads, states["v"]):
        velocity = hyperparams["momentum"] * v.numpy() - hyperparams["lr"] * np.asarray(g)
        v.assign(velocity)
        p.assign(p.numpy() + velocity)
""",
        "iris_training_answer": """history_sgd = train(sgd_init, sgd_update, {"lr": 0.1},
                    epochs=100, compiled=False)
history_momentum = train(momentum_ema_init, momentum_ema_update,
                         {"lr": 0.1, "beta": 0.9}, epochs=100, compiled=False)
fig, ax = plt.subplots()
ax.plot(history_sgd["loss"], label="SGD")
ax.plot(history_momentum["loss"], label="momentum")
ax.set_title("training loss")
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.legend()
""",
    },
    "adam": {
        "adam_moments_answer": """def adam_moments(m, v, g, hyperparams):
    g = np.asarray(g)
    m.assign(hyperparams["beta1"] * m.numpy() + (1 - hyperparams["beta1"]) * g)
    v.assign(hyperparams["beta2"] * v.numpy() + (1 - hyperparams["beta2"]) * g * g)
""",
        "bias_correct_answer": """def bias_correct(m, v, t, hyperparams):
    return (np.asarray(m) / (1 - hyperparams["beta1"] ** t),
            np.asarray(v) / (1 - hyperparams["beta2"] ** t))
""",
        "adam_answer": """def adam_init(params, hyperparams):
    return {"m": [tf.Variable(np.zeros(tuple(p.shape))) for p in params],
            "v": [tf.Variable(np.zeros(tuple(p.shape))) for p in params],
            "t": tf.Variable(0.0, dtype=tf.float64)}


def adam_update(params, grads, states, hyperparams):
    lr, beta1, beta2, eps = (hyperparams[k] for k in ("lr", "beta1", "beta2", "eps"))
    t = states["t"].numpy() + 1.0
    states["t"].assign(t)
    alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    for p, g, m, v in zip(params, grads, states["m"], states["v"]):
        g = np.asarray(g)
        first, second = m.numpy(), v.numpy()
        first *= beta1
        first += (1 - beta1) * g
        second *= beta2
        second += (1 - beta2) * g**2
        m.assign(first)
        v.assign(second)
        w = p.numpy()
        w -= alpha * first / (np.sqrt(second) + eps)
        p.assign(w)
""",
        "comparison_answer": NUMPY_SGD + """

history_sgd = train(sgd_init, sgd_update, {"lr": 0.1}, epochs=100, compiled=False)
history_adam = train(adam_init, adam_update,
                     {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}, epochs=100,
                     compiled=False)
fig, ax = plt.subplots()
ax.plot(history_sgd["loss"], label="SGD")
ax.plot(history_adam["loss"], label="Adam")
ax.set(title="training loss", xlabel="epoch", ylabel="loss")
ax.legend()
""",
    },
}
