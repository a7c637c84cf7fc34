"""How long does the notes' Keras fit take, and what do the usual speed knobs buy?

The seed notes' "fast build example" (book/keras/six-steps.md) fits one Dense(3)
layer on 120 iris flowers for 500 epochs: 4 batches of 32 per epoch, validation on
the last 30 flowers every 20 epochs. Each epoch does almost no arithmetic, so the
time goes into Keras's per-epoch machinery (a new tf.data iterator, callbacks,
metric resets). This script times the notes' setup and variants of it:

    notes                  batch 32, the Keras defaults (no XLA on a CPU-only machine)
    steps_per_execution=4  the whole epoch (4 batches) in one call of the train function
    jit_compile=True       XLA-compiled train step
    spe=4 + jit            both
    batch_size=120         one full batch per epoch (a different algorithm: 1 update/epoch)
    validation_freq=1      validate after every epoch instead of every 20th
    tf.data, cached        the same split fed as prebuilt tf.data.Datasets

Every variant builds a fresh model from the same seed and is timed in a fresh
Python process after a 2-epoch warm-up fit (in one long process each new model fits
a little slower than the one before). With ``--repeats N`` the rounds interleave
and the fastest of the N counts. The final loss and accuracies are printed too: a
knob that changes them changes the experiment, not only its speed.

    .venv/bin/python benchmarks/keras_fit.py                 # all variants, 500 epochs
    .venv/bin/python benchmarks/keras_fit.py --epochs 100    # quicker
    .venv/bin/python benchmarks/keras_fit.py --repeats 3     # best of 3, interleaved
    .venv/bin/python benchmarks/keras_fit.py --seeds 8       # spread of the notes' numbers

``--pages`` times something else: the cold execution of the Keras chapters
(book/keras/*.md), each page in a fresh Jupyter kernel one after the other, as the
book build runs them; the chapters must stay under 3 minutes together.

``--seeds N`` skips the timing and instead runs the notes' setup with N seeds
(116, then 1, 2, ...) to show how far the final numbers move with the random
initial weights and shuffle order alone (book/keras/six-steps.md quotes it);
``--vary init`` or ``--vary shuffle`` changes only one of the two.

Timings are wall-clock seconds on whatever machine runs this; check that the
machine is otherwise idle (`uptime`) and compare ratios, not absolute numbers.

``--out FILE`` also records the run, with the machine it ran on, in one section of a
JSON file (``timing``, ``seeds``, ``seeds_init`` or ``seeds_shuffle``; the other
sections are kept), so that a page can quote a recorded run and a test can read
the quotes from it. book/keras/six-steps.md quotes all four sections of
benchmarks/results/keras_fit.json, and tests/book/test_keras_pages.py checks the
quotes and the words beside them against it. Record them again on an otherwise idle
machine, then update the page until that test passes:

    OUT=benchmarks/results/keras_fit.json
    .venv/bin/python benchmarks/keras_fit.py --repeats 2 --out $OUT
    .venv/bin/python benchmarks/keras_fit.py --seeds 10 --out $OUT
    .venv/bin/python benchmarks/keras_fit.py --seeds 5 --vary init --out $OUT
    .venv/bin/python benchmarks/keras_fit.py --seeds 5 --vary shuffle --out $OUT
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from course.data import load_iris_shuffled
sys.path.append(str(Path(__file__).resolve().parent))  # also when a test imports it by path
from machine import cpu_model  # this folder

SEED = 116


def build_model(seed=SEED, jit_compile="auto", steps_per_execution=1, shuffle_seed=None):
    """The notes' model and compile step, with the Keras 3 spelling.

    ``seed`` fixes everything (Python, NumPy, TensorFlow); the initial weights are
    drawn here, when the layer is built. ``shuffle_seed``, if given, then resets
    TensorFlow's seed alone, which drives fit's per-epoch shuffle, so that the
    starting weights and the batch order can be varied separately.
    """
    keras.utils.set_random_seed(seed)  # Python, NumPy and TF seeds (Keras 3 needs all)
    model = keras.Sequential([
        keras.Input(shape=(4,)),
        keras.layers.Dense(3, activation="softmax",
                           kernel_regularizer=keras.regularizers.l2()),
    ])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),
        metrics=["sparse_categorical_accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    if shuffle_seed is not None:
        tf.random.set_seed(shuffle_seed)
    return model


def fit_notes(model, x, y, epochs, batch_size=32, validation_freq=20):
    return model.fit(x, y, batch_size=batch_size, epochs=epochs,
                     validation_split=0.2, validation_freq=validation_freq, verbose=0)


def fit_cached_datasets(model, x, y, epochs, batch_size=32, validation_freq=20):
    """The same 120/30 split (validation = last 20 %), fed as cached tf.data pipelines."""
    split = int(len(x) * 0.8)
    train = (tf.data.Dataset.from_tensor_slices((x[:split], y[:split])).cache()
             .shuffle(split, seed=SEED).batch(batch_size).prefetch(2))
    val = tf.data.Dataset.from_tensor_slices((x[split:], y[split:])).batch(batch_size).cache()
    return model.fit(train, epochs=epochs, validation_data=val, shuffle=False,
                     validation_freq=validation_freq, verbose=0)  # shuffled above


VARIANTS = {
    "notes": (dict(), dict()),
    "steps_per_execution=4": (dict(steps_per_execution=4), dict()),
    "jit_compile=True": (dict(jit_compile=True), dict()),
    "spe=4 + jit": (dict(steps_per_execution=4, jit_compile=True), dict()),
    "batch_size=120": (dict(), dict(batch_size=120)),
    "validation_freq=1": (dict(), dict(validation_freq=1)),
    "tf.data, cached": (dict(), dict(fit=fit_cached_datasets)),
}


FINAL_NAMES = ["loss", "sparse_categorical_accuracy",
               "val_loss", "val_sparse_categorical_accuracy"]


def final_numbers(history):
    """Last loss, accuracy, val_loss, val accuracy (NaN when fit never validated)."""
    h = history.history
    return tuple(h[name][-1] if name in h else float("nan") for name in FINAL_NAMES)


def _rounded(value):
    return None if value != value else round(float(value), 6)  # NaN -> null


def run_variant(name, x, y, epochs):
    """Build a fresh model for one variant, fit it, return (seconds, final numbers)."""
    compile_kwargs, fit_kwargs = VARIANTS[name]
    fit_kwargs = dict(fit_kwargs)
    fit = fit_kwargs.pop("fit", fit_notes)
    model = build_model(**compile_kwargs)
    start = time.perf_counter()
    history = fit(model, x, y, epochs=epochs, **fit_kwargs)
    return time.perf_counter() - start, final_numbers(history)


def run_variant_in_fresh_process(name, epochs):
    """run_variant in a new Python process: nothing left over from earlier models."""
    result = subprocess.run(
        [sys.executable, __file__, "--one", name, "--epochs", str(epochs)],
        capture_output=True, text=True, check=True)
    seconds, *numbers = json.loads(result.stdout.strip().splitlines()[-1])
    return seconds, tuple(numbers)


def time_variants(x, y, epochs, names, repeats=1, fresh_process=True):
    """Time each variant; the rounds interleave and the fastest of the repeats counts.

    Each fit runs in a fresh process (after a 2-epoch warm-up fit there), because in
    one long process every new model fits a little slower than the one before, which
    would favour whichever variant runs first. Interleaving the rounds and keeping
    the minimum keeps a burst of load from another process from landing on one
    variant only. ``fresh_process=False`` runs everything here (for tests).
    """
    if not fresh_process:
        fit_notes(build_model(), x, y, epochs=2)  # warm-up: TF kernels
    print(f"{epochs} epochs of the notes' iris fit, best of {repeats}; "
          f"{platform.processor() or 'cpu'}, {os.cpu_count()} cores, "
          f"TF {tf.__version__}, Keras {keras.__version__}; "
          f"load average {os.getloadavg()[0]:.1f} at the start\n", flush=True)
    best, numbers, all_seconds = {}, {}, {}
    for _ in range(repeats):
        for name in names:
            if fresh_process:
                seconds, numbers[name] = run_variant_in_fresh_process(name, epochs)
            else:
                seconds, numbers[name] = run_variant(name, x, y, epochs)
            best[name] = min(seconds, best.get(name, float("inf")))
            all_seconds.setdefault(name, []).append(round(seconds, 2))
    header = (f"{'variant':24s} {'seconds':>8s} {'ms/epoch':>9s} {'speed-up':>9s}   "
              f"{'loss':>6s} {'acc':>6s} {'val_loss':>8s} {'val_acc':>7s}")
    print(header)
    print("-" * len(header))
    baseline = best[names[0]]
    for name in names:
        seconds = best[name]
        loss, acc, val_loss, val_acc = numbers[name]
        print(f"{name:24s} {seconds:8.1f} {1000 * seconds / epochs:9.1f} "
              f"{baseline / seconds:8.2f}x   {loss:6.3f} {acc:6.3f} {val_loss:8.3f} "
              f"{val_acc:7.3f}", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return {"epochs": epochs, "repeats": repeats, "variants": {
        name: {"seconds": round(best[name], 2), "all_seconds": all_seconds[name],
               "speedup": round(baseline / best[name], 2),
               "final": dict(zip(FINAL_NAMES, map(_rounded, numbers[name])))}
        for name in names}}


def seed_spread(x, y, epochs, num_seeds, vary):
    seeds = [SEED] + list(range(1, num_seeds))
    varied = {"both": "starting weights and batch order",
              "init": "starting weights only (batch order of seed 116)",
              "shuffle": "batch order only (starting weights of seed 116)"}[vary]
    print(f"the notes' setup, {epochs} epochs, {len(seeds)} seeds varying the {varied}\n")
    print(f"{'seed':>5s} {'loss':>7s} {'acc':>7s} {'val_loss':>9s} {'val_acc':>8s}")
    rows = []
    for seed in seeds:
        if vary == "both":
            model = build_model(seed=seed)
        elif vary == "init":
            model = build_model(seed=seed, shuffle_seed=SEED)
        else:
            model = build_model(seed=SEED, shuffle_seed=seed)
        history = fit_notes(model, x, y, epochs=epochs)
        rows.append(final_numbers(history))
        print(f"{seed:5d} " + " ".join(f"{v:7.3f}" for v in rows[-1]), flush=True)
    table = np.array(rows)
    print("\n  min " + " ".join(f"{v:7.3f}" for v in table.min(axis=0)))
    print("  max " + " ".join(f"{v:7.3f}" for v in table.max(axis=0)))
    print("notes  0.333   0.967     0.400    1.000")
    return {"epochs": epochs, "varied": varied, "runs": {
        str(seed): dict(zip(FINAL_NAMES, map(_rounded, row)))
        for seed, row in zip(seeds, rows)}}


def record(path, section, result, load_before):
    """Write ``result`` into ``section`` of the JSON file at ``path``, with the machine."""
    path = Path(path)
    report = json.loads(path.read_text()) if path.exists() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                            cwd=Path(__file__).resolve().parents[1],
                            capture_output=True, text=True).stdout.strip()
    report[section] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "cpu_model": cpu_model(),
                    "python": platform.python_version(), "tensorflow": tf.__version__,
                    "keras": keras.__version__, "commit": commit,
                    "load_before": load_before,
                    "load_after": [round(v, 2) for v in os.getloadavg()]},
        **result}
    path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    print(f"recorded in {path} ({section})")


def time_pages(names=None):
    """Execute each Keras page cold (fresh kernel), one after the other, and time it."""
    import jupytext
    from nbclient import NotebookClient

    book = Path(__file__).resolve().parents[1] / "book" / "keras"
    pages = [book / f"{name}.md" for name in names] if names else sorted(book.glob("*.md"))
    print(f"cold execution of {len(pages)} Keras pages, {os.cpu_count()} cores\n")
    total = 0.0
    for page in pages:
        notebook = jupytext.read(page)
        client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(page.parent)}})
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
        total += seconds
        print(f"{page.name:18s} {seconds:6.1f} s", flush=True)
    print(f"{'total':18s} {total:6.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each variant this many times (interleaved), keep the best")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS),
                        choices=list(VARIANTS), metavar="NAME")
    parser.add_argument("--seeds", type=int, default=0,
                        help="instead of timing, run the notes' setup with this many seeds")
    parser.add_argument("--vary", choices=["both", "init", "shuffle"], default="both",
                        help="with --seeds: what the seed changes (default: both)")
    parser.add_argument("--pages", nargs="*", metavar="PAGE",
                        help="instead, time the cold execution of the Keras pages "
                             "(all, or the named ones, e.g. six-steps)")
    parser.add_argument("--out", metavar="FILE",
                        help="record the results in this JSON file (one section per mode)")
    parser.add_argument("--one", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:   # one timing for time_variants, printed as JSON on the last line
        x, y = load_iris_shuffled()
        fit_notes(build_model(), x, y, epochs=2)  # warm-up: TF kernels
        seconds, numbers = run_variant(args.one, x, y, args.epochs)
        print(json.dumps([seconds, *numbers]))
        return
    if args.pages is not None:
        time_pages(args.pages)
        return
    x, y = load_iris_shuffled()  # all 150 flowers, shuffled with seed 116, as in the notes
    load_before = [round(v, 2) for v in os.getloadavg()]
    if args.seeds:
        result = seed_spread(x, y, args.epochs, args.seeds, args.vary)
        section = "seeds" if args.vary == "both" else f"seeds_{args.vary}"
    else:
        result = time_variants(x, y, args.epochs, args.variants, args.repeats)
        section = "timing"
    if args.out:
        record(args.out, section, result, load_before)


if __name__ == "__main__":
    main()
