"""Probes of the subclass_cnn parts (``autograder/checks/subclass_cnn.py`` judges what
they return)."""

import numpy as np

from autograder.checks.in_kernel.keras_models import (
    borrowed_or, compile_settings, error_of, float_list, give_back, iris_data, layers_of,
    set_fixed_weights, short_fit_losses, specified_cnn,
)
from autograder.checks.in_kernel.names import student


def probe_iris_model(namespace, flowers):
    """IrisModel: a subclassed Model, its layers, its outputs on hidden flowers with
    fixed weights, and a 3-epoch run."""
    import keras

    try:
        model = student(namespace, "IrisModel")()
        x, y = iris_data()
        model(x[:1])  # build
        out = {"model": isinstance(model, keras.Model),
               "sequential": isinstance(model, (keras.Sequential,)),
               "layers": layers_of(model), "params": int(model.count_params())}
        set_fixed_weights(model, seed=502, scale=0.5)
        out["outputs"] = float_list(model(np.array(flowers, dtype="float32"),
                                          training=False))
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                      loss=keras.losses.SparseCategoricalCrossentropy())
        out["losses"] = short_fit_losses(model, x, y, seed=503, epochs=3)
        return out
    except Exception as error:
        return error_of(error)


def probe_build_cnn(namespace, images):
    """build_cnn's model: its layers, its size, its outputs on hidden images with
    fixed weights."""
    import keras

    try:
        model = student(namespace, "build_cnn")()
        out = {"sequential": isinstance(model, keras.Sequential),
               "built": bool(model.built), "layers": layers_of(model)}
        out["params"] = int(model.count_params()) if model.built else None
        set_fixed_weights(model, seed=504, scale=0.3)
        out["outputs"] = float_list(model(np.array(images, dtype="float32"),
                                          training=False))
        return out
    except Exception as error:
        return error_of(error)


def digits():
    """scikit-learn's digits as the notebook prepares them (8x8x1, scaled to 0..1),
    prepared here so that a probe does not trust the notebook's."""
    from sklearn import datasets

    x, y = datasets.load_digits(return_X_y=True)
    return (x / 16.0).astype("float32").reshape(-1, 8, 8, 1), y


def probe_compile_cnn(namespace):
    """compile_cnn on the specified CNN: its settings, read first (a wrong loss is
    named even when it cannot train), then a 2-epoch run on digits."""
    try:
        model = specified_cnn()
        returned = student(namespace, "compile_cnn")(model)
        out = compile_settings(model)
        out["returned_model"] = returned is model
    except Exception as error:
        return error_of(error)
    try:
        x, y = digits()
        out["losses"] = short_fit_losses(model, x, y, seed=505, epochs=2)
    except Exception as error:
        out["fit"] = error_of(error)
    return out


def probe_train_cnn(namespace, train, test):
    """train_cnn on the specified CNN, compiled here to the specification with fixed
    weights, on hidden digits (``train`` and ``test``: [start, stop] of each slice):
    what its fit fixed (epochs, steps) and the accuracy it returned beside the trained
    model's own. Parts B and C, or the student's own model, do not change it. When the
    notebook's own ``cnn`` is exactly that model, already fit, it is lent instead (its
    compiled functions are traced already) and given back as it was."""
    import keras

    try:
        x, y = digits()
        specified = specified_cnn()
        specified.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),
                          metrics=["sparse_categorical_accuracy"])
        model, lent = borrowed_or(namespace.get("cnn"), specified)
        if lent is None:
            model.run_eagerly = True  # a few small batches: tracing would cost more
        try:
            keras.utils.set_random_seed(506)
            set_fixed_weights(model, seed=506, scale=0.3)
            x_test, y_test = x[test[0]:test[1]], y[test[0]:test[1]]
            returned = student(namespace, "train_cnn")(
                model, x[train[0]:train[1]], y[train[0]:train[1]], x_test, y_test)
            if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
                return {"pair": False}
            history, accuracy = returned
            _, model_accuracy = model.evaluate(x_test, y_test, verbose=0)
            fitted = isinstance(history, keras.callbacks.History)
            return {"pair": True, "history": fitted,
                    "same_model": fitted and history.model is model,
                    "epochs": len(history.history.get("loss", [])) if fitted else None,
                    "steps": int(model.optimizer.iterations.numpy()),
                    "test_accuracy": number_or_none(accuracy),
                    "model_test_accuracy": float(model_accuracy)}
        finally:
            if lent is not None:
                give_back(model, lent)
    except Exception as error:
        return error_of(error)


def number_or_none(x):
    """x as a float, or None when it is not one number (a list, a dict, ...)."""
    try:
        return float(x)
    except Exception:
        return None
