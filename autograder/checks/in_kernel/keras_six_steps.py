"""Probes of the keras_six_steps parts (``autograder/checks/keras_six_steps.py`` judges
what they return). Each part runs on a model built here to the specification, with
fixed weights and seeds, where it can: Parts A and B, or another model of the
student's, do not change what a later part gives."""

import numpy as np

from autograder.checks.in_kernel.keras_models import (
    as_json, borrowed_or, compile_settings, error_of, float_list, give_back, iris_data,
    layers_of, set_fixed_weights, short_fit_losses, specified_iris_model,
)
from autograder.checks.in_kernel.names import student


def probe_build_model(namespace, flowers):
    """build_model's model: its layers, its size, its outputs on hidden flowers with
    fixed weights."""
    import keras

    try:
        model = student(namespace, "build_model")()
        out = {"sequential": isinstance(model, keras.Sequential),
               "built": bool(model.built), "layers": layers_of(model)}
        out["params"] = int(model.count_params()) if model.built else None
        set_fixed_weights(model, seed=402, scale=0.5)
        out["outputs"] = float_list(model(np.array(flowers, dtype="float32"),
                                          training=False))
        return out
    except Exception as error:
        return error_of(error)


def probe_compile_model(namespace):
    """compile_model on the specified model: its settings, read first (a wrong loss is
    named even when it cannot train), then a 3-epoch run."""
    try:
        model = specified_iris_model()
        returned = student(namespace, "compile_model")(model)
        out = compile_settings(model)
        out["returned_model"] = returned is model
    except Exception as error:
        return error_of(error)
    try:
        x, y = iris_data()
        out["losses"] = short_fit_losses(model, x, y, seed=403, epochs=3)
    except Exception as error:
        out["fit"] = error_of(error)
    return out


def probe_fit_history(namespace):
    """fit_model on a model built and compiled here to the specification, with fixed
    weights and seeds: Parts A and B, or another model of the student's, do not change
    what it gives. When the notebook's own ``model`` is exactly that model, already fit,
    it is lent instead (same numbers, no second trace) and given back as it was."""
    import keras

    try:
        specified = specified_iris_model()
        specified.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),
                          metrics=["sparse_categorical_accuracy"])
        # compiled, as fit is by default: over 160 steps one trace costs less than
        # stepping eagerly (the probe's profile in benchmarks/grading_cost.py)
        model, lent = borrowed_or(namespace.get("model"), specified)
        try:
            keras.utils.set_random_seed(406)
            set_fixed_weights(model, seed=406, scale=0.1)
            x, y = iris_data()
            history = student(namespace, "fit_model")(model, x, y)
            h = history.history
            return {"keys": sorted(str(k) for k in h),
                    "loss": float_list(h.get("loss", [])),
                    "val_loss": float_list(h.get("val_loss", [])),
                    "steps": int(model.optimizer.iterations.numpy())}
        finally:
            if lent is not None:
                give_back(model, lent)
    except Exception as error:
        return error_of(error)


def probe_choose_loss(namespace):
    """choose_loss for every kind of labels and outputs: the loss and its from_logits."""
    out = []
    for labels in ("integer", "one-hot", "binary"):
        for outputs in ("probabilities", "logits"):
            try:
                loss = student(namespace, "choose_loss")(labels, outputs)
                config = loss.get_config() if hasattr(loss, "get_config") else {}
                out.append({"labels": labels, "outputs": outputs,
                            "class": type(loss).__name__,
                            "from_logits": as_json(config.get("from_logits"))})
            except Exception as error:
                out.append({"labels": labels, "outputs": outputs, **error_of(error)})
    return out


def probe_plot_fix(namespace, epochs, freq):
    """plot_history on a made-up History with the specified keys: the plot is judged
    on its own, whatever the student's own fit gave."""
    import keras

    try:
        import matplotlib.pyplot as plt

        rng = np.random.default_rng(405)
        history = keras.callbacks.History()
        history.history = {
            "loss": list(np.round(1.2 * 0.97 ** np.arange(epochs), 4)),
            "sparse_categorical_accuracy": list(np.round(rng.uniform(0.3, 0.9, epochs), 4)),
            "val_loss": list(np.round(rng.uniform(0.4, 1.0, epochs // freq), 4)),
            "val_sparse_categorical_accuracy":
                list(np.round(rng.uniform(0.3, 0.9, epochs // freq), 4)),
        }
        fig = student(namespace, "plot_history")(history)
        out = {"history": {k: float_list(v) for k, v in history.history.items()},
               "axes": []}
        for ax in fig.get_axes():
            out["axes"].append({
                "title": ax.get_title(), "xlabel": ax.get_xlabel(),
                "legend": ax.get_legend() is not None,
                "lines": [{"x": float_list(line.get_xdata()),
                           "y": float_list(line.get_ydata())} for line in ax.get_lines()],
            })
        plt.close(fig)
        return out
    except Exception as error:
        return error_of(error)


def probe_predict_classes(namespace, flowers):
    """predict_classes on a model whose centred scores make every class win somewhere."""
    import keras

    try:
        model = keras.Sequential([keras.Input(shape=(4,)),
                                  keras.layers.Dense(3, activation="softmax")])
        x = np.array(flowers, dtype="float32")
        w = np.random.default_rng(404).normal(0.0, 1.0, (4, 3)).astype("float32")
        model.set_weights([w, -(x.mean(axis=0) @ w)])  # centred scores: every class wins
        predicted = np.asarray(student(namespace, "predict_classes")(model, x))
        return {"shape": list(predicted.shape),
                "integer": bool(np.issubdtype(predicted.dtype, np.integer)),
                "classes": float_list(predicted) if predicted.size < 1000 else None}
    except Exception as error:
        return error_of(error)
