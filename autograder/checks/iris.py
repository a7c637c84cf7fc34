"""Hidden iris inputs shared by the Keras assignments (keras_six_steps, subclass_cnn).

Kept apart so that each assignment's grading fingerprint covers it: the fingerprint
follows the checks modules an assignment's checks import (autograder/grading/fingerprint.py),
so a change here regrades both assignments.
"""

import numpy as np

_rng = np.random.default_rng(401)
# Hidden flowers: measurements drawn around the iris ranges, 4 decimals.
HIDDEN_FLOWERS = np.round(
    _rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], (25, 4)), 4
).tolist()
