"""What the Keras probes share: a model's layers and compile settings as plain data,
fixed weights, a short reproducible fit, the notes' iris data, and the models the
specification fixes (built here, so that a part is judged without the others)."""

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
