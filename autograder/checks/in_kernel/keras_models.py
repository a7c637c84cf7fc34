"""What the Keras probes share: a model's layers and compile settings as plain data,
fixed weights, a short reproducible fit, the notes' iris data, the models the
specification fixes (built here, so that a part is judged without the others), and the
student's own model lent to a probe when it is exactly the specified one."""

import json

import numpy as np


def as_json(x):
    """x as plain JSON data (anything unusual as a string)."""
    return json.loads(json.dumps(x, default=str))


def float_list(x):
    """A flat list of floats (nan/inf as None)."""
    values = np.asarray(x, dtype=np.float64).ravel()
    return [float(v) if np.isfinite(v) else None for v in values]


def error_of(error):
    """A probe's error, as the judges read it: its type, then its message."""
    return {"error": (type(error).__name__ + ": " + str(error))[:500]}


def layers_of(model):
    """Type and the specified settings of every layer."""
    layers = []
    for layer in model.layers:
        config = layer.get_config()
        regularizer = config.get("kernel_regularizer")
        layers.append(as_json({
            "class": type(layer).__name__,
            "units": config.get("units"),
            "filters": config.get("filters"),
            "kernel_size": config.get("kernel_size"),
            "strides": config.get("strides"),
            "padding": config.get("padding"),
            "pool_size": config.get("pool_size"),
            "activation": config.get("activation"),
            "use_bias": config.get("use_bias"),
            "kernel_regularizer": None if not regularizer else {
                "class": regularizer.get("class_name"),
                "config": regularizer.get("config"),
            },
        }))
    return layers


def set_fixed_weights(model, seed, scale):
    """Replace the model's weights by seeded random ones (same shapes)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(w.dtype)
                       for w in model.get_weights()])


def short_fit_losses(model, x, y, seed, epochs):
    """Losses of a short, reproducible fit of the first 64 examples: seeded, with
    deterministic ops, fixed weights and batches in order."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model.run_eagerly = True  # a few small batches: tracing would cost more
    set_fixed_weights(model, seed=seed, scale=0.1)
    history = model.fit(x[:64], y[:64], batch_size=32, epochs=epochs, shuffle=False,
                        verbose=0)
    return float_list(history.history["loss"])


def compile_settings(model):
    """The optimizer, learning rate, momentum, loss and metrics ``compile`` was given."""
    config = model.get_compile_config() or {}
    optimizer, loss = config.get("optimizer"), config.get("loss")
    out = {"metrics": as_json(config.get("metrics"))}
    if isinstance(optimizer, dict):
        settings = optimizer.get("config", {})
        out["optimizer"] = {"class": optimizer.get("class_name"),
                            "learning_rate": settings.get("learning_rate"),
                            "momentum": settings.get("momentum", 0.0)}
    else:
        out["optimizer"] = {"class": str(optimizer)}
    if isinstance(loss, dict):
        out["loss"] = {"class": loss.get("class_name"),
                       "from_logits": loss.get("config", {}).get("from_logits")}
    else:
        out["loss"] = {"class": str(loss), "from_logits": None}
    return as_json(out)


def iris_data():
    """The notes' iris data, prepared here so that a probe does not trust the
    notebook's."""
    from sklearn import datasets

    x, y = datasets.load_iris(return_X_y=True)
    np.random.seed(116)
    np.random.shuffle(x)
    np.random.seed(116)
    np.random.shuffle(y)
    return x.astype("float32"), y


def specified_iris_model():
    """The iris model the specification asks for (Parts A of both Keras notebooks)."""
    import keras

    return keras.Sequential([
        keras.Input(shape=(4,)),
        keras.layers.Dense(3, activation="softmax",
                           kernel_regularizer=keras.regularizers.l2()),
    ])


def specified_cnn():
    """The digits CNN the specification asks for."""
    import keras

    return keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])


def traced_twin(candidate, specified):
    """``candidate`` (the student's own model) when it is, setting for setting, the
    model ``specified`` (built and compiled by the probe) and fit has already traced its
    functions; else None.

    A probe that refits such a twin, from the same fixed weights and a fresh optimizer
    state, gets the same numbers as on its own model without paying a second trace
    (about 0.5 CPU-s per refit; tests/assignments/test_assignments.py checks that the
    numbers are the same). Anything that differs (another class, layer, initializer,
    optimizer setting, loss, metric, or compile option) makes the probe use its own.
    """
    try:
        if type(candidate) is not type(specified) or candidate.train_function is None:
            return None
        same = (unnamed(candidate.get_config()) == unnamed(specified.get_config())
                and unnamed_compile(candidate.get_compile_config())
                == unnamed_compile(specified.get_compile_config()))
        return candidate if same else None
    except Exception:
        return None


def unnamed(config):
    """A model's config without the model's and the layers' names."""
    config = as_json(config)
    config.pop("name", None)
    for layer in config.get("layers") or []:
        if isinstance(layer, dict) and isinstance(layer.get("config"), dict):
            layer["config"].pop("name", None)
    return config


def unnamed_compile(config):
    """A compile config without the optimizer's and the loss's names."""
    config = as_json(config or {})
    for key in ("optimizer", "loss"):
        if isinstance(config.get(key), dict) and isinstance(config[key].get("config"), dict):
            config[key]["config"].pop("name", None)
    return config


def lend(model):
    """What a probe changes in a lent model, to give back with ``give_back``: its
    weights, its optimizer's and its metrics' variables, its last History. Then the
    optimizer state is made fresh: every variable zero but the learning rate."""
    state = {"weights": model.get_weights(),
             "optimizer": [v.numpy() for v in model.optimizer.variables],
             "metrics": [v.numpy() for v in model.metrics_variables],
             "history": getattr(model, "history", None)}
    for variable in model.optimizer.variables:
        if not variable.path.endswith("learning_rate"):
            variable.assign(np.zeros(variable.shape, variable.dtype))
    return state


def give_back(model, state):
    """Restore what ``lend`` saved: the student's later cells see their own model.
    Never raises: the probe's result stands whatever happens here."""
    try:
        model.set_weights(state["weights"])
        for variable, value in zip(model.optimizer.variables, state["optimizer"]):
            variable.assign(value)
        for variable, value in zip(model.metrics_variables, state["metrics"]):
            variable.assign(value)
        model.history = state["history"]
    except Exception:
        pass


def borrowed_or(candidate, specified):
    """(model, lent state): the student's ``candidate`` lent when it is the specified
    model's traced twin (``traced_twin``, ``lend``), else ``specified`` and None."""
    twin = traced_twin(candidate, specified)
    if twin is not None:
        try:
            return twin, lend(twin)
        except Exception:
            pass
    return specified, None
