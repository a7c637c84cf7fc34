"""Eager, compiled and NumPy versions of the notes' 500-epoch iris loop, timed.

book/optimizers/fast-loop.md measures the same loops while the site is built (with
the eager loop on 50 epochs only, to keep the build short); this script runs every
variant in full and prints the times and their ratios:

    notes' loop, eager   course.loop.train_notes, the notes' code: eager steps,
                         batches drawn from tf.data in every epoch
    eager                course.loop.train(compiled=False): eager steps over batches
                         cut once
    tf.function step     course.loop.train(compiled="step")
    tf.function epoch    course.loop.train(compiled=True), what the pages use
    NumPy                course.loop.train_numpy: the same arithmetic, gradient by hand

All train the same layer with SGD (lr 0.1) from the same seed, so the final losses
must agree (to float32 round-off for the notes' loop and NumPy); the script prints
them. Each time is the best of ``--repeats`` runs in this one process, after a short
warm-up, so TensorFlow's start-up is not counted. Timings are wall-clock seconds on
the machine that runs this: check that it is otherwise idle (the load average is
printed) and compare ratios rather than absolute numbers.

    .venv/bin/python benchmarks/training_loop.py              # 500 epochs, best of 3
    .venv/bin/python benchmarks/training_loop.py --repeats 1  # quicker
"""

import argparse
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

from course.loop import train, train_notes, train_numpy
sys.path.append(str(Path(__file__).resolve().parent))  # also when imported by path
from machine import cpu_model  # this folder

LR = 0.1


def variants():
    def sgd():
        return tf.keras.optimizers.SGD(learning_rate=LR)

    return {
        "notes' loop, eager (tf.data each epoch)":
            lambda e: train_notes(lr=LR, epochs=e),
        "eager, batches cut once": lambda e: train(sgd(), epochs=e, compiled=False),
        "tf.function on the step": lambda e: train(sgd(), epochs=e, compiled="step"),
        "tf.function on the epoch": lambda e: train(sgd(), epochs=e, compiled=True),
        "NumPy, gradient by hand": lambda e: train_numpy(lr=LR, epochs=e),
    }


def describe_machine():
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    print(f"CPU: {cpu_model()}, {cores} cores ({usable} usable by this process)")
    print(f"System: {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}")
    print(f"TensorFlow {tf.__version__}, NumPy {np.__version__}")
    print(f"Load average at start: {os.getloadavg()[0]:.2f} (1 min)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per variant; the fastest counts (default 3)")
    args = parser.parse_args()

    describe_machine()
    print(f"\nSGD, lr {LR}, {args.epochs} epochs, best of {args.repeats}:\n")
    runs = variants()
    for run in runs.values():  # warm-up: first-call costs of TensorFlow and NumPy
        run(3)

    results = {}
    for name, run in runs.items():
        best = min((run(args.epochs) for _ in range(args.repeats)),
                   key=lambda r: r["seconds"])
        results[name] = best

    slowest = results["notes' loop, eager (tf.data each epoch)"]["seconds"]
    eager = results["eager, batches cut once"]["seconds"]
    print(f"{'variant':42s} {'seconds':>8s} {'vs notes':>9s} {'vs eager':>9s}"
          f" {'final loss':>12s}")
    for name, result in results.items():
        print(f"{name:42s} {result['seconds']:8.3f} {slowest / result['seconds']:8.1f}x"
              f" {eager / result['seconds']:8.1f}x {result['loss'][-1]:12.8f}")

    reference = np.array(results["tf.function on the epoch"]["loss"])
    worst = max(np.max(np.abs(np.array(r["loss"]) - reference))
                for r in results.values())
    print("\nLargest difference of any variant's epoch losses from the compiled "
          f"loop's: {worst:.1e}")
    print(f"Load average at end: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
