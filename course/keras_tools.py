"""Helpers for the Keras chapters (taught in book/keras/plotting.md).

``plot_history(history)`` draws every metric a Keras ``History`` holds, whatever the
metrics are called: ``loss``, ``accuracy``, ``sparse_categorical_accuracy``, a custom
name. Each training curve ``x`` is paired with its validation curve ``val_x``, and
validation values are drawn at the epochs where Keras computed them, which matters
with ``validation_freq``: ``fit(..., epochs=500, validation_freq=20)`` records 500
training values but only 25 validation values, taken after epochs 20, 40, ..., 500.

The module imports Matplotlib only; it never imports TensorFlow or Keras, so it also
works on a plain ``dict`` such as ``history.history`` loaded from a JSON file.
"""

import math

import matplotlib.pyplot as plt

VAL_PREFIX = "val_"


def history_dict(history):
    """The ``{name: list of values}`` dict of a Keras ``History`` or of a plain dict."""
    return dict(getattr(history, "history", history))


def training_epochs(history):
    """1-based epoch numbers of the training entries.

    A ``History`` knows its 0-based epoch indices (``history.epoch``; they start
    later than 0 when ``fit`` was called with ``initial_epoch``); a plain dict is
    taken to start at epoch 1.
    """
    epochs = getattr(history, "epoch", None)
    if epochs:
        return [int(e) + 1 for e in epochs]
    values = history_dict(history)
    num = max((len(v) for k, v in values.items() if not k.startswith(VAL_PREFIX)),
              default=0)
    return list(range(1, num + 1))


def _validated_epochs(epochs, validation_freq):
    """The epochs Keras validates after, by the rule of ``Trainer._should_eval``.

    An int ``f`` means every epoch whose 1-based number is a multiple of ``f``; a
    list means exactly the epochs listed.
    """
    if isinstance(validation_freq, int):
        return [e for e in epochs if e % validation_freq == 0]
    wanted = set(validation_freq)
    return [e for e in epochs if e in wanted]


def validation_epochs(epochs, num_validations, validation_freq=None):
    """The epochs at which ``num_validations`` validation values were recorded.

    ``epochs`` are the 1-based training epochs (see ``training_epochs``). Without
    ``validation_freq`` the frequency is inferred from the counts: every epoch when
    the counts are equal, else the one integer frequency that yields this many
    validations (500 epochs with 25 validations: only 20 does). When several would
    (100 epochs with 5 validations fit 17, 18, 19 and 20), a guess could put the dots
    at the wrong epochs, so this raises and asks for ``validation_freq``, the value
    given to ``fit``.
    """
    epochs = list(epochs)
    if not epochs and validation_freq is None:
        return list(range(1, num_validations + 1))  # validation values only
    if validation_freq is None:
        if num_validations == len(epochs):
            return epochs
        candidates = [f for f in range(1, max(epochs, default=0) + 1)
                      if len(_validated_epochs(epochs, f)) == num_validations]
        if len(candidates) != 1:
            raise ValueError(
                f"cannot tell after which of {len(epochs)} epochs the {num_validations} "
                f"validation values were recorded (validation_freq could be any of "
                f"{candidates}); pass validation_freq= as given to fit()"
            )
        validation_freq = candidates[0]
    found = _validated_epochs(epochs, validation_freq)
    if len(found) != num_validations:
        raise ValueError(
            f"validation_freq={validation_freq!r} gives {len(found)} validations over "
            f"epochs {epochs[0]}..{epochs[-1]}, but the history holds {num_validations}"
        )
    return found


def metric_curves(history, validation_freq=None):
    """One entry per metric: ``(name, train, validation)``.

    ``train`` and ``validation`` are ``(epochs, values)`` pairs, or ``None`` when the
    history has no such curve. Names come from the history itself, in its order; a
    ``val_x`` is paired with ``x``, and a ``val_x`` without an ``x`` stands alone.
    """
    values = history_dict(history)
    train_epochs = training_epochs(history)
    names = []
    for key in values:
        name = key[len(VAL_PREFIX):] if key.startswith(VAL_PREFIX) else key
        if key.startswith(VAL_PREFIX) and name not in values:
            names.append(name)          # a validation-only curve
        elif not key.startswith(VAL_PREFIX):
            names.append(name)
    curves = []
    for name in dict.fromkeys(names):   # keep order, drop repeats
        train = values.get(name)
        val = values.get(VAL_PREFIX + name)
        train_pair = (train_epochs[-len(train):], list(train)) if train else None
        val_pair = None
        if val:
            val_pair = (validation_epochs(train_epochs, len(val), validation_freq),
                        list(val))
        curves.append((name, train_pair, val_pair))
    return curves


def plot_history(history, validation_freq=None, title=None, ncols=2):
    """Plot every metric of a Keras ``History`` (or ``history.history`` dict).

    One panel per metric, the training curve as a line and the validation values as
    dots at the epochs where Keras computed them. No metric name is assumed: the
    panels are whatever ``fit`` recorded. Returns the Matplotlib figure.
    """
    curves = metric_curves(history, validation_freq)
    if not curves:
        raise ValueError("the history holds no metrics: was fit() run with epochs >= 1?")
    ncols = min(ncols, len(curves))
    nrows = math.ceil(len(curves) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.6 * nrows),
                             squeeze=False)
    for ax, (name, train, val) in zip(axes.flat, curves):
        if train:
            ax.plot(*train, label=f"training ({name})")
        if val:
            style = "o-" if len(val[0]) <= 60 else "-"
            ax.plot(*val, style, markersize=4, label=f"validation ({VAL_PREFIX}{name})")
        ax.set(title=name, xlabel="epoch", ylabel=name)
        ax.legend()
    for ax in list(axes.flat)[len(curves):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
