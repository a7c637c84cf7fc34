"""Hidden checks of assignment 4, Keras in six steps (solutions/keras_six_steps).

The expected values come from the reference solution, run in one process with the
same probes (``compute_references``): its layers, its outputs with fixed weights, its
3-epoch run with fixed weights and data order. Each part is judged on its own: the fit
part reads what the fit call fixed from the History (epochs, validation, steps), not
losses that depend on the model and compile of Parts A and B; the plot part calls the
student's ``plot_history`` on a made-up History.
"""

import numpy as np

from autograder.checks import Check, Mistake
from autograder.checks.iris import HIDDEN_FLOWERS, IRIS_DATA
from autograder.checks.kit import numbers, same_curve, short_repr
from autograder.checks.models import (
    PROBE_HELPERS, close_messages, compile_messages, judge_prologue, layer_messages,
)

SPEC_MODEL = '''keras.Sequential([
            keras.Input(shape=(4,)),
            keras.layers.Dense(3, activation="softmax",
                                  kernel_regularizer=keras.regularizers.l2()),
        ])'''

BUILD_PROBE = PROBE_HELPERS + f'''

def _probe_build(flowers):
    try:
        model = build_model()
        out = {{"sequential": isinstance(model, keras.Sequential),
               "built": bool(model.built), "layers": _probe_layers(model)}}
        out["params"] = int(model.count_params()) if model.built else None
        _probe_fixed_weights(model, seed=402, scale=0.5)
        out["outputs"] = _probe_floats(model(np.array(flowers, dtype="float32"), training=False))
        return out
    except Exception as error:
        return _probe_error(error)


_probe_build({HIDDEN_FLOWERS!r})'''

COMPILE_PROBE = PROBE_HELPERS + IRIS_DATA + f'''

def _probe_compile():
    try:
        model = {SPEC_MODEL}
        returned = compile_model(model)
        out = _probe_compile_config(model)
        out["returned_model"] = returned is model
        x, y = _probe_iris()
        out["losses"] = _probe_short_fit(model, x, y, seed=403, epochs=3)
        return out
    except Exception as error:
        return _probe_error(error)


_probe_compile()'''

FIT_PROBE = PROBE_HELPERS + IRIS_DATA + f'''

def _probe_fit():
    """fit_model on a model built and compiled here to the specification, with fixed
    weights and seeds: Parts A and B, or another model of the student's, do not change
    what it gives."""
    try:
        model = {SPEC_MODEL}
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),
                      metrics=["sparse_categorical_accuracy"])
        model.run_eagerly = True  # a few small batches: tracing would cost more
        keras.utils.set_random_seed(406)
        _probe_fixed_weights(model, seed=406, scale=0.1)
        x, y = _probe_iris()
        history = fit_model(model, x, y)
        h = history.history
        return {{"keys": sorted(str(k) for k in h),
                "loss": _probe_floats(h.get("loss", [])),
                "val_loss": _probe_floats(h.get("val_loss", [])),
                "steps": int(model.optimizer.iterations.numpy())}}
    except Exception as error:
        return _probe_error(error)


_probe_fit()'''

CHOOSE_LOSS_PROBE = PROBE_HELPERS + '''

def _probe_choose_loss():
    out = []
    for labels in ("integer", "one-hot", "binary"):
        for outputs in ("probabilities", "logits"):
            try:
                loss = choose_loss(labels, outputs)
                config = loss.get_config() if hasattr(loss, "get_config") else {}
                out.append({"labels": labels, "outputs": outputs,
                            "class": type(loss).__name__,
                            "from_logits": _probe_json(config.get("from_logits"))})
            except Exception as error:
                out.append({"labels": labels, "outputs": outputs, **_probe_error(error)})
    return out


_probe_choose_loss()'''

PLOT_PROBE = PROBE_HELPERS + '''

def _probe_plot(epochs, freq):
    """plot_history on a made-up History with the specified keys: the plot is judged
    on its own, whatever the student's own fit gave."""
    try:
        import matplotlib.pyplot as plt
        rng = np.random.default_rng(405)
        history = keras.callbacks.History()
        history.history = {
            "loss": list(np.round(1.2 * 0.97 ** np.arange(epochs), 4)),
            "sparse_categorical_accuracy": list(np.round(rng.uniform(0.3, 0.9, epochs), 4)),
            "val_loss": list(np.round(rng.uniform(0.4, 1.0, epochs // freq), 4)),
            "val_sparse_categorical_accuracy": list(np.round(rng.uniform(0.3, 0.9, epochs // freq), 4)),
        }
        fig = plot_history(history)
        out = {"history": {k: _probe_floats(v) for k, v in history.history.items()}, "axes": []}
        for ax in fig.get_axes():
            out["axes"].append({
                "title": ax.get_title(), "xlabel": ax.get_xlabel(),
                "legend": ax.get_legend() is not None,
                "lines": [{"x": _probe_floats(line.get_xdata()),
                           "y": _probe_floats(line.get_ydata())} for line in ax.get_lines()],
            })
        plt.close(fig)
        return out
    except Exception as error:
        return _probe_error(error)


_probe_plot(40, 10)'''

PREDICT_PROBE = PROBE_HELPERS + f'''

def _probe_predict(flowers):
    try:
        model = keras.Sequential([keras.Input(shape=(4,)),
                                     keras.layers.Dense(3, activation="softmax")])
        x = np.array(flowers, dtype="float32")
        w = np.random.default_rng(404).normal(0.0, 1.0, (4, 3)).astype("float32")
        model.set_weights([w, -(x.mean(axis=0) @ w)])  # centred scores: every class wins
        predicted = np.asarray(predict_classes(model, x))
        return {{"shape": list(predicted.shape), "integer": bool(np.issubdtype(predicted.dtype, np.integer)),
                "classes": _probe_floats(predicted) if predicted.size < 1000 else None}}
    except Exception as error:
        return _probe_error(error)


_probe_predict({HIDDEN_FLOWERS!r})'''

SPEC = {
    "layers": [{
        "class": "Dense", "units": 3, "activation": "softmax", "use_bias": True,
        "kernel_regularizer": {"class": "L2", "config": {"l2": 0.01}},
    }],
    "params": 15,
    "compile": {
        "optimizer": {"class": "SGD", "learning_rate": 0.1, "momentum": 0.0},
        "loss": {"class": "SparseCategoricalCrossentropy", "from_logits": False},
        "metrics": ["sparse_categorical_accuracy"],
    },
}

STATIC = {
    "plot_fix": {
        "train_keys": ["sparse_categorical_accuracy", "loss"],
        "val_keys": ["val_sparse_categorical_accuracy", "val_loss"],
        "validation_freq": 10,
    },
}


def compute_references(nb):
    """Run the reference solution and the probes on it, in this process."""
    from autograder.checks.notebook import run_probe, solution_namespace

    namespace = solution_namespace("keras_six_steps", nb)
    got = {gid: run_probe(CHECKS[gid].probe, namespace) for gid in
           ("build_model", "compile_model", "fit_history", "choose_loss", "predict_classes")}
    classes = got["predict_classes"]["classes"]
    assert len(set(classes)) == 3, f"hidden flowers should fall in all three classes: {classes}"
    return {
        "build_model": {**SPEC, "outputs": got["build_model"]["outputs"], "rtol": 1e-4},
        "compile_model": {**SPEC, "losses": got["compile_model"]["losses"], "rtol": 1e-3},
        # a whole seeded fit: other machines may round differently, hence atol
        "fit_history": {"keys": got["fit_history"]["keys"], "epochs": 40, "val_points": 4,
                        "steps": 160, "loss": got["fit_history"]["loss"],
                        "val_loss": got["fit_history"]["val_loss"], "rtol": 1e-3},
        "choose_loss": {"table": got["choose_loss"]},
        "predict_classes": {"classes": got["predict_classes"]["classes"]},
    }


def judge_build(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    if not got.get("sequential"):
        messages.append("build_model should return a keras.Sequential model.")
    if not got.get("built"):
        messages.append("Start the model with keras.Input(shape=(4,)) so that it is built.")
    messages += layer_messages(got.get("layers"), ref["layers"])
    if got.get("params") != ref["params"]:
        messages.append(f"The model should have {ref['params']} parameters, it has {short_repr(got.get('params'))}.")
    if not messages:
        messages += close_messages(
            "With fixed weights, your model's outputs on hidden flowers", got.get("outputs"),
            ref["outputs"], ref["rtol"], 1e-6)
    return messages


def judge_compile(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    messages = compile_messages(got, ref["compile"])
    if not got.get("returned_model"):
        messages.append("compile_model should return the model it compiled.")
    if not messages:
        messages += close_messages(
            "A 3-epoch run with fixed weights: the loss per epoch", got.get("losses"),
            ref["losses"], ref["rtol"])
    return messages


def judge_fit(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    if got.get("keys") != ref["keys"]:
        return [f"history.history should have the keys {ref['keys']}, it has "
                f"{short_repr(got.get('keys'))}: pass validation_split=0.2."]
    loss, val_loss = numbers(got.get("loss")), numbers(got.get("val_loss"))
    if loss is None or len(loss) != ref["epochs"]:
        messages.append(f"fit should run {ref['epochs']} epochs.")
    if val_loss is None or len(val_loss) != ref["val_points"]:
        messages.append("Validate every 10 epochs (validation_freq=10).")
    if got.get("steps") != ref["steps"]:
        messages.append(
            f"The model took {short_repr(got.get('steps'))} steps; 40 epochs of 120 training "
            f"flowers (validation_split=0.2 of 150) in batches of 32 take {ref['steps']}: "
            "check batch_size and validation_split.")
    if not messages:  # a model built to the specification, fixed weights and seeds
        messages += close_messages("With fixed weights, the training loss per epoch", loss,
                                   ref["loss"], ref["rtol"])
        messages += close_messages("With fixed weights, the validation loss", val_loss,
                                   ref["val_loss"], ref["rtol"])
    return messages


def judge_choose_loss(got, ref):
    if not isinstance(got, list) or len(got) != len(ref["table"]):
        return [f"The check could not read your losses ({short_repr(got)})."]
    messages = []
    for have, want in zip(got, ref["table"]):
        case = f"{want['labels']} labels with {want['outputs']} outputs"
        if not isinstance(have, dict):
            messages.append(f"{case}: the check got {short_repr(have)}.")
        elif have.get("error"):
            messages.append(f"{case}: choose_loss raised {short_repr(have['error'], 200)}.")
        elif have.get("class") != want["class"]:
            messages.append(f"{case}: the loss should be {want['class']}, not {short_repr(have.get('class'))}.")
        elif have.get("from_logits") is not want["from_logits"]:
            messages.append(f"{case}: from_logits should be {want['from_logits']}.")
    return messages


def judge_plot(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    axes, history = got.get("axes"), got.get("history")
    if not isinstance(axes, list) or len(axes) != 2:
        return ["fig should keep the two subplots (accuracy, then loss)."]
    if not isinstance(history, dict):
        return ["The check could not read history.history."]
    freq = ref["validation_freq"]
    for ax, train_key, val_key in zip(axes, ref["train_keys"], ref["val_keys"]):
        train, val = numbers(history.get(train_key)), numbers(history.get(val_key))
        lines = ax.get("lines") if isinstance(ax, dict) else None
        if train is None or val is None or not isinstance(lines, list):
            messages.append(f"The check could not read {train_key} and {val_key}.")
            continue

        def find(values):
            for line in lines:
                y = numbers(line.get("y")) if isinstance(line, dict) else None
                if y is not None and same_curve(y, values, 1e-6):
                    return line
            return None

        train_line, val_line = find(train), find(val)
        if train_line is None:
            messages.append(f"No line shows history.history[{train_key!r}] in its subplot.")
        if val_line is None:
            messages.append(f"No line shows history.history[{val_key!r}] in its subplot.")
        if train_line is None or val_line is None:
            continue
        train_x, val_x = numbers(train_line.get("x")), numbers(val_line.get("x"))
        if not train_x or val_x != train_x[freq - 1::freq]:
            messages.append(
                f"The validation points of {val_key!r} should sit at the epochs where "
                f"validation ran: the training curve's x at every {freq}th epoch.")
        if not ax.get("title") or not ax.get("legend") or not ax.get("xlabel"):
            messages.append("Keep each subplot's title and legend, and label its x axis.")
    return sorted(set(messages), key=messages.index)


def judge_predict(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    want = ref["classes"]
    if got.get("shape") != [len(want)]:
        return [f"predict_classes should return one class per row: shape ({len(want)},), "
                f"not {short_repr(got.get('shape'))}. Take the argmax over axis 1."]
    if not got.get("integer"):
        messages.append("predict_classes should return integers (np.argmax gives them).")
    if numbers(got.get("classes")) != want:
        messages.append("Some predicted classes are wrong on hidden flowers: the class is "
                        "the index of the largest output of each row.")
    return messages


CHECKS = {
    "build_model": Check(BUILD_PROBE, judge_build),
    "compile_model": Check(COMPILE_PROBE, judge_compile),
    "fit_history": Check(FIT_PROBE, judge_fit),
    "choose_loss": Check(CHOOSE_LOSS_PROBE, judge_choose_loss),
    "plot_fix": Check(PLOT_PROBE, judge_plot),
    "predict_classes": Check(PREDICT_PROBE, judge_predict),
}

MISTAKES = [
    Mistake("build_model", "build_model_answer", "sigmoid output (the notes' IrisModel)",
            'activation="softmax"', 'activation="sigmoid"',
            "sigmoid instead of softmax: the outputs do not sum to 1."),
    Mistake("build_model", "build_model_answer", "no regularizer",
            ",\n                              kernel_regularizer=keras.regularizers.l2()", "",
            "the L2 penalty on the kernel is missing."),
    Mistake("compile_model", "compile_model_answer", "learning rate 0.01",
            "SGD(learning_rate=0.1)", "SGD(learning_rate=0.01)",
            "the learning rate is 0.01, not 0.1."),
    Mistake("compile_model", "compile_model_answer", "from_logits=True",
            "SparseCategoricalCrossentropy(from_logits=False)",
            "SparseCategoricalCrossentropy(from_logits=True)",
            "from_logits=True with softmax outputs."),
    Mistake("compile_model", "compile_model_answer", "one-hot loss for integer labels",
            "SparseCategoricalCrossentropy(from_logits=False)",
            "CategoricalCrossentropy(from_logits=False)",
            "CategoricalCrossentropy expects one-hot labels."),
    Mistake("compile_model", "compile_model_answer", "metrics accuracy",
            'metrics=["sparse_categorical_accuracy"]', 'metrics=["accuracy"]',
            "the metric is 'accuracy', not 'sparse_categorical_accuracy'."),
    Mistake("fit_history", "fit_answer", "no validation",
            "validation_split=0.2,\n                     validation_freq=10, verbose=0",
            "verbose=0",
            "no validation_split: nothing is validated."),
    Mistake("fit_history", "fit_answer", "batches of 16",
            "batch_size=32", "batch_size=16", "batches of 16."),
    Mistake("choose_loss", "choose_loss_answer", "from_logits inverted",
            'from_logits = outputs == "logits"', 'from_logits = outputs == "probabilities"',
            "from_logits must be True exactly for raw scores."),
    Mistake("choose_loss", "choose_loss_answer", "sparse and categorical swapped",
            'if labels == "integer":\n        return keras.losses.SparseCategoricalCrossentropy',
            'if labels == "integer":\n        return keras.losses.CategoricalCrossentropy',
            "integer labels take the sparse loss, one-hot labels the categorical one."),
    Mistake("plot_fix", "plot_fix_answer", "validation at epochs 0-3",
            'plt.plot(val_epochs, val_acc, "o-", label="Validation Accuracy")',
            'plt.plot(val_acc, "o-", label="Validation Accuracy")',
            "the validation points sit at x = 0, 1, 2, 3."),
    Mistake("predict_classes", "predict_answer", "argmax over the wrong axis",
            "np.argmax(probabilities, axis=1)", "np.argmax(probabilities, axis=0)",
            "argmax over axis 0 picks a flower per class, not a class per flower."),
    Mistake("predict_classes", "predict_answer", "one class for every flower",
            "return np.argmax(probabilities, axis=1)", "return np.zeros(len(x), dtype=int)",
            "the same class for every flower."),
    Mistake("predict_classes", "predict_answer", "probabilities returned",
            "return np.argmax(probabilities, axis=1)", "return probabilities.numpy()",
            "the probabilities, not the classes."),
]
