"""Hidden iris inputs shared by the Keras assignments (keras_six_steps, subclass_cnn).

Kept apart so that each assignment's grading fingerprint covers it: the fingerprint
follows the checks modules an assignment's checks import (autograder/fingerprint.py),
so a change here regrades both assignments.
"""

import numpy as np

_rng = np.random.default_rng(401)
# Hidden flowers: measurements drawn around the iris ranges, 4 decimals.
HIDDEN_FLOWERS = np.round(
    _rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], (25, 4)), 4
).tolist()

IRIS_DATA = '''
def _probe_iris():
    """The notes' iris data, prepared here so that the probe does not trust the notebook's."""
    from sklearn import datasets
    x, y = datasets.load_iris(return_X_y=True)
    np.random.seed(116)
    np.random.shuffle(x)
    np.random.seed(116)
    np.random.shuffle(y)
    return x.astype("float32"), y
'''
