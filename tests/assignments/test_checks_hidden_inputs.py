"""Hidden inputs are not the visible ones: a rule that writes a hyperparameter as a number
(the one the notebook shows, or Keras's default) cannot pass a hidden check.

The values are read generically: the hidden hyperparameters from every check's probe
inputs (each dict under a ``"hyperparams"`` key), the visible ones from every dict literal in
the code the student sees (test cells without their hidden block, answer and example
cells), the defaults from the signatures of Keras's optimizers.
"""

import ast
import importlib
import inspect
import re

import pytest

from autograder.checks import ASSIGNMENTS, load
from autograder.checks import notebook as nbt
from autograder.notebook.nbgrader_cells import cells_by_id, strip_hidden_tests

# The notebooks' names of the hyperparameters -> the arguments of Keras's optimizers.
KERAS_ARGUMENTS = {
    "lr": ("learning_rate",), "eps": ("epsilon",), "rho": ("rho",),
    "beta": ("momentum", "beta_1"), "momentum": ("momentum",),
    "beta1": ("beta_1",), "beta2": ("beta_2",),
    "initial_accumulator": ("initial_accumulator_value",),
}


def hidden_hyperparams(probe):
    """Every literal dict found under a "hyperparams" key in a probe's hidden inputs, as
    the probe's code writes them out."""
    found = []
    for node in ast.walk(ast.parse(probe.inputs_line())):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if (isinstance(key, ast.Constant) and key.value == "hyperparams"
                        and isinstance(value, ast.Dict)):
                    found.append(ast.literal_eval(value))
    return found


def visible_values(names=ASSIGNMENTS):
    """{key: set of numbers} from every string-keyed dict literal the students see."""
    values = {}
    for name in names:
        for cell in nbt.read(name).cells:
            if cell.cell_type != "code":
                continue
            for node in ast.walk(ast.parse(strip_hidden_tests(cell.source))):
                if not isinstance(node, ast.Dict):
                    continue
                for key, value in zip(node.keys, node.values):
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        try:
                            number = ast.literal_eval(value)
                        except ValueError:
                            continue
                        if isinstance(number, (int, float)) and not isinstance(number, bool):
                            values.setdefault(key.value, set()).add(float(number))
    return values


def keras_defaults():
    """{argument: set of default numbers} over every Keras optimizer class."""
    import keras

    defaults = {}
    for _, cls in inspect.getmembers(keras.optimizers, inspect.isclass):
        if not issubclass(cls, keras.optimizers.Optimizer):
            continue
        for parameter in inspect.signature(cls.__init__).parameters.values():
            if isinstance(parameter.default, (int, float)) and not isinstance(
                    parameter.default, bool):
                defaults.setdefault(parameter.name, set()).add(float(parameter.default))
    return defaults


def hidden_cases():
    """(assignment, grade_id, hyperparams) for every check that passes hyperparameters."""
    cases = []
    for name in ASSIGNMENTS:
        checks, _ = load(name)
        for grade_id, check in checks.items():
            for hyperparams in hidden_hyperparams(check.probe):
                cases.append((name, grade_id, hyperparams))
    return cases


def test_every_check_that_passes_hyperparameters_is_found():
    """The parser finds each rule's hidden hyperparameters (so the tests below bite)."""
    found = {grade_id for _, grade_id, _ in hidden_cases()}
    for name in ASSIGNMENTS:
        checks, _ = load(name)
        for grade_id, check in checks.items():
            if re.search(r"['\"]hyperparams['\"]: \{['\"]", check.probe.inputs_line()):
                assert grade_id in found, (name, grade_id)
    assert len(found) >= 9


@pytest.mark.slow  # imports Keras for its optimizers' defaults
def test_hidden_hyperparameters_differ_from_visible_ones_and_defaults():
    visible, defaults = visible_values(), keras_defaults()
    assert visible["lr"] and defaults["learning_rate"]  # the readers found values
    problems = []
    for name, grade_id, hyperparams in hidden_cases():
        for key, value in hyperparams.items():
            assert key in KERAS_ARGUMENTS, f"{grade_id}: add {key!r} to KERAS_ARGUMENTS"
            shown = visible.get(key, set())
            default = set().union(*(defaults.get(a, set()) for a in KERAS_ARGUMENTS[key]))
            if float(value) in shown | default:
                problems.append(f"{name}.{grade_id}: hidden {key}={value} is a visible "
                                f"value {sorted(shown)} or a Keras default {sorted(default)}")
    assert not problems, "\n".join(problems)


def test_each_hidden_hyperparameter_has_a_hard_coded_mistake():
    """A `hard-coded <key>` mistake per key and check; test_assignments shows that each
    one loses its part (it could not, were the hidden value the visible one)."""
    missing, pairs = [], 0
    for name, grade_id, hyperparams in hidden_cases():
        module = importlib.import_module(f"autograder.checks.{name}")
        mistakes = [m for m in module.MISTAKES if m.check == grade_id]
        assert mistakes, f"{grade_id} has no classic mistakes"
        cells = cells_by_id(nbt.read(name))
        # the keys the solution's answer cell reads
        read = set().union(*(re.findall(r"hyperparams\[[\"'](\w+)[\"']\]", cells[m.cell].source)
                             for m in mistakes))
        names = {m.name for m in mistakes}
        pairs += len(read & set(hyperparams))
        missing += [f"{grade_id}: hard-coded {key}" for key in sorted(read & set(hyperparams))
                    if f"hard-coded {key}" not in names]
    assert not missing, missing
    assert pairs >= 20
