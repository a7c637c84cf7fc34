"""Hidden checks of assignment 5, a subclassed Model and a CNN (solutions/subclass_cnn).

Expected values come from the reference solution run in one process with the same
probes (``compute_references``), with fixed weights, fixed data order and op
determinism. Part D (train and test) is judged on what its own code fixes, read from
``cnn_history`` and the model it trained: epochs, steps, and a test accuracy that is
the trained model's; so Parts B and C, or another model, do not change its verdict.
"""

import numpy as np

from autograder.checks import Check, Mistake
from autograder.checks.iris import HIDDEN_FLOWERS, IRIS_DATA
from autograder.checks.kit import number, numbers, short_repr
from autograder.checks.models import (
    PROBE_HELPERS, close_messages, compile_messages, judge_prologue, layer_messages,
)

_rng = np.random.default_rng(501)
HIDDEN_IMAGES = np.round(_rng.uniform(0.0, 1.0, (6, 8, 8, 1)), 3).tolist()

SPEC_CNN = '''keras.Sequential([
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ])'''

IRIS_MODEL_PROBE = PROBE_HELPERS + IRIS_DATA + f'''

def _probe_iris_model(flowers):
    try:
        model = IrisModel()
        x, y = _probe_iris()
        model(x[:1])  # build
        out = {{"model": isinstance(model, keras.Model),
               "sequential": isinstance(model, (keras.Sequential,)),
               "layers": _probe_layers(model), "params": int(model.count_params())}}
        _probe_fixed_weights(model, seed=502, scale=0.5)
        out["outputs"] = _probe_floats(model(np.array(flowers, dtype="float32"), training=False))
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                      loss=keras.losses.SparseCategoricalCrossentropy())
        out["losses"] = _probe_short_fit(model, x, y, seed=503, epochs=3)
        return out
    except Exception as error:
        return _probe_error(error)


_probe_iris_model({HIDDEN_FLOWERS!r})'''

BUILD_CNN_PROBE = PROBE_HELPERS + f'''

def _probe_build_cnn(images):
    try:
        model = build_cnn()
        out = {{"sequential": isinstance(model, keras.Sequential), "built": bool(model.built),
               "layers": _probe_layers(model)}}
        out["params"] = int(model.count_params()) if model.built else None
        _probe_fixed_weights(model, seed=504, scale=0.3)
        out["outputs"] = _probe_floats(model(np.array(images, dtype="float32"), training=False))
        return out
    except Exception as error:
        return _probe_error(error)


_probe_build_cnn({HIDDEN_IMAGES!r})'''

COMPILE_CNN_PROBE = PROBE_HELPERS + f'''

def _probe_compile_cnn():
    try:
        from sklearn import datasets
        x, y = datasets.load_digits(return_X_y=True)
        x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
        model = {SPEC_CNN}
        returned = compile_cnn(model)
        out = _probe_compile_config(model)
        out["returned_model"] = returned is model
        out["losses"] = _probe_short_fit(model, x, y, seed=505, epochs=2)
        return out
    except Exception as error:
        return _probe_error(error)


_probe_compile_cnn()'''

TRAIN_CNN_PROBE = PROBE_HELPERS + '''

def _probe_train_cnn():
    """What the fit and the evaluation fixed, read from cnn_history and the model it
    trained (whatever its name), so that Parts B and C do not change the verdict."""
    try:
        history = globals()["cnn_history"]
        model = history.model
        _, accuracy = model.evaluate(x_digits_test, y_digits_test, verbose=0)
        return {"epochs": len(history.history.get("loss", [])),
                "steps": int(model.optimizer.iterations.numpy()),
                "test_accuracy": float(globals()["test_accuracy"]),
                "model_test_accuracy": float(accuracy)}
    except Exception as error:
        return _probe_error(error)


_probe_train_cnn()'''

SPEC = {
    "iris_layers": [{
        "class": "Dense", "units": 3, "activation": "softmax", "use_bias": True,
        "kernel_regularizer": {"class": "L2", "config": {"l2": 0.01}},
    }],
    "cnn_layers": [
        {"class": "Conv2D", "filters": 8, "kernel_size": [3, 3], "strides": [1, 1],
         "padding": "same", "activation": "relu", "use_bias": True},
        {"class": "MaxPooling2D", "pool_size": [2, 2], "padding": "valid"},
        {"class": "Flatten"},
        {"class": "Dense", "units": 10, "activation": "softmax", "use_bias": True},
    ],
    "compile": {
        "optimizer": {"class": "Adam", "learning_rate": 0.01},
        "loss": {"class": "SparseCategoricalCrossentropy", "from_logits": False},
        "metrics": ["sparse_categorical_accuracy"],
    },
}


def compute_references(nb):
    """Run the reference solution and the probes on it, in this process."""
    from autograder.checks.notebook import run_probe, solution_namespace

    namespace = solution_namespace("subclass_cnn", nb)
    got = {gid: run_probe(CHECKS[gid].probe, namespace)
           for gid in ("iris_model", "build_cnn", "compile_cnn")}
    return {
        "iris_model": {"layers": SPEC["iris_layers"], "params": 15,
                       "outputs": got["iris_model"]["outputs"],
                       "losses": got["iris_model"]["losses"], "rtol": 1e-3},
        "build_cnn": {"layers": SPEC["cnn_layers"], "params": 1370,
                      "outputs": got["build_cnn"]["outputs"], "rtol": 1e-4},
        "compile_cnn": {"compile": SPEC["compile"], "losses": got["compile_cnn"]["losses"],
                        "rtol": 1e-3},
        "train_cnn": {"epochs": 5, "steps": 225},
    }


def judge_iris_model(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    if not got.get("model") or got.get("sequential"):
        messages.append("IrisModel should subclass keras.Model (not Sequential).")
    messages += layer_messages(got.get("layers"), ref["layers"])
    if got.get("params") != ref["params"]:
        messages.append(f"IrisModel should have {ref['params']} parameters, it has {short_repr(got.get('params'))}.")
    if not messages:
        messages += close_messages("With fixed weights, the outputs on hidden flowers",
                                   got.get("outputs"), ref["outputs"], 1e-4, 1e-6)
        messages += close_messages("A 3-epoch run with fixed weights: the loss per epoch",
                                   got.get("losses"), ref["losses"], ref["rtol"])
    return messages


def judge_build_cnn(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    if not got.get("sequential") or not got.get("built"):
        messages.append("build_cnn should return a Sequential model that starts with "
                        "keras.Input(shape=(8, 8, 1)).")
    messages += layer_messages(got.get("layers"), ref["layers"])
    if got.get("params") != ref["params"]:
        messages.append(f"The CNN should have {ref['params']} parameters, it has {short_repr(got.get('params'))}.")
    if not messages:
        messages += close_messages("With fixed weights, the outputs on hidden images",
                                   got.get("outputs"), ref["outputs"], ref["rtol"], 1e-6)
    return messages


def judge_compile_cnn(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    messages = compile_messages(got, ref["compile"])
    if not got.get("returned_model"):
        messages.append("compile_cnn should return the model it compiled.")
    if not messages:
        messages += close_messages("A 2-epoch run with fixed weights: the loss per epoch",
                                   got.get("losses"), ref["losses"], ref["rtol"])
    return messages


def judge_train_cnn(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    if got.get("epochs") != ref["epochs"]:
        return [f"cnn_history should hold {ref['epochs']} epochs, not "
                f"{short_repr(got.get('epochs'))}."]
    if got.get("steps") != ref["steps"]:
        messages.append(f"The optimizer took {short_repr(got.get('steps'))} steps; 5 epochs of "
                        f"1437 digits in batches of 32 take {ref['steps']}: fit once, with "
                        "batch_size=32.")
    have, want = number(got.get("test_accuracy")), number(got.get("model_test_accuracy"))
    if have is None or want is None or abs(have - want) > 1e-6:
        messages.append("test_accuracy should be what evaluate gives for the trained model "
                        "on the test digits (x_digits_test, y_digits_test).")
    return messages


CHECKS = {
    "iris_model": Check(IRIS_MODEL_PROBE, judge_iris_model),
    "build_cnn": Check(BUILD_CNN_PROBE, judge_build_cnn),
    "compile_cnn": Check(COMPILE_CNN_PROBE, judge_compile_cnn),
    "train_cnn": Check(TRAIN_CNN_PROBE, judge_train_cnn),
}

MISTAKES = [
    Mistake("iris_model", "iris_model_answer", "sigmoid output (the notes' IrisModel)",
            'activation="softmax"', 'activation="sigmoid"',
            "sigmoid instead of softmax."),
    Mistake("iris_model", "iris_model_answer", "no regularizer",
            ",\n                                        kernel_regularizer=keras.regularizers.l2()",
            "", "the L2 penalty is missing."),
    Mistake("build_cnn", "build_cnn_answer", "valid padding",
            'Conv2D(8, 3, padding="same", activation="relu")', 'Conv2D(8, 3, activation="relu")',
            "padding 'valid' shrinks the images to 6x6."),
    Mistake("build_cnn", "build_cnn_answer", "no pooling",
            "        keras.layers.MaxPooling2D(2),\n", "",
            "the pooling layer is missing."),
    Mistake("build_cnn", "build_cnn_answer", "no softmax",
            'keras.layers.Dense(10, activation="softmax")', "keras.layers.Dense(10)",
            "the last layer gives raw scores."),
    Mistake("compile_cnn", "compile_cnn_answer", "Adam's default learning rate",
            "Adam(learning_rate=0.01)", "Adam()", "Adam's default learning rate 0.001."),
    Mistake("compile_cnn", "compile_cnn_answer", "from_logits=True",
            "SparseCategoricalCrossentropy(from_logits=False)",
            "SparseCategoricalCrossentropy(from_logits=True)",
            "from_logits=True with softmax outputs."),
    Mistake("train_cnn", "train_cnn_answer", "batches of 64",
            "batch_size=32", "batch_size=64", "batches of 64."),
]
