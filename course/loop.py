"""The common training loop of the seed notes (taught in book/training-loop.md).

One 4->3 layer, softmax, one-hot labels, mean squared error, batches of 32, and one
marked place where the update rule plugs in: here a Keras optimizer (the pages write
the rules by hand in the notes' own style and check them against Keras).
``train`` runs it eagerly or compiled; ``sweep`` trains one rule at several learning
rates side by side; ``train_numpy`` is plain SGD in NumPy, for the speed comparison,
built on ``numpy_sgd_step``, which also trains many runs at once
(``course.schedules.train_iris_many``).
"""

import functools
import time

import numpy as np
import tensorflow as tf

from course.data import load_iris_split
from course.keras_rules import keras_optimizer

BATCH_SIZE = 32

# The learning rate of each optimizer in the comparison (book/optimizers/comparison.md
# justifies each with a sweep): the notes' 0.1 unless 0.1 is wrong for the rule.
IRIS_LEARNING_RATES = {
    "sgd": 0.1,
    "momentum_ema": 0.1,
    "momentum": 0.1,
    "nesterov": 0.1,
    "adagrad": 0.1,
    "rmsprop": 0.01,   # 0.01 to 0.03 end lowest in the sweep; 0.1 ends higher
    "adadelta": 1.0,   # the paper's value; at 0.1 it has barely started after 500 epochs
    "adam": 0.1,
}


def init_params(seed=1):
    """w1 (4x3) and b1 (3,), truncated normal with stddev 0.1, as in the notes."""
    w1 = tf.Variable(tf.random.truncated_normal([4, 3], stddev=0.1, seed=seed))
    b1 = tf.Variable(tf.random.truncated_normal([3], stddev=0.1, seed=seed))
    return [w1, b1]


def make_datasets(batch_size=BATCH_SIZE):
    x_train, y_train, x_test, y_test = load_iris_split()
    train_db = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(batch_size)
    test_db = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(batch_size)
    return train_db, test_db


def forward(params, x):
    w1, b1 = params
    return tf.nn.softmax(tf.matmul(x, w1) + b1)


def mse_loss(params, x, y):
    y_ = tf.one_hot(y, depth=3)
    return tf.reduce_mean(tf.square(y_ - forward(params, x)))


def count_correct(params, x, y):
    pred = tf.argmax(forward(params, x), axis=1, output_type=y.dtype)
    return tf.reduce_sum(tf.cast(tf.equal(pred, y), tf.int32))


def make_batches(batch_size=BATCH_SIZE):
    """The batches as lists of tensors, cut once.

    Iterating a ``tf.data.Dataset`` costs milliseconds per batch in Python (measured
    in book/optimizers/fast-loop.md), more than a compiled training step here; the
    4 + 1 batches fit in memory, so the loop iterates over ready-made tensors instead
    (same batches, same order).
    """
    train_db, test_db = make_datasets(batch_size)
    return list(train_db), list(test_db)


@functools.lru_cache(maxsize=1)
def _train_batches():
    return make_batches()[0]


def batch_gradients(step, params):
    """Gradients of the iris loss on batch ``step % 4``, taken at ``params``.

    The ``grad_fn`` the optimizer pages hand to ``course.keras_rules.keras_steps`` and
    use in their own loops: both rules see the gradient of the same batch at their
    own current weights, as in training. Works for float32 and float64 ``params``.
    """
    batches = _train_batches()
    x, y = batches[step % len(batches)]
    x = tf.cast(x, params[0].dtype)
    with tf.GradientTape() as tape:
        y_ = tf.one_hot(y, depth=3, dtype=x.dtype)
        loss = tf.reduce_mean(tf.square(y_ - forward(params, x)))
    return tape.gradient(loss, params)


def train(optimizer, epochs=500, compiled=True, seed=1):
    """Train the iris layer with a Keras ``optimizer`` (anything with
    ``apply_gradients``, e.g. ``course.keras_rules.keras_optimizer("adam", lr=0.1)``).

    Returns a dict with the per-epoch ``loss`` (mean over the batches, the notes'
    ``loss_all / 4``), per-epoch test ``accuracy``, the final ``params`` and the
    wall-clock ``seconds`` of the training loop (tracing included).

    ``compiled`` chooses how much of the loop ``tf.function`` compiles
    (book/optimizers/fast-loop.md compares them):

    - ``False``: everything eager, the notes' loop;
    - ``"step"``: one training step (and the test-accuracy count) per graph call;
    - ``True`` or ``"epoch"``: the whole epoch, its 4 steps and the test pass, in
      one graph call (the fastest; the comparison page uses it).

    All three compute the same numbers (tests/book/test_loop.py).
    """
    if compiled not in (False, True, "step", "epoch"):
        raise ValueError(
            f"compiled must be False, True, 'step' or 'epoch', not {compiled!r}")
    tf.random.set_seed(116)
    train_batches, test_batches = make_batches()
    num_test = sum(int(x.shape[0]) for x, _ in test_batches)
    params = init_params(seed)
    optimizer.build(params)  # its state variables exist before any tracing

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = mse_loss(params, x, y)
        grads = tape.gradient(loss, params)
        optimizer.apply_gradients(zip(grads, params))  # <- the update rule
        return loss

    correct = count_correct
    if compiled == "step":
        step, correct = tf.function(step), tf.function(count_correct)

    def epoch():
        batch_losses = [step(x, y) for x, y in train_batches]
        total_correct = [correct(params, x, y) for x, y in test_batches]
        return batch_losses, total_correct

    if compiled in (True, "epoch"):
        epoch = tf.function(epoch)

    losses, accuracies = [], []
    start = time.perf_counter()
    for _ in range(epochs):
        batch_losses, total_correct = epoch()
        loss_all = 0.0
        for loss in batch_losses:  # summed in Python floats, as the notes do
            loss_all += float(loss)
        losses.append(loss_all / len(batch_losses))  # 120 flowers / 32 = 4 batches
        accuracies.append(sum(int(c) for c in total_correct) / num_test)
    seconds = time.perf_counter() - start
    return {"loss": losses, "accuracy": accuracies, "params": params,
            "seconds": seconds}


def train_notes(lr=0.1, epochs=500, seed=1):
    """The notes' loop exactly as written (book/training-loop.md): plain SGD, eager,
    batches drawn from ``tf.data`` in every epoch, accuracy on the test batches.

    The baseline of book/optimizers/fast-loop.md and benchmarks/training_loop.py.
    Same numbers as ``train(tf.keras.optimizers.SGD(lr), epochs, compiled=False)``.
    """
    tf.random.set_seed(116)
    train_db, test_db = make_datasets()
    w1, b1 = init_params(seed)
    losses, accuracies = [], []
    start = time.perf_counter()
    for _ in range(epochs):
        loss_all = 0.0
        for x_train, y_train in train_db:
            with tf.GradientTape() as tape:
                y = tf.nn.softmax(tf.matmul(x_train, w1) + b1)
                y_ = tf.one_hot(y_train, depth=3)
                loss = tf.reduce_mean(tf.square(y_ - y))
            loss_all += loss.numpy()
            grads = tape.gradient(loss, [w1, b1])
            w1.assign_sub(lr * grads[0])
            b1.assign_sub(lr * grads[1])
        losses.append(loss_all / 4)
        correct, total = 0, 0
        for x_test, y_test in test_db:
            pred = tf.argmax(tf.matmul(x_test, w1) + b1, axis=1,
                             output_type=y_test.dtype)
            correct += int(tf.reduce_sum(tf.cast(pred == y_test, tf.int32)))
            total += int(x_test.shape[0])
        accuracies.append(correct / total)
    seconds = time.perf_counter() - start
    return {"loss": losses, "accuracy": accuracies, "params": [w1, b1],
            "seconds": seconds}


def numpy_batches(x, y):
    """The notes' training batches as NumPy arrays, labels one-hot (same order)."""
    return [(x[i:i + BATCH_SIZE], np.eye(3)[y[i:i + BATCH_SIZE]])
            for i in range(0, len(x), BATCH_SIZE)]


def numpy_sgd_step(x, y_, w1, b1, lr):
    """One SGD step of softmax + MSE in NumPy, the gradient by hand; returns the loss.

    ``w1`` (4, 3) and ``b1`` (3,) change in place. Stacked weights, ``w1`` (R, 4, 3)
    and ``b1`` (R, 3), train R runs at once, each with its own rate ``lr`` (R,);
    the losses are then an array (R,).
    """
    lr = np.asarray(lr, dtype=w1.dtype)
    z = x @ w1 + b1[..., None, :]
    y = np.exp(z - z.max(axis=-1, keepdims=True))
    y /= y.sum(axis=-1, keepdims=True)
    loss = np.mean((y_ - y) ** 2, axis=(-2, -1))
    dy = 2 * (y - y_) / (y.shape[-2] * y.shape[-1])  # d loss / d y
    dz = y * (dy - np.sum(dy * y, axis=-1, keepdims=True))  # softmax Jacobian
    w1 -= lr[..., None, None] * (x.T @ dz)
    b1 -= lr[..., None] * dz.sum(axis=-2)
    return loss


def numpy_accuracy(x, y, w1, b1):
    """Test accuracy of (stacked) NumPy weights: a float, or an array (R,)."""
    prediction = np.argmax(x @ w1 + b1[..., None, :], axis=-1)
    return np.mean(prediction == y, axis=-1)


def train_numpy(lr=0.1, epochs=500, seed=1):
    """The same loop with plain SGD in NumPy, the gradient of softmax+MSE by hand.

    The arithmetic runs in float64 (TensorFlow's loop in float32), so the losses
    agree to about 1e-6 (tests/book/test_loop.py).
    """
    tf.random.set_seed(116)
    w1, b1 = (p.numpy().astype(np.float64) for p in init_params(seed))
    x_train, y_train, x_test, y_test = load_iris_split()
    batches = numpy_batches(x_train, y_train)
    losses, accuracies = [], []
    start = time.perf_counter()
    for _ in range(epochs):
        loss_all = 0.0
        for x, y_ in batches:
            loss_all += float(numpy_sgd_step(x, y_, w1, b1, lr))
        losses.append(loss_all / len(batches))
        accuracies.append(float(numpy_accuracy(x_test, y_test, w1, b1)))
    seconds = time.perf_counter() - start
    return {"loss": losses, "accuracy": accuracies, "params": [w1, b1],
            "seconds": seconds}


def sweep(name, learning_rates, epochs=500, seed=1, **hyperparams):
    """Train with Keras's rule ``name`` at each learning rate (comparison.md's sweep).

    The runs start from the same weights and share one compiled epoch, so K rates
    cost one tracing, not K. Other hyperparameters are the rule's Keras defaults
    unless given. Returns ``loss`` and ``accuracy`` as K x epochs arrays, the same
    numbers as K runs of :func:`train` (tests/book/test_loop.py).
    """
    train_batches, test_batches = make_batches()
    num_test = sum(int(x.shape[0]) for x, _ in test_batches)
    runs = []
    for lr in learning_rates:
        tf.random.set_seed(116)  # as in train: every run starts from the same weights
        params = init_params(seed)
        optimizer = keras_optimizer(name, lr=lr, **hyperparams)
        optimizer.build(params)
        runs.append((params, optimizer))

    def one_epoch(params, optimizer):
        batch_losses = []
        for x, y in train_batches:
            with tf.GradientTape() as tape:
                loss = mse_loss(params, x, y)
            optimizer.apply_gradients(zip(tape.gradient(loss, params), params))
            batch_losses.append(loss)
        correct = tf.add_n([count_correct(params, x, y) for x, y in test_batches])
        return batch_losses, correct

    epoch = tf.function(lambda: [one_epoch(*run) for run in runs])
    losses = np.zeros((len(runs), epochs))
    accuracies = np.zeros((len(runs), epochs))
    for i in range(epochs):
        for k, (batch_losses, correct) in enumerate(epoch()):
            loss_all = 0.0
            for loss in batch_losses:  # summed in Python floats, as train does
                loss_all += float(loss)
            losses[k, i] = loss_all / len(batch_losses)
            accuracies[k, i] = int(correct) / num_test
    return {"loss": losses, "accuracy": accuracies}
