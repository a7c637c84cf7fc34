"""Gradient descent on a quadratic, in matrix form (taught in
book/optimizers/momentum-analysis.md).

On f(x) = 1/2 x^T A x, with A symmetric and positive definite, every eigenvector of A
is a separate one-dimensional problem f = lam/2 x^2. There, SGD and heavy-ball momentum
are *linear* maps of their state, so one small matrix per eigenvalue says everything:
the iterates shrink to 0 exactly when that matrix's spectral radius is below 1.

- SGD, state x_t:            x_{t+1} = (1 - eta lam) x_t
- heavy ball, state (x_t, x_{t-1}):
                             x_{t+1} = (1 + mu - eta lam) x_t - mu x_{t-1}

The stable ranges that follow, 0 < eta < 2 / L for SGD and 0 < eta < 2 (1 + mu) / L
for heavy ball (L the largest eigenvalue), are checked against Keras's SGD in
tests/book/test_book_claims.py.
"""

import numpy as np


def sgd_matrix(eta, lam):
    """The 1x1 map of one SGD step along an eigenvector with eigenvalue ``lam``."""
    return np.array([[1.0 - eta * lam]])


def heavy_ball_matrix(eta, mu, lam):
    """The 2x2 map (x_t, x_{t-1}) -> (x_{t+1}, x_t) of heavy-ball momentum."""
    return np.array([[1.0 + mu - eta * lam, -mu],
                     [1.0, 0.0]])


def spectral_radius(matrix):
    """The largest modulus of an eigenvalue: the factor the error shrinks by per step,
    in the long run."""
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


def rate(eta, eigenvalues, mu=0.0):
    """The slowest direction's spectral radius: the method's convergence factor on A.

    ``mu=0`` is SGD (the heavy-ball matrix with mu 0 has the SGD factor and 0).
    """
    return max(spectral_radius(heavy_ball_matrix(eta, mu, lam)) for lam in eigenvalues)


def stable_limit(largest_eigenvalue, mu=0.0):
    """The largest stable learning rate: 2 (1 + mu) / L (mu = 0: SGD's 2 / L)."""
    return 2.0 * (1.0 + mu) / largest_eigenvalue


def best_sgd(smallest, largest):
    """The rate 2 / (lam_min + L) that minimises SGD's factor, and that factor
    (kappa - 1) / (kappa + 1), kappa = L / lam_min."""
    kappa = largest / smallest
    return 2.0 / (smallest + largest), (kappa - 1.0) / (kappa + 1.0)


def best_heavy_ball(smallest, largest):
    """Polyak's choice: eta = 4 / (sqrt L + sqrt lam_min)^2, mu = ((sqrt kappa - 1) /
    (sqrt kappa + 1))^2, and its factor sqrt(mu) = (sqrt kappa - 1) / (sqrt kappa + 1)."""
    root_kappa = np.sqrt(largest / smallest)
    mu = ((root_kappa - 1.0) / (root_kappa + 1.0)) ** 2
    eta = 4.0 / (np.sqrt(largest) + np.sqrt(smallest)) ** 2
    return float(eta), float(mu), float(np.sqrt(mu))


def predicted_distances(eta, eigenvalues, x0, num_steps, mu=0.0):
    """|x_t| for t = 0..num_steps from the matrices alone, no optimizer involved.

    Each coordinate of ``x0`` lies along one eigenvector (A diagonal); heavy ball
    starts at rest, so its state is (x_0, x_0).
    """
    paths = []
    for lam, start in zip(eigenvalues, x0):
        matrix = heavy_ball_matrix(eta, mu, lam)
        state = np.array([start, start], dtype=np.float64)
        path = [start]
        for _ in range(num_steps):
            state = matrix @ state
            path.append(state[0])
        paths.append(path)
    return np.linalg.norm(np.array(paths), axis=0)


def keras_distances(eta, eigenvalues, x0, num_steps, mu=0.0):
    """|x_t| for t = 0..num_steps when Keras's own ``SGD(learning_rate=eta,
    momentum=mu)`` minimises f(x) = 1/2 sum_i lam_i x_i^2 (gradient lam_i x_i),
    in float64: the runs the matrices' predictions are checked against."""
    import keras
    import tensorflow as tf

    lams = tf.constant(eigenvalues, dtype=tf.float64)
    x = tf.Variable(np.asarray(x0, dtype=np.float64))
    optimizer = keras.optimizers.SGD(learning_rate=eta, momentum=mu)
    distances = [float(tf.norm(x))]
    for _ in range(num_steps):
        optimizer.apply_gradients([(lams * x, x)])
        distances.append(float(tf.norm(x)))
    return np.array(distances)
