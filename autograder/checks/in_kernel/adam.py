"""Probes of Adam's parts A and B: the student's ``adam_moments`` over several steps
from given moments, and ``bias_correct`` at several step counts."""

import numpy as np

from autograder.checks.in_kernel.names import student
from autograder.checks.in_kernel.rules import flat_numbers


def probe_adam_moments(namespace, hyperparams, m0, v0, grads, record):
    """m and v after the recorded steps of ``adam_moments`` on the gradients ``grads``."""
    import tensorflow as tf

    try:
        m = tf.Variable(np.array(m0, dtype=np.float64))
        v = tf.Variable(np.array(v0, dtype=np.float64))
        values = []
        for step, g in enumerate(grads, start=1):
            student(namespace, "adam_moments")(
                m, v, tf.constant(np.array(g, dtype=np.float64)), dict(hyperparams))
            if step in record:
                values += [flat_numbers(m), flat_numbers(v)]
        return {"values": values}
    except Exception as error:
        return {"error": (type(error).__name__ + ": " + str(error))[:500]}


def probe_adam_bias_correction(namespace, hyperparams, cases):
    """m_hat and v_hat of ``bias_correct`` for each case's moments and step count."""
    import tensorflow as tf

    try:
        values = []
        for case in cases:
            m_hat, v_hat = student(namespace, "bias_correct")(
                tf.constant(np.array(case["m"], dtype=np.float64)),
                tf.constant(np.array(case["v"], dtype=np.float64)),
                case["t"], dict(hyperparams))
            values += [flat_numbers(m_hat), flat_numbers(v_hat)]
        return {"values": values}
    except Exception as error:
        return {"error": (type(error).__name__ + ": " + str(error))[:500]}
