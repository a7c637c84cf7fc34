"""The common training loop of the seed notes (taught in book/training-loop.md).

One 4->3 layer, softmax, one-hot labels, mean squared error, batches of 32, and one
marked place where an update rule plugs in: ``update(params, grads, states, hp)``
from course.optimizers. ``train`` runs it eagerly or with a compiled step;
``train_numpy`` is the same arithmetic in NumPy, for the speed comparison.
"""

import time

import numpy as np
import tensorflow as tf

from course.data import load_iris_split

BATCH_SIZE = 32


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


def train(optimizer, hyperparams, epochs=500, compiled=True, seed=1):
    """Train the iris layer with a rule from course.optimizers.

    Returns a dict with the per-epoch ``loss`` (mean over the batches, the notes'
    ``loss_all / 4``), per-epoch test ``accuracy``, the final ``params`` and the
    wall-clock ``seconds`` of the training loop.
    """
    tf.random.set_seed(116)
    train_db, test_db = make_datasets()
    num_test = sum(int(x.shape[0]) for x, _ in test_db)
    params = init_params(seed)
    states = optimizer.init_states(params, hyperparams)

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = mse_loss(params, x, y)
        grads = tape.gradient(loss, params)
        optimizer.update(params, grads, states, hyperparams)  # <- the update rule
        return loss

    correct = count_correct
    if compiled:
        step, correct = tf.function(step), tf.function(count_correct)

    losses, accuracies = [], []
    start = time.perf_counter()
    for _ in range(epochs):
        loss_all, num_batches = 0.0, 0
        for x, y in train_db:
            loss_all += float(step(x, y))
            num_batches += 1
        losses.append(loss_all / num_batches)  # 120 flowers / 32 = 4 batches
        total_correct = sum(int(correct(params, x, y)) for x, y in test_db)
        accuracies.append(total_correct / num_test)
    seconds = time.perf_counter() - start
    return {"loss": losses, "accuracy": accuracies, "params": params, "seconds": seconds}


def train_numpy(lr=0.1, epochs=500, seed=1):
    """Plain SGD on the same layer, with the gradient of softmax+MSE written by hand."""
    tf.random.set_seed(116)
    w1, b1 = (p.numpy().astype(np.float64) for p in init_params(seed))
    x_train, y_train, x_test, y_test = load_iris_split()
    batches = [
        (x_train[i:i + BATCH_SIZE], np.eye(3)[y_train[i:i + BATCH_SIZE]])
        for i in range(0, len(x_train), BATCH_SIZE)
    ]
    losses, accuracies = [], []
    start = time.perf_counter()
    for _ in range(epochs):
        loss_all = 0.0
        for x, y_ in batches:
            z = x @ w1 + b1
            y = np.exp(z - z.max(axis=1, keepdims=True))
            y /= y.sum(axis=1, keepdims=True)
            loss_all += np.mean((y_ - y) ** 2)
            dy = 2 * (y - y_) / y.size  # d loss / d y
            dz = y * (dy - np.sum(dy * y, axis=1, keepdims=True))  # softmax Jacobian
            w1 -= lr * (x.T @ dz)
            b1 -= lr * dz.sum(axis=0)
        losses.append(loss_all / len(batches))
        pred = np.argmax(x_test @ w1 + b1, axis=1)
        accuracies.append(float(np.mean(pred == y_test)))
    seconds = time.perf_counter() - start
    return {"loss": losses, "accuracy": accuracies, "params": [w1, b1], "seconds": seconds}
