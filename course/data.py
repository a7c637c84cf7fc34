"""The iris data exactly as the seed notes prepare it (taught in book/training-loop.md)."""

import numpy as np
from sklearn import datasets

SEED = 116  # the notes' seed: same shuffle, same split, same numbers as the notes


def load_iris_shuffled(seed=SEED):
    """All 150 iris flowers, features and labels shuffled with the same seed.

    Seeding NumPy twice with the same value and shuffling features and labels
    separately keeps each flower with its label (the notes' idiom).
    """
    iris = datasets.load_iris()
    x, y = iris.data.copy(), iris.target.copy()
    np.random.seed(seed)
    np.random.shuffle(x)
    np.random.seed(seed)
    np.random.shuffle(y)
    return x, y


def load_iris_split(seed=SEED, num_train=120):
    """The notes' split: first 120 shuffled flowers for training, last 30 for testing.

    Features come back as float32 (what the 4->3 layer multiplies), labels as int.
    """
    x, y = load_iris_shuffled(seed)
    x = x.astype(np.float32)
    return x[:num_train], y[:num_train], x[num_train:], y[num_train:]
