"""Probes as code: the modules of ``autograder/checks/in_kernel`` keep the rules that let
them run in the student's kernel, each check's probe ships as complete code, and the
probes give what the judges expect on made-up notebooks."""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import symtable
from pathlib import Path

import pytest

from autograder.checks import ASSIGNMENTS, load
from autograder.checks.in_kernel import emit, figures, names
from autograder.checks.probe import Probe
from autograder.grading.probes import probe_program, probe_value

IN_KERNEL = Path(__file__).resolve().parents[2] / "autograder" / "checks" / "in_kernel"
# imported at the top of an in-kernel module; the heavy ones inside its functions
TOP_LEVEL = {"json", "sys", "numpy"}
INSIDE = {"keras", "tensorflow", "sklearn", "matplotlib"}


def in_kernel_modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8"))
            for p in sorted(IN_KERNEL.glob("*.py"))}


def every_probe() -> list[tuple[str, Probe]]:
    return [(f"{name}/{gid}", check.probe) for name in ASSIGNMENTS
            for gid, check in load(name)[0].items()]


# ----------------------------------------------------------------------------- the rules
def test_in_kernel_modules_import_only_what_a_kernel_has():
    wrong = []
    for stem, tree in in_kernel_modules().items():
        for node in tree.body:
            if isinstance(node, ast.Import):
                tops = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if module.startswith("autograder.checks.in_kernel."):
                    continue
                tops = {module.split(".")[0]} if not node.level else {"(relative)"}
            else:
                continue
            wrong += [f"{stem}: import {top} at the top" for top in tops - TOP_LEVEL]
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = getattr(node, "module", None) or node.names[0].name
                if module.split(".")[0] not in TOP_LEVEL | INSIDE | {"autograder"}:
                    wrong.append(f"{stem}: import {module}")
    assert not wrong, wrong


def test_in_kernel_modules_hold_functions_and_literals_only():
    wrong, defined = [], {}
    for stem, tree in in_kernel_modules().items():
        for index, node in enumerate(tree.body):
            if isinstance(node, ast.FunctionDef):
                names_ = [node.name]
            elif isinstance(node, ast.Assign) and all(
                    isinstance(t, ast.Name) for t in node.targets):
                try:
                    ast.literal_eval(node.value)
                except ValueError:
                    wrong.append(f"{stem}: {ast.unparse(node)[:60]} is not a literal")
                names_ = [t.id for t in node.targets]
            elif isinstance(node, (ast.Import, ast.ImportFrom)) or (
                    index == 0 and isinstance(node, ast.Expr)):  # the docstring
                continue
            else:
                wrong.append(f"{stem}: line {node.lineno} is neither a def nor a literal")
                continue
            for name in names_:
                if name in defined:
                    wrong.append(f"{name} is defined in {defined[name]} and {stem}")
                defined[name] = stem
        source = ast.unparse(tree)
        if "globals()" in source or "global " in source:
            wrong.append(f"{stem}: reaches the notebook's names other than through "
                         "the namespace argument")
    assert not wrong, wrong


def free_names(source: str) -> set[str]:
    """Names the code reads but never defines (builtins aside)."""
    top = symtable.symtable(source, "<probe>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    free, tables = set(), list(top.get_children())
    while tables:
        table = tables.pop()
        tables += table.get_children()
        free |= {s.get_name() for s in table.get_symbols()
                 if s.is_referenced() and s.is_global() and not s.is_declared_global()}
    return free - defined - set(dir(builtins))


@pytest.mark.parametrize("where, probe", every_probe(), ids=lambda v: v if
                         isinstance(v, str) else "")
def test_each_probe_ships_complete_code(where, probe):
    """Its code defines every name it reads: it runs where nothing of the grader is."""
    source = probe.source(emit.emit)
    assert free_names(source) == set(), where
    assert f"def {probe.name}(namespace" in source
    program = probe_program(probe, "0123abcd")
    compile(program, "<probe cell>", "exec")
    assert "'<<0123abcd>>', '<</0123abcd>>')" in program


# ----------------------------------------------------------------------------- the cell
def run_cell(program: str, namespace: dict) -> list[dict]:
    """The probe cell run in ``namespace`` as a kernel would: its stdout as outputs."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(program, "<probe cell>", "exec"), namespace)
    return [{"output_type": "stream", "name": "stdout", "text": out.getvalue()}]


HISTORIES = {"history_sgd": {"rule": "sgd_update", "epochs": 3, "hyperparams": {"lr": 0.1}}}
RUNS = {"history_sgd": {"init": "sgd_init", "update": "sgd_update",
                        "stated_hyperparams": {"lr": 0.1}}}


class Line:
    def __init__(self, label, y):
        self.label, self.y = label, y

    def get_label(self):
        return self.label

    def get_ydata(self):
        return self.y


class Axes:
    def __init__(self, *lines):
        self.lines = list(lines)

    def get_title(self):
        return "loss"

    def get_xlabel(self):
        return "epoch"

    def get_ylabel(self):
        return "loss"

    def get_legend(self):
        return object()

    def get_lines(self):
        return self.lines


class Figure:
    def __init__(self, *axes):
        self.axes = list(axes)

    def get_axes(self):
        return self.axes


RERUN = {"epochs": 2, "rtol": 1e-6}


def a_notebook(compiled_error=None, **names_) -> dict:
    """A made-up notebook's namespace: the set-up cell's ``train`` (losses from the
    learning rate; ``compiled_error`` is raised when it runs compiled, as a rule written
    with NumPy fails in a ``tf.function``) and the given names."""
    def train(init, update, hyperparams, epochs, compiled=True):
        if compiled and compiled_error:
            raise compiled_error
        return {"loss": [hyperparams["lr"] * (i + 1) for i in range(epochs)]}

    return {"__name__": "__main__", "train": train, "sgd_init": lambda p, h: {},
            "sgd_update": lambda *a: None, **names_}


def test_the_probe_cell_emits_json_and_leaves_no_name():
    probe = Probe(figures.probe_histories_plot, {"runs": RUNS, "rerun": RERUN})
    history = {"rule": "sgd_update", "epochs": 3, "hyperparams": {"lr": 0.1},
               "loss": [0.1, 0.2, 0.3]}
    namespace = a_notebook(history_sgd=history,
                           fig=Figure(Axes(Line("SGD", [0.1, 0.2, 0.3]))))
    before = set(namespace)
    got = probe_value(run_cell(probe_program(probe, "n1"), namespace), "n1")
    assert set(namespace) - {"__builtins__"} == before
    assert got["histories"]["history_sgd"]["rerun"] == [0.1, 0.2]
    assert got["axes"][0]["lines"] == [{"label": "SGD", "y": [0.1, 0.2, 0.3]}]
    assert got == probe.run_here(namespace)  # the same code, run here


def test_a_figure_probe_says_what_is_missing():
    got = figures.probe_histories_plot(a_notebook(history_sgd=[1, 2], fig=None),
                                       RUNS, RERUN)
    assert got["histories"]["history_sgd"] == {"error": "no dict named history_sgd"}
    assert got["axes"] == "fig is not a matplotlib figure (AttributeError)"
    notebook = a_notebook(history_sgd={"epochs": 3, "loss": [1.0]})
    del notebook["train"]
    history = figures.probe_histories_plot(notebook, RUNS, RERUN)["histories"]["history_sgd"]
    assert history["rerun"] == history["rerun_compiled"] == {"error": "NameError"}


def test_the_rerun_is_eager_and_compiled_only_when_eager_gives_other_losses():
    """A rule that fails only in a tf.function (NumPy) is rerun eagerly and passes; the
    compiled rerun runs only when the eager one does not give the history."""
    history = {"rule": "sgd_update", "epochs": 3, "hyperparams": {"lr": 0.1},
               "loss": [0.1, 0.2, 0.3]}
    numpy_rule = a_notebook(NotImplementedError("numpy() in a tf.function"),
                            history_sgd=history)
    got = figures.probe_histories_plot(numpy_rule, RUNS, RERUN)["histories"]["history_sgd"]
    assert got["rerun"] == [0.1, 0.2] and "rerun_compiled" not in got
    typed = a_notebook(NotImplementedError("numpy() in a tf.function"),
                       history_sgd=dict(history, loss=[0.3, 0.2, 0.1]))
    got = figures.probe_histories_plot(typed, RUNS, RERUN)["histories"]["history_sgd"]
    assert got["rerun_compiled"] == {"error": "NotImplementedError"}


def test_a_missing_name_is_a_name_error_as_in_python():
    with pytest.raises(NameError, match="name 'build_model' is not defined"):
        names.student({}, "build_model")


def test_values_that_are_not_plain_data_become_lists_or_unreadable():
    class Array:
        def tolist(self):
            return [1.0, float("nan")]

    assert emit.as_json_text({"a": Array(), "b": object()}) == \
        '{"a": [1.0, NaN], "b": "%s"}' % emit.UNREADABLE


def test_hidden_inputs_must_be_plain_data():
    with pytest.raises(ValueError):
        Probe(figures.probe_histories_plot, {"runs": float("nan")})
    with pytest.raises(TypeError):
        Probe(figures.probe_histories_plot, {"runs": {1, 2}})


@pytest.mark.slow  # TensorFlow
def test_the_rule_probe_records_a_rule_and_reports_a_missing_one():
    import tensorflow as tf

    from autograder.checks.in_kernel.rules import probe_update_rule

    def sgd_update(params, grads, states, hyperparams):
        for p, g in zip(params, grads):
            p.assign_sub(hyperparams["lr"] * g)

    scenario = {"init": "sgd_init", "update": "sgd_update", "hyperparams": {"lr": 0.5},
                "start": [[1.0, 2.0]], "state_values": {}, "grads": [[[1.0, -1.0]]] * 2,
                "record": [1, 2], "keys": []}
    notebook = {"sgd_init": lambda params, hyperparams: {}, "sgd_update": sgd_update}
    got = probe_update_rule(notebook, {"fresh": scenario})
    assert got == {"fresh": {"records": [{"params": [[0.5, 2.5]], "states": {}},
                                         {"params": [[0.0, 3.0]], "states": {}}]}}
    assert probe_update_rule({}, {"fresh": scenario}) == \
        {"fresh": {"error": "KeyError: 'sgd_init'"}}
    assert tf.executing_eagerly()


@pytest.mark.slow  # TensorFlow, Keras
def test_the_build_model_probe_reads_a_models_layers():
    import keras

    from autograder.checks.in_kernel.keras_six_steps import probe_build_model

    def build_model():
        return keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])

    got = probe_build_model({"build_model": build_model}, [[5.0, 3.0, 1.5, 0.2]])
    assert (got["sequential"], got["built"], got["params"]) == (True, True, 15)
    assert [layer["class"] for layer in got["layers"]] == ["Dense"]
    assert len(got["outputs"]) == 3
    assert probe_build_model({}, [[5.0, 3.0, 1.5, 0.2]]) == \
        {"error": "NameError: name 'build_model' is not defined"}



@pytest.mark.slow  # TensorFlow, Keras
def test_only_a_fitted_exact_twin_of_the_specified_model_is_lent():
    """A probe borrows the notebook's model only when nothing but names and weights
    tells it from the specified one: any other class, layer setting, initializer,
    optimizer setting, loss, metric or compile option, or a model never fit, is not
    lent (the probe builds its own)."""
    import keras
    import numpy as np

    from autograder.checks.in_kernel.keras_models import specified_iris_model, traced_twin

    class MySequential(keras.Sequential):
        pass

    def compiled(model=None, **changes):
        model = model or specified_iris_model()
        settings = {"optimizer": keras.optimizers.SGD(learning_rate=0.1),
                    "loss": keras.losses.SparseCategoricalCrossentropy(),
                    "metrics": ["sparse_categorical_accuracy"], **changes}
        model.compile(**settings)
        return model

    def fitted(model):
        model.fit(np.zeros((4, 4)), np.zeros(4), epochs=1, verbose=0)
        return model

    specified = compiled()
    twin = fitted(compiled())
    assert traced_twin(twin, specified) is twin
    others = {
        "never fit": compiled(),
        "another learning rate": fitted(compiled(optimizer=keras.optimizers.SGD(0.2))),
        "momentum": fitted(compiled(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))),
        "from_logits": fitted(compiled(
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))),
        "another metric": fitted(compiled(metrics=["accuracy"])),
        "run eagerly": fitted(compiled(run_eagerly=True)),
        "steps_per_execution": fitted(compiled(steps_per_execution=2)),
        "another initializer": fitted(compiled(keras.Sequential([
            keras.Input(shape=(4,)), keras.layers.Dense(
                3, activation="softmax", kernel_regularizer=keras.regularizers.l2(),
                kernel_initializer="zeros")]))),
        "a subclass": fitted(compiled(MySequential(specified_iris_model().layers[:]))),
        "float64": compiled(keras.Sequential([
            keras.Input(shape=(4,), dtype="float64"), keras.layers.Dense(
                3, activation="softmax", kernel_regularizer=keras.regularizers.l2(),
                dtype="float64")])),
        "not a model": "model",
    }
    others["float64"].make_train_function()  # as fit would (float64 and L2 cannot fit)
    lent = [what for what, model in others.items() if traced_twin(model, specified)]
    assert lent == []


def test_the_plot_judge_tells_a_compiled_only_failure_from_a_wrong_rule():
    from autograder.checks.figures import RERUN_EPOCHS, judge_histories_plot

    loss = [0.5 - 0.001 * i for i in range(100)]
    want = {"histories": {"history_sgd": {"rule": "sgd_update", "epochs": 100,
                                          "hyperparams": {"lr": 0.1}}}, "one_axes": True}
    axes = [{"title": "t", "xlabel": "x", "ylabel": "y", "legend": True,
             "lines": [{"label": "SGD", "y": loss}]}]

    def judged(**reruns):
        history = {"rule": "sgd_update", "epochs": 100, "hyperparams": {"lr": 0.1},
                   "loss": loss, **reruns}
        return judge_histories_plot({"histories": {"history_sgd": history}, "axes": axes},
                                    want)

    same, other = loss[:RERUN_EPOCHS], [0.9] * RERUN_EPOCHS
    numpy_error = {"error": "NotImplementedError"}
    assert judged(rerun=same) == []
    assert judged(rerun=numpy_error, rerun_compiled=same) == []  # reproduced compiled
    assert judged(rerun=other, rerun_compiled=same) == []
    [message] = judged(rerun=other, rerun_compiled=numpy_error)
    assert "is not what your sgd_update gives" in message
    assert "compiled, your sgd_update raised NotImplementedError: that alone is fine" in message
    [message] = judged(rerun=other, rerun_compiled=other)
    assert "is not what your sgd_update gives" in message and "compiled," not in message
    [message] = judged(rerun={"error": "ValueError"}, rerun_compiled=numpy_error)
    assert message == ("The check could not rerun your sgd_update with train (eagerly it "
                       "raised ValueError and compiled it raised NotImplementedError).")
    # a rerun of another length than asked for is no rerun
    assert judged(rerun=loss[:RERUN_EPOCHS + 1], rerun_compiled=loss[:1])
