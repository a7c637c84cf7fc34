"""Hidden checks of assignment 4, Keras in six steps (solutions/keras_six_steps).

The expected values come from the reference solution, run in one process with the
same probes (``compute_references``): its layers, its outputs with fixed weights, its
3-epoch run with fixed weights and data order. Each part is judged on its own: the fit
part reads what the fit call fixed from the History (epochs, validation, steps), not
losses that depend on the model and compile of Parts A and B; the plot part calls the
student's ``plot_history`` on a made-up History.
"""


from autograder.checks import Check, Mistake
from autograder.checks.in_kernel import keras_six_steps as probes
from autograder.checks.iris import HIDDEN_FLOWERS
from autograder.checks.kit import error_message, numbers, same_curve, short_repr
from autograder.checks.models import (
    close_messages, compile_messages, judge_prologue, layer_messages,
)
from autograder.checks.probe import Probe

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
    from autograder.checks.notebook import solution_namespace

    namespace = solution_namespace("keras_six_steps", nb)
    got = {gid: CHECKS[gid].probe.run_here(namespace) for gid in
           ("build_model", "compile_model", "fit_history", "choose_loss", "predict_classes")}
    classes = got["predict_classes"]["classes"]
    assert len(set(classes)) == 3, f"hidden flowers should fall in all three classes: {classes}"
    return {
        "build_model": {**SPEC, "outputs": got["build_model"]["outputs"], "rtol": 1e-4},
        "compile_model": {**SPEC, "losses": got["compile_model"]["losses"], "rtol": 1e-3},
        # a whole seeded fit: other machines may round differently, hence atol
        "fit_history": {"keys": got["fit_history"]["keys"], "epochs": 20, "val_points": 2,
                        "steps": 80, "loss": got["fit_history"]["loss"],
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
        messages.append(f"The model should have {ref['params']} parameters, "
                        f"it has {short_repr(got.get('params'))}.")
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
        problem = error_message(got.get("fit")) if "fit" in got else None
        if problem:
            return [f"Compiled by your compile_model, the model could not train: {problem}"]
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
            f"The model took {short_repr(got.get('steps'))} steps; 20 epochs of 120 training "
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
            messages.append(f"{case}: the loss should be {want['class']}, "
                            f"not {short_repr(have.get('class'))}.")
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

        def find(values, lines=lines):
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
    "build_model": Check(Probe(probes.probe_build_model, {"flowers": HIDDEN_FLOWERS}),
                         judge_build),
    "compile_model": Check(Probe(probes.probe_compile_model), judge_compile),
    "fit_history": Check(Probe(probes.probe_fit_history), judge_fit),
    "choose_loss": Check(Probe(probes.probe_choose_loss), judge_choose_loss),
    "plot_fix": Check(Probe(probes.probe_plot_fix, {"epochs": 40, "freq": 10}), judge_plot),
    "predict_classes": Check(Probe(probes.probe_predict_classes,
                                   {"flowers": HIDDEN_FLOWERS}), judge_predict),
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
