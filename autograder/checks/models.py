"""Judges shared by the Keras assignments (keras_six_steps, subclass_cnn); what their
probes share is ``in_kernel/keras_models.py``.

A model part is checked on what its specification fixes: layer types and sizes,
activations, regularizers, the parameter count, the compile settings, and the outcome
of a short training run with fixed weights, fixed data order and op determinism,
compared with the reference solution's run (``python -m autograder references`` records it)
within the tolerance stored in the reference. Nothing trains for long at grading time.
"""

from autograder.checks.kit import error_message, number, numbers, short_repr

# Names of the losses as strings, as compile() also accepts them.
LOSS_STRINGS = {
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "binary_crossentropy": "BinaryCrossentropy",
}


def layer_messages(got_layers, want_layers):
    """Messages comparing the specified settings of each layer."""
    if not isinstance(got_layers, list):
        return [f"the check could not read the layers ({short_repr(got_layers)})."]
    got_names = [layer.get("class") if isinstance(layer, dict) else None for layer in got_layers]
    want_names = [layer["class"] for layer in want_layers]
    if got_names != want_names:
        return [f"the layers should be {want_names}, in this order; "
                f"your model has {short_repr(got_names, 300)}."]
    messages = []
    for i, (got, want) in enumerate(zip(got_layers, want_layers)):
        for key, value in want.items():
            if key == "class" or value is None:
                continue
            have = got.get(key)
            if key == "kernel_regularizer":
                config = have.get("config") if isinstance(have, dict) else None
                ok = isinstance(config, dict) and have.get("class") == value["class"] and all(
                    number(config.get(k)) is not None and abs(number(config.get(k)) - v) < 1e-6
                    for k, v in value["config"].items()
                )
            elif isinstance(value, list):
                ok = isinstance(have, list) and list(have) == value
            else:
                ok = have == value
            if not ok:
                messages.append(
                    f"layer {i} ({want['class']}): {key} should be {value!r}, "
                    f"it is {short_repr(have)}."
                )
    return messages


def compile_messages(got, want):
    """Messages comparing compile settings: optimizer, learning rate, loss, metrics."""
    messages = []
    optimizer = got.get("optimizer") if isinstance(got, dict) else None
    if not isinstance(optimizer, dict) or optimizer.get("class") != want["optimizer"]["class"]:
        messages.append(
            f"the optimizer should be keras.optimizers.{want['optimizer']['class']}, "
            f"it is {short_repr(optimizer)}."
        )
    else:
        for key in ("learning_rate", "momentum"):
            if key in want["optimizer"]:
                have = number(optimizer.get(key))
                if have is None or abs(have - want["optimizer"][key]) > 1e-6:
                    messages.append(
                        f"the optimizer's {key} should be {want['optimizer'][key]:g}, "
                        f"it is {short_repr(optimizer.get(key))}."
                    )
    loss = got.get("loss") if isinstance(got, dict) else None
    name = loss.get("class") if isinstance(loss, dict) else None
    name = LOSS_STRINGS.get(name, name) if isinstance(name, str) else name
    if name != want["loss"]["class"]:
        messages.append(f"the loss should be {want['loss']['class']}, it is {short_repr(name)}.")
    elif bool(loss.get("from_logits")) != want["loss"]["from_logits"]:
        messages.append(
            f"from_logits should be {want['loss']['from_logits']}: "
            + ("the outputs are raw scores." if want["loss"]["from_logits"]
               else "the last layer's activation already gives probabilities.")
        )
    metrics = got.get("metrics") if isinstance(got, dict) else None
    if metrics != want["metrics"]:
        messages.append(f"metrics should be {want['metrics']}, they are {short_repr(metrics)}.")
    return messages


def close_messages(label, got, want, rtol, atol=0.0):
    """A message if the list ``got`` is not within rtol/atol of ``want``."""
    values = numbers(got, len(want))
    if values is None:
        return [f"{label}: expected {len(want)} numbers, the check got {short_repr(got)}."]
    for i, (g, w) in enumerate(zip(values, want)):
        if g is None or abs(g - w) > atol + rtol * abs(w):
            return [
                f"{label} differs from the reference run at element {i} by more than the "
                f"tolerance (rtol {rtol:g}, atol {atol:g})."
            ]
    return []


def judge_prologue(got):
    problem = error_message(got)
    return [problem[0].upper() + problem[1:]] if problem else []
