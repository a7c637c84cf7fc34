"""Grappler, TensorFlow's graph optimiser, on and off: what it costs the exercises' fits.

    python benchmarks/grappler.py [--repeats R] [--out FILE | --no-write]

The Keras notebooks' set-up cells switch Grappler off
(``tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})``);
the optimizer notebooks keep TensorFlow's default. This script measures why, case by
case, each measurement in a fresh Python process (no trace is ever reused) with a
graded kernel's threads (``course.grading_terms.KERNEL_THREADS``):

- ``keras_fit``: keras_six_steps Part C's fit of the specified iris model (20 epochs in
  batches of 32, validation_split=0.2, validation_freq=10), compiled as Part B says;
- ``cnn_fit``: subclass_cnn Part D's training of the specified CNN (Adam 0.01, 5 epochs
  of 1437 digits in batches of 32, then evaluate on the other 360);
- ``float64_loop``: the optimizer notebooks' hand-written loop (a ``tf.function`` step,
  4 batches, 100 epochs, float64), with Adam's rule.

It prints and records each case's CPU seconds with Grappler on and off (the median of
``--repeats`` processes each, 3 by default), their ratio, and whether the final losses
are the same both ways. Results go to benchmarks/results/grappler.json; the grading
page quotes them and a test checks the quotes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.append(str(Path(__file__).resolve().parent))
from machine import cpu_model  # noqa: E402 - this folder

CASES = ("keras_fit", "cnn_fit", "float64_loop")

# One case in a fresh process: argv[1] the case, argv[2] "on" or "off"; prints JSON.
CHILD = r'''
import json, os, sys, time
import numpy as np
import tensorflow as tf
import keras
from sklearn import datasets

from autograder.checks.in_kernel.keras_models import specified_cnn, specified_iris_model
from course.data import load_iris_shuffled

case, grappler = sys.argv[1], sys.argv[2]
if grappler == "off":
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
tf.config.experimental.enable_op_determinism()
keras.utils.set_random_seed(116)


def keras_fit():
    x, y = load_iris_shuffled()
    model = specified_iris_model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["sparse_categorical_accuracy"])
    start = time.process_time()
    history = model.fit(x.astype("float32"), y, batch_size=32, epochs=20,
                        validation_split=0.2, validation_freq=10, verbose=0)
    return time.process_time() - start, history.history["loss"][-1]


def cnn_fit():
    x, y = datasets.load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    model = specified_cnn()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["sparse_categorical_accuracy"])
    start = time.process_time()
    history = model.fit(x[:1437], y[:1437], batch_size=32, epochs=5, verbose=0)
    model.evaluate(x[1437:], y[1437:], verbose=0)
    return time.process_time() - start, history.history["loss"][-1]


def float64_loop():
    x, y = load_iris_shuffled()
    batches = tf.data.Dataset.from_tensor_slices((x[:-30], y[:-30])).batch(32)
    w = tf.Variable(tf.random.truncated_normal([4, 3], stddev=0.1, seed=1, dtype=tf.float64))
    b = tf.Variable(tf.random.truncated_normal([3], stddev=0.1, seed=1, dtype=tf.float64))
    params = [w, b]
    m = [tf.Variable(tf.zeros_like(p)) for p in params]
    v = [tf.Variable(tf.zeros_like(p)) for p in params]
    t = tf.Variable(0.0, dtype=tf.float64)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            probs = tf.nn.softmax(tf.matmul(xb, w) + b)
            loss = tf.reduce_mean(tf.square(tf.one_hot(yb, 3, dtype=tf.float64) - probs))
        grads = tape.gradient(loss, params)
        t.assign_add(1.0)
        for p, g, m_p, v_p in zip(params, grads, m, v):
            m_p.assign(0.9 * m_p + 0.1 * g)
            v_p.assign(0.999 * v_p + 0.001 * g * g)
            m_hat, v_hat = m_p / (1 - 0.9 ** t), v_p / (1 - 0.999 ** t)
            p.assign_sub(0.01 * m_hat / (tf.sqrt(v_hat) + 1e-7))
        return loss

    start = time.process_time()
    for _ in range(100):
        losses = [float(step(xb, yb)) for xb, yb in batches]
    return time.process_time() - start, float(np.mean(losses))


cpu_s, loss = {"keras_fit": keras_fit, "cnn_fit": cnn_fit, "float64_loop": float64_loop}[case]()
print(json.dumps({"cpu_s": cpu_s, "loss": float(loss)}))
'''


def run_case(case: str, grappler: str) -> dict:
    """One measurement, in a fresh process with a graded kernel's threads."""
    sys.path.insert(0, str(REPO))
    from course.grading_terms import KERNEL_THREADS

    env = dict(os.environ, **KERNEL_THREADS)
    out = subprocess.run([sys.executable, "-c", CHILD, case, grappler], env=env, cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "grappler.json"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    load_before = [round(x, 2) for x in os.getloadavg()]
    results = {}
    for case in CASES:
        runs = {mode: [run_case(case, mode) for _ in range(args.repeats)]
                for mode in ("on", "off")}
        cpu = {mode: round(statistics.median(r["cpu_s"] for r in runs[mode]), 3)
               for mode in runs}
        losses = {mode: sorted({r["loss"] for r in runs[mode]}) for mode in runs}
        same = losses["on"] == losses["off"] and len(losses["on"]) == 1
        results[case] = {"cpu_s_on": cpu["on"], "cpu_s_off": cpu["off"],
                         "off_over_on": round(cpu["off"] / cpu["on"], 2),
                         "runs_cpu_s": {m: [round(r["cpu_s"], 3) for r in runs[m]]
                                        for m in runs},
                         "final_loss": losses, "same_losses": same}
        print(f"{case:13s} Grappler on {cpu['on']:.2f} CPU s, off {cpu['off']:.2f} "
              f"(off/on {cpu['off'] / cpu['on']:.2f}); same final loss both ways: {same}",
              flush=True)
    import tensorflow as tf  # the versions, after the measurements

    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "cpu_model": cpu_model(),
                    "python": sys.version.split()[0], "tensorflow": tf.__version__,
                    "load_before": load_before,
                    "load_after": [round(x, 2) for x in os.getloadavg()]},
        "repeats": args.repeats, "cases": results}
    if not args.no_write:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
