"""Hidden checks of assignment 5, a subclassed Model and a CNN (solutions/subclass_cnn).

Expected values come from the reference solution run in one process with the same
probes (``compute_references``), with fixed weights, fixed data order and op
determinism. Parts C and D run the student's function on a CNN built here to the
specification (Part D compiles it too), so a wrong model costs Part B alone and a wrong
compile Part C alone. Part D (``train_cnn``) is judged on what its own code fixes, on
hidden digits: epochs, steps, and a returned accuracy that is the trained model's on
the test digits it was given.
"""

import numpy as np

from autograder.checks import Check, Mistake
from autograder.checks.in_kernel import subclass_cnn as probes
from autograder.checks.iris import HIDDEN_FLOWERS
from autograder.checks.kit import error_message, number, short_repr
from autograder.checks.models import (
    close_messages, compile_messages, judge_prologue, layer_messages,
)
from autograder.checks.probe import Probe

_rng = np.random.default_rng(501)
HIDDEN_IMAGES = np.round(_rng.uniform(0.0, 1.0, (6, 8, 8, 1)), 3).tolist()
# Part D's hidden digits, [start, stop) of scikit-learn's 1797: 70 to train on, in 3
# batches of 32 per epoch (the last one short: 6), and 97 to test on, a prime number, so
# that the training digits' accuracy (k / 70) equals the test digits' only at 0 or 1.
# Few training digits: the probe fits eagerly, and its cost grows with the steps.
TRAIN_DIGITS, TEST_DIGITS = [500, 570], [1500, 1597]
TRAIN_EPOCHS, BATCH_SIZE = 5, 32

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
    from autograder.checks.notebook import solution_namespace

    namespace = solution_namespace("subclass_cnn", nb)
    got = {gid: CHECKS[gid].probe.run_here(namespace)
           for gid in ("iris_model", "build_cnn", "compile_cnn")}
    return {
        "iris_model": {"layers": SPEC["iris_layers"], "params": 15,
                       "outputs": got["iris_model"]["outputs"],
                       "losses": got["iris_model"]["losses"], "rtol": 1e-3},
        "build_cnn": {"layers": SPEC["cnn_layers"], "params": 1370,
                      "outputs": got["build_cnn"]["outputs"], "rtol": 1e-4},
        "compile_cnn": {"compile": SPEC["compile"], "losses": got["compile_cnn"]["losses"],
                        "rtol": 1e-3},
        "train_cnn": {"epochs": TRAIN_EPOCHS, "digits": TRAIN_DIGITS[1] - TRAIN_DIGITS[0],
                      "steps": TRAIN_EPOCHS * -(-(TRAIN_DIGITS[1] - TRAIN_DIGITS[0])
                                                // BATCH_SIZE)},
    }


def judge_iris_model(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    if not got.get("model") or got.get("sequential"):
        messages.append("IrisModel should subclass keras.Model (not Sequential).")
    messages += layer_messages(got.get("layers"), ref["layers"])
    if got.get("params") != ref["params"]:
        messages.append(f"IrisModel should have {ref['params']} parameters, "
                        f"it has {short_repr(got.get('params'))}.")
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
        messages.append(f"The CNN should have {ref['params']} parameters, "
                        f"it has {short_repr(got.get('params'))}.")
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
        problem = error_message(got.get("fit")) if "fit" in got else None
        if problem:
            return [f"Compiled by your compile_cnn, the CNN could not train: {problem}"]
        messages += close_messages("A 2-epoch run with fixed weights: the loss per epoch",
                                   got.get("losses"), ref["losses"], ref["rtol"])
    return messages


def judge_train_cnn(got, ref):
    messages = judge_prologue(got)
    if messages:
        return messages
    if got.get("pair") is not True:
        return ["train_cnn should return two values: return history, test_accuracy."]
    if got.get("history") is not True:
        return ["train_cnn should return what model.fit returns (a History), then the "
                "test accuracy: return history, test_accuracy."]
    if got.get("same_model") is not True:
        messages.append("train_cnn should fit the model it is given.")
    if got.get("epochs") != ref["epochs"]:
        messages.append(f"train_cnn should fit for {ref['epochs']} epochs, not "
                        f"{short_repr(got.get('epochs'))}.")
    if got.get("steps") != ref["steps"]:
        messages.append(
            f"The model took {short_repr(got.get('steps'))} steps; {ref['epochs']} epochs of "
            f"{ref['digits']} digits in batches of 32 take {ref['steps']}: fit once, with "
            "batch_size=32, on the x_train and y_train that train_cnn is given.")
    have, want = number(got.get("test_accuracy")), number(got.get("model_test_accuracy"))
    if have is None or want is None or abs(have - want) > 1e-6:
        messages.append("The test accuracy train_cnn returns should be what evaluate gives "
                        "for the trained model on the x_test and y_test it is given: "
                        "one number, the second that evaluate returns.")
    return messages


CHECKS = {
    "iris_model": Check(Probe(probes.probe_iris_model, {"flowers": HIDDEN_FLOWERS}),
                        judge_iris_model),
    "build_cnn": Check(Probe(probes.probe_build_cnn, {"images": HIDDEN_IMAGES}),
                       judge_build_cnn),
    "compile_cnn": Check(Probe(probes.probe_compile_cnn), judge_compile_cnn),
    "train_cnn": Check(Probe(probes.probe_train_cnn,
                             {"train": TRAIN_DIGITS, "test": TEST_DIGITS}), judge_train_cnn),
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
    Mistake("build_cnn", "build_cnn_answer", "no Flatten",
            "        keras.layers.Flatten(),\n", "",
            "without Flatten, the Dense layer gives 10 numbers for each of the 4x4 "
            "positions."),
    Mistake("compile_cnn", "compile_cnn_answer", "one-hot loss for integer labels",
            "SparseCategoricalCrossentropy(from_logits=False)",
            "CategoricalCrossentropy(from_logits=False)",
            "CategoricalCrossentropy expects one-hot labels."),
    Mistake("train_cnn", "train_cnn_answer", "batches of 64",
            "batch_size=32", "batch_size=64", "batches of 64."),
    Mistake("train_cnn", "train_cnn_answer", "fit on the notebook's digits",
            "model.fit(x_train, y_train,", "model.fit(x_digits_train, y_digits_train,",
            "the digits of the notebook, not the x_train and y_train given."),
    Mistake("train_cnn", "train_cnn_answer", "evaluated on the training digits",
            "model.evaluate(x_test, y_test, verbose=0)",
            "model.evaluate(x_train, y_train, verbose=0)",
            "the accuracy on the training digits, not the test digits."),
    Mistake("train_cnn", "train_cnn_answer", "the test loss returned",
            "_, test_accuracy = model.evaluate(", "test_accuracy, _ = model.evaluate(",
            "the loss that evaluate returns first, not the accuracy."),
]
