"""The facts the Keras chapters (book/keras/*.md) state, checked against Keras itself.

- the hand-computed parameter counts and output shapes of layers.md, six-steps.md and
  subclassing.md: each number must appear on its page and agree with Keras;
- the validation bookkeeping: 25 validation entries for 500 epochs with
  validation_freq=20, at epochs 20, 40, ..., 500; validation_split holds out the
  last fraction of the arrays;
- course.keras_tools.plot_history draws every metric name the pages compile with;
- the pages' ground rules: `lr=` only in the one cell that shows its error, only
  six-steps.md trains for the notes' 500 epochs, each page has objectives, a
  summary and exercises, and _toc.yml lists the pages.

Cheap on purpose (no 500-epoch fit): TensorFlow is imported once for the module.
"""

import importlib.util
import json
import math
import re
from pathlib import Path

import jupytext
import matplotlib
import numpy as np
import pytest
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from course.keras_tools import metric_curves, plot_history, validation_epochs

ROOT = Path(__file__).resolve().parents[2]
KERAS_PAGES = ["six-steps", "layers", "compile", "fit-predict", "plotting",
               "subclassing", "keras2-to-3"]
PAGE_DIR = ROOT / "book" / "keras"


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    return keras


def page_text(name):
    return (PAGE_DIR / f"{name}.md").read_text()


def code_cells(name):
    notebook = jupytext.read(PAGE_DIR / f"{name}.md")
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def squash(text):
    """The page text with runs of whitespace made single, to find a stated fact."""
    return re.sub(r"\s+", " ", text)


# --- parameter counts and output shapes -------------------------------------------

def conv_side(n, k, s, padding):
    """The formula the layers page states."""
    return (n - k) // s + 1 if padding == "valid" else math.ceil(n / s)


# (kernel, strides, padding) -> (output shape, parameters), as in the page's table
CONV_TABLE = {
    (3, 1, "valid"): ((6, 6, 8), 80),
    (3, 2, "valid"): ((3, 3, 8), 80),
    (3, 1, "same"): ((8, 8, 8), 80),
    (3, 2, "same"): ((4, 4, 8), 80),
    (5, 1, "valid"): ((4, 4, 8), 208),
}


@pytest.mark.parametrize("config", sorted(CONV_TABLE))
def test_conv2d_shapes_and_counts_of_the_layers_page(keras, config):
    k, s, padding = config
    shape, params = CONV_TABLE[config]
    assert shape == (conv_side(8, k, s, padding),) * 2 + (8,), "the formula disagrees"
    assert params == (k * k * 1 + 1) * 8
    conv = keras.layers.Conv2D(filters=8, kernel_size=k, strides=s, padding=padding)
    out = conv(np.zeros((1, 8, 8, 1), dtype="float32"))
    assert tuple(out.shape[1:]) == shape
    assert conv.count_params() == params
    stride_text = f"strides={s}, " if s != 1 else ""
    row = f'`Conv2D(8, {k}, {stride_text}padding="{padding}")` |'
    text = page_text("layers")
    assert row in text, f"the layers page lost its row for {config}"
    assert str(shape) in text.split(row, 1)[1].split("\n", 1)[0]


def test_the_digits_cnn_of_the_layers_page(keras):
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert shapes == [(6, 6, 8), (3, 3, 16), (144,), (10,)]
    assert [layer.count_params() for layer in model.layers] == [80, 1168, 0, 1450]
    assert model.count_params() == 2698
    text = squash(page_text("layers"))
    for stated in ["(9 \\cdot 8 + 1) \\cdot 16 = 1168", "144 \\cdot 10 + 10 = 1450",
                   "| total | | 2698 |", "(3, 3, 16)"]:
        assert stated in text, stated


def test_the_dense_and_lstm_counts_of_the_layers_page(keras):
    mlp = keras.Sequential([
        keras.Input(shape=(8, 8, 1)), keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10),
    ])
    assert [layer.count_params() for layer in mlp.layers] == [0, 2080, 330]
    lstm = keras.Sequential([keras.Input(shape=(20, 1)), keras.layers.LSTM(16),
                             keras.layers.Dense(1)])
    assert [layer.count_params() for layer in lstm.layers] == [1152, 17]
    assert 4 * (16 * (1 + 16) + 16) == 1152
    text = squash(page_text("layers"))
    for stated in ["64 \\cdot 32 + 32 = 2080", "32 \\cdot 10 + 10 = 330", "2410 in all",
                   "4 \\cdot (16 \\cdot 17 + 16) = 1152", "16 + 1 = 17"]:
        assert stated in text, stated


def test_the_iris_layer_has_15_parameters(keras):
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])
    assert model.count_params() == 15
    assert "4 \\cdot 3 + 3 = 15" in page_text("six-steps")


def test_the_subclassed_models_of_the_subclassing_page(keras):
    namespace = {}
    cells = [cell.source for cell in code_cells("subclassing")]
    # the page teaches on its own IrisMLP; the notes' IrisModel is the exercise's answer
    assert not any("class IrisModel" in c for c in cells), "the graded IrisModel is printed"
    iris_cell = next(c for c in cells if "class IrisMLP(keras.Model)" in c)
    cnn_cell = next(c for c in cells if "class DigitsCNN(keras.Model)" in c)
    # the class definitions as printed on the page; the data loading is not needed
    exec(iris_cell.replace("x_train, y_train = load_iris_shuffled()", ""), namespace)
    iris = namespace["IrisMLP"]()
    iris(keras.Input(shape=(4,)))
    assert [layer.count_params() for layer in iris.layers] == [40, 27]
    assert iris.count_params() == 67

    class_source = cnn_cell[cnn_cell.index("class DigitsCNN"):cnn_cell.index("\n\n\nkeras")]
    exec(class_source, {"keras": keras}, namespace)
    cnn = namespace["DigitsCNN"]()
    out = cnn(keras.Input(shape=(8, 8, 1)))
    assert tuple(out.shape[1:]) == (10,)
    assert cnn.count_params() == 160 + 5770 == 5930
    text = squash(page_text("subclassing"))
    for stated in ["4 \\cdot 8 + 8 = 40", "8 \\cdot 3 + 3 = 27", "67 in all",
                   "(3 \\cdot 3 \\cdot 1 + 1) \\cdot 16 = 160",
                   "576 \\cdot 10 + 10 = 5770", "5930 in all"]:
        assert stated in text, stated


# --- validation bookkeeping ---------------------------------------------------------

def test_keras_validates_25_times_in_500_epochs_with_freq_20(keras):
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])
    validated = [e + 1 for e in range(500) if model._should_eval(e, 20)]
    assert validated == list(range(20, 501, 20)) and len(validated) == 25
    # the helper places 25 values after 500 epochs at the same epochs, unasked
    assert validation_epochs(range(1, 501), 25) == validated
    assert "500 / 20 = 25" in page_text("six-steps")


def _iris_model(keras, seed=116):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(4,)),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                  loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


def test_fit_validates_at_the_epochs_plot_history_uses(keras):
    from course.data import load_iris_shuffled

    x, y = load_iris_shuffled()
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: "val_loss" in logs and seen.append(epoch + 1))
    history = _iris_model(keras).fit(x, y, epochs=6, validation_split=0.2,
                                     validation_freq=3, callbacks=[record], verbose=0)
    assert seen == [3, 6]
    curves = {name: val for name, _, val in metric_curves(history, validation_freq=3)}
    assert curves["loss"][0] == seen
    assert len(history.history["loss"]) == 6 and len(history.history["val_loss"]) == 2


def test_validation_split_holds_out_the_last_fraction_before_shuffling(keras):
    from sklearn import datasets

    iris = datasets.load_iris()
    x, y = iris.data, iris.target                 # sorted by species
    model = _iris_model(keras)
    history = model.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    last = model.evaluate(x[-30:], y[-30:], verbose=0, return_dict=True)
    first = model.evaluate(x[:30], y[:30], verbose=0, return_dict=True)
    assert history.history["val_loss"][0] == pytest.approx(last["loss"], rel=1e-6)
    assert history.history["val_loss"][0] != pytest.approx(first["loss"], rel=1e-3)


# --- plot_history ---------------------------------------------------------------------

def compiled_metric_names():
    """Every metric name passed as `metrics=[...]` in a code cell of a Keras page."""
    names = set()
    for page in KERAS_PAGES:
        for cell in code_cells(page):
            for group in re.findall(r"metrics=\[([^\]]*)\]", cell.source):
                names.update(re.findall(r"[\"']([\w]+)[\"']", group))
    return sorted(names)


# the data each metric needs: (labels, output units, output activation, loss)
METRIC_SETUPS = {
    "accuracy": ("integers", 3, "softmax", "sparse_categorical_crossentropy"),
    "sparse_categorical_accuracy": ("integers", 3, "softmax",
                                    "sparse_categorical_crossentropy"),
    "categorical_accuracy": ("one-hot", 3, "softmax", "categorical_crossentropy"),
    "binary_accuracy": ("0/1", 1, "sigmoid", "binary_crossentropy"),
    "mae": ("real", 1, None, "mse"),
    "mse": ("real", 1, None, "mse"),
}


def test_the_book_compiles_with_metric_names_this_test_knows():
    names = compiled_metric_names()
    assert {"accuracy", "sparse_categorical_accuracy", "mae"} <= set(names)
    unknown = set(names) - set(METRIC_SETUPS)
    assert not unknown, f"add {unknown} to METRIC_SETUPS so that plot_history is tested"


@pytest.mark.parametrize("metric", sorted(set(compiled_metric_names())
                                          | {"categorical_accuracy", "binary_accuracy"}))
def test_plot_history_draws_every_metric_name_of_the_book(keras, metric):
    labels, units, activation, loss = METRIC_SETUPS[metric]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = {"integers": rng.integers(0, 3, 40),
         "one-hot": np.eye(3)[rng.integers(0, 3, 40)],
         "0/1": rng.integers(0, 2, (40, 1)).astype("float32"),
         "real": rng.normal(size=(40, 1)).astype("float32")}[labels]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)),
                              keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=loss, metrics=[metric])
    history = model.fit(x, y, epochs=4, batch_size=20, validation_split=0.25,
                        validation_freq=2, verbose=0)
    assert set(history.history) == {"loss", metric, "val_loss", f"val_{metric}"}
    fig = plot_history(history)               # 4 epochs, 2 validations: freq 2
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert sorted(titles) == sorted(["loss", metric])
    for ax in fig.axes:
        train_line, val_line = ax.get_lines()
        assert list(train_line.get_xdata()) == [1, 2, 3, 4]
        assert list(val_line.get_xdata()) == [2, 4]
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == ax.get_title()
    plt.close(fig)


def test_plot_history_on_plain_dicts():
    history = {"loss": [1.0] * 500, "sparse_categorical_accuracy": [0.5] * 500,
               "val_loss": [1.0] * 25, "val_sparse_categorical_accuracy": [0.5] * 25}
    curves = metric_curves(history)
    assert [name for name, _, _ in curves] == ["loss", "sparse_categorical_accuracy"]
    assert curves[0][2][0] == list(range(20, 501, 20))
    # a list of epochs, as validation_freq may be
    listed = metric_curves({"loss": [1] * 10, "val_loss": [1] * 3}, validation_freq=[1, 5, 10])
    assert listed[0][2][0] == [1, 5, 10]
    # a validation-only key gets its own curve
    assert metric_curves({"val_auc": [0.5, 0.6]}) == [("auc", None, ([1, 2], [0.5, 0.6]))]
    # 100 epochs and 5 validations fit frequencies 17 to 20: no guessing
    with pytest.raises(ValueError, match="validation_freq"):
        metric_curves({"loss": [1] * 100, "val_loss": [1] * 5})
    # a wrong frequency is caught, not drawn
    with pytest.raises(ValueError, match="gives 4 validations"):
        metric_curves({"loss": [1] * 100, "val_loss": [1] * 5}, validation_freq=25)
    fig = plot_history({"loss": [3, 2, 1], "mae": [1, 0.5, 0.2], "lr": [0.1, 0.1, 0.05]})
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["loss", "mae", "lr"]
    plt.close(fig)


def test_plot_history_respects_initial_epoch():
    class FakeHistory:                       # what fit(initial_epoch=3, epochs=7) returns
        history = {"loss": [1, 1, 1, 1], "val_loss": [2, 2]}
        epoch = [3, 4, 5, 6]

    curves = metric_curves(FakeHistory(), validation_freq=2)
    assert curves[0][1][0] == [4, 5, 6, 7]
    assert curves[0][2][0] == [4, 6]


# --- the pages' ground rules ---------------------------------------------------------

def test_lr_appears_only_in_the_one_cell_that_shows_its_error():
    offenders, shown = [], []
    for page in KERAS_PAGES:
        for cell in code_cells(page):
            tags = cell.metadata.get("tags", [])
            if "raises-exception" in tags:
                shown.append((page, cell.source))
            elif re.search(r"\blr\s*=", cell.source):
                offenders.append((page, cell.source))
    assert not offenders, offenders
    assert len(shown) == 1, f"one intended error on the Keras pages, found {shown}"
    page, source = shown[0]
    assert page == "six-steps" and re.search(r"SGD\(lr=0\.1\)", source)


def test_only_six_steps_runs_the_notes_500_epochs():
    for page in KERAS_PAGES:
        sources = "\n".join(cell.source for cell in code_cells(page))
        if page == "six-steps":
            assert re.search(r"model\.fit\(x_train, y_train, batch_size=32, epochs=500,\s*"
                             r"validation_split=0\.2, validation_freq=20, verbose=0\)",
                             sources), "six-steps must run the notes' fit unchanged"
        else:
            epochs = [int(e) for e in re.findall(r"epochs=(\d+)", sources)]
            assert max(epochs, default=0) <= 100, f"{page} trains for {max(epochs)} epochs"


EXERCISES = {"six-steps": ["keras_six_steps"], "layers": ["keras_six_steps", "subclass_cnn"],
             "compile": ["keras_six_steps"], "fit-predict": ["keras_six_steps"],
             "plotting": ["keras_six_steps"], "subclassing": ["subclass_cnn"],
             "keras2-to-3": []}


@pytest.mark.parametrize("page", KERAS_PAGES)
def test_page_has_objectives_summary_and_exercises(page):
    text = page_text(page)
    assert "**By the end of this page you can**" in text
    assert "\n## Summary\n" in text
    exercises = text.split("\n## Exercises\n", 1)
    assert len(exercises) == 2, "no Exercises section"
    assert "{doc}`/book/exercises`" in exercises[1]
    for assignment in EXERCISES[page]:
        assert f"`{assignment}`" in exercises[1], f"{page} should point to {assignment}"
    setup = code_cells(page)[0]
    assert "remove-cell" in setup.metadata.get("tags", [])


def test_toc_lists_the_keras_pages_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    part = next(p for p in toc["parts"] if p.get("caption") == "Keras in six steps")
    assert [c["file"] for c in part["chapters"]] == [f"book/keras/{p}" for p in KERAS_PAGES]


@pytest.mark.slow
def test_the_benchmark_script_runs(keras, capsys):
    spec = importlib.util.spec_from_file_location(
        "keras_fit", ROOT / "benchmarks" / "keras_fit.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from course.data import load_iris_shuffled

    x, y = load_iris_shuffled()
    bench.time_variants(x, y, epochs=2, names=["notes", "steps_per_execution=4"],
                        fresh_process=False)
    bench.seed_spread(x, y, epochs=2, num_seeds=2, vary="shuffle")
    out = capsys.readouterr().out
    assert "steps_per_execution=4" in out and "notes  0.333" in out


# --- the six-steps page's recorded runs (benchmarks/results/keras_fit.json) -----------

FIT_RESULTS = ROOT / "benchmarks" / "results" / "keras_fit.json"
FINAL = ["loss", "sparse_categorical_accuracy", "val_loss",
         "val_sparse_categorical_accuracy"]
NUMBER_WORDS = {5: "five", 10: "ten"}


def recorded_runs(section):
    """{seed: (loss, accuracy, val_loss, val accuracy)} of a --seeds run."""
    runs = json.loads(FIT_RESULTS.read_text())[section]["runs"]
    return {int(seed): tuple(run[name] for name in FINAL) for seed, run in runs.items()}


def test_six_steps_quotes_the_recorded_seed_runs():
    """The seed table and the claims beside it are the recorded runs' figures."""
    text = squash(page_text("six-steps"))
    runs = recorded_runs("seeds")
    assert sorted(runs) == [*range(1, len(runs)), 116]
    assert f"with {NUMBER_WORDS[len(runs)]} seeds (116, then 1 to {len(runs) - 1})" in text
    low = [min(column) for column in zip(*runs.values())]
    high = [max(column) for column in zip(*runs.values())]
    for label, row in [("lowest", low), ("highest", high)]:
        cells = " | ".join(f"{v:.3f}" for v in row)
        assert f"| ten seeds, {label} | {cells} |" in text
    best_loss = min(runs, key=lambda s: runs[s][0])
    best_accuracy = max(runs, key=lambda s: runs[s][1])
    assert best_loss != best_accuracy
    assert f"({low[0]:.3f} and {high[1]:.3f}, from two different seeds)" in text
    notes = (0.333, 0.967, 0.400, 1.000)
    assert all(low[i] <= notes[i] <= high[i] for i in (2, 3)), \
        "the page says the notes' validation numbers lie inside the range"
    # the starting weights alone: "agree to within 0.001"
    init = recorded_runs("seeds_init").values()
    assert max(max(c) - min(c) for c in zip(*init)) <= 0.001
    assert "the final numbers agree to within 0.001" in text
    # the batch order alone moves them across nearly the whole table
    shuffle = list(zip(*recorded_runs("seeds_shuffle").values()))
    quote = (f"the final training loss moves from {min(shuffle[0]):.3f} to "
             f"{max(shuffle[0]):.3f} and the accuracy from {min(shuffle[1]):.3f} to "
             f"{max(shuffle[1]):.3f}")
    assert quote in text
    assert max(shuffle[0]) - min(shuffle[0]) >= 0.75 * (high[0] - low[0])


TIMED_ROWS = {  # the page's label of each timed variant of benchmarks/keras_fit.py
    "notes": "the notes' call",
    "steps_per_execution=4": "`steps_per_execution=4` in `compile` (one call per epoch)",
    "jit_compile=True": "`jit_compile=True` in `compile` (XLA)",
    "batch_size=120": "`batch_size=120` (one update per epoch)",
    "validation_freq=1": "`validation_freq=1`",
    "tf.data, cached": "the same split as cached `tf.data` datasets",
}


def test_six_steps_quotes_the_recorded_timing_run():
    """The timing table is the recorded run, and the words beside it say what that run
    shows: a knob whose change stays inside the run's own round-to-round noise "buys
    nothing measurable", the others are named with their ratio."""
    text = squash(page_text("six-steps"))
    timing = json.loads(FIT_RESULTS.read_text())["timing"]
    variants, machine = timing["variants"], timing["machine"]
    assert (timing["epochs"], timing["repeats"]) == (500, 2)
    assert (f"on a {machine['cores']}-core {machine['cpu_model']} machine at load "
            f"{round(machine['load_before'][0])}") in text
    notes = variants["notes"]
    for name, label in TIMED_ROWS.items():
        row = variants[name]
        same = row["final"] == notes["final"]
        assert f"| {label} | {row['seconds']:.1f} | {row['speedup']:.2f}x |" in text
        if name != "notes":
            assert f"{label} | {row['seconds']:.1f} | {row['speedup']:.2f}x | " \
                   f"{'yes' if same else 'no'}" in text, f"{name}: same numbers? {same}"
    noise = max(max(row["all_seconds"]) / min(row["all_seconds"]) - 1
                for row in variants.values())
    assert f"differed by up to {round(100 * noise)} %" in text

    def ratio(name):
        return variants[name]["seconds"] / notes["seconds"]

    for name in ["steps_per_execution=4", "jit_compile=True", "batch_size=120"]:
        assert abs(ratio(name) - 1) < noise, f"{name} is outside the noise"
    assert ratio("validation_freq=1") > 1 + noise
    assert f"after every epoch takes {ratio('validation_freq=1'):.2f} times as long" in text
    assert 1 / ratio("tf.data, cached") > 1 + noise
    assert 10 <= 1000 * notes["seconds"] / 500 < 100, "tens of milliseconds per epoch"
