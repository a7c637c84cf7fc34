"""The graded notebooks, checked in this process (one TensorFlow load for all).

- every part's checks (visible test cell + hidden probe and judge) give the reference
  solution full marks;
- every classic mistake (autograder/checks/<name>.py MISTAKES: small edits of the
  solution, i.e. fake submissions) fails its own part and only it;
- the references recomputed from Keras and from the seeded reference solutions equal
  the committed JSON and the hidden blocks in the solutions;
- the notebooks' structure: points, grade_ids, hidden blocks, no outputs committed,
  and student notebooks free of solutions, hidden tests and reference numbers.

The same verdicts through nbgrader itself, in kernels: the module starts these jobs
first (fixture ``jobs``), side by side, so that they run while the in-process checks
run; the tests at the end of the module wait for them:

- ``nbgrader validate`` of every solution: full marks;
- ``nbgrader validate --invert`` of every untouched student notebook: every graded
  test fails;
- ``make exercises`` into a temporary folder: files identical to exercises/ (the
  Chinese releases in exercises/zh_CN/ too);
- ``nbgrader autograde`` (the course configuration) of a submission of the adam
  assignment with one classic mistake in Part C (no bias correction) and a correct
  Part A whose code writes TensorFlow-style warnings to stderr while the test cell
  runs: Part C loses exactly its points, Part A keeps its points; and the same
  submission graded with nbgrader's IgnorePattern switched off loses Part A, which
  shows what the configuration protects.
"""

import ast
import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.commands import references
from autograder.checks import ASSIGNMENTS, Mistake, kit, load
from autograder.checks import notebook as nbt
from autograder.notebook import nbgrader_cells as cells_
from correct_variants import VARIANTS
from course.check import check_cell_source, is_check_cell
from numpy_rules import NUMPY_ANSWERS

RULE_ASSIGNMENTS = ("sgd_momentum", "adaptive", "adam")
# slow: the module starts nbgrader validate, release and autograde runs for every test
# (`make test` runs a file's tests in one pytest-xdist worker, so they start once)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "scripts"))
import make_public  # noqa: E402 - scripts/ is not a package: found through sys.path

# Appended to the student's correct Part A: while the test cell runs, the code writes
# to stderr what TensorFlow writes there (its Python logger's and its C++ log format).
NOISY_PART_A = '''

import sys as _sys
_quiet_adam_moments = adam_moments


def adam_moments(m, v, g, hyperparams):
    print("WARNING:tensorflow:5 out of the last 5 calls to <function adam_moments> "
          "triggered tf.function retracing.", file=_sys.stderr)
    print("W0000 00:00:1700000000.000000   12345 cpu_feature_guard.cc:210] This "
          "TensorFlow binary is optimized to use available CPU instructions.", file=_sys.stderr)
    return _quiet_adam_moments(m, v, g, hyperparams)
'''

AUTOGRADE = textwrap.dedent('''
    import json, os, sys
    from pathlib import Path
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from autograder.nbgrader_settings import course_config
    from autograder.commands.references import apply_mistake
    from autograder.checks import notebook as nbt
    from autograder.notebook.nbgrader_cells import cells_by_id
    from autograder.checks.adam import MISTAKES

    tmp, ignore_pattern, noisy = Path(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
    db = f"sqlite:///{tmp / 'gradebook.db'}"
    config = course_config(db_url=db, release_directory=str(tmp / "release"),
                           submitted_directory=str(tmp / "submitted"),
                           autograded_directory=str(tmp / "autograded"),
                           feedback_directory=str(tmp / "feedback"))
    config.IgnorePattern.enabled = ignore_pattern
    api = NbGraderAPI(config=config)
    assert api.generate_assignment("adam")["success"]

    solution = nbt.read("adam")
    answers = {gid: c.source for gid, c in cells_by_id(solution).items()}
    mistake = next(m for m in MISTAKES
                   if m.check == "adam_update" and m.name == "no bias correction")
    answers[mistake.cell] = apply_mistake(solution, mistake)
    answers["adam_moments_answer"] += noisy
    answers["bias_correction_answer"] = "Without it the first step is about 3.16 lr."
    student = nbformat.read(tmp / "release" / "adam" / "adam.ipynb", as_version=4)
    for cell in student.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
    target = tmp / "submitted" / "student" / "adam"
    target.mkdir(parents=True)
    nbformat.write(student, target / "adam.ipynb")

    result = api.autograde("adam", "student", force=True, create=True)
    assert result["success"], result
    with Gradebook(db) as gradebook:
        notebook = gradebook.find_submission_notebook("adam", "adam", "student")
        scores = {g.name: [g.score, g.max_score, g.needs_manual_grade] for g in notebook.grades}
    print("SCORES " + json.dumps(scores))
''')


def _start(args, tmp_path, name):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               TF_CPP_MIN_LOG_LEVEL="3")
    log = open(tmp_path / f"{name}.log", "w")
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               text=True)
    return process, tmp_path / f"{name}.log"


@pytest.fixture(scope="module", autouse=True)
def jobs(tmp_path_factory):
    """Start every nbgrader job now; ``jobs[name]()`` waits for one and gives its log."""
    tmp = tmp_path_factory.mktemp("nbgrader")
    nbgrader = [str(BIN / "nbgrader")]
    started = {
        "validate": _start(nbgrader + ["validate"] + [
            str(nbt.solution_path(n)) for n in ASSIGNMENTS], tmp, "validate"),
        "invert": _start(nbgrader + ["validate", "--invert"] + [
            str(nbt.exercise_path(n)) for n in ASSIGNMENTS], tmp, "invert"),
        "release": _start([sys.executable, "-m", "autograder", "release", "--out",
                           str(tmp / "release")], tmp, "release"),
    }
    for flag in ("1", "0"):
        course = tmp / f"course_ignore{flag}"
        course.mkdir()
        started[f"autograde{flag}"] = _start(
            [sys.executable, "-c", AUTOGRADE, str(course), flag, NOISY_PART_A], tmp,
            f"autograde{flag}")

    def wait(name):
        process, log = started[name]
        process.wait(timeout=600)
        return process.returncode, log.read_text()

    wait.tmp = tmp
    yield wait
    for process, _ in started.values():
        if process.poll() is None:
            process.kill()




def grade_parts(name, namespace, parts=None):
    """{grade_id: messages} for the parts of a notebook run in ``namespace``.

    A part passes (``[]``) iff its visible test code raises nothing and its probe's
    result satisfies its judge: the rule the grader applies.
    """
    nb = nbt.read(name)
    cells = cells_.cells_by_id(nb)
    checks, refs = load(name)
    verdicts = {}
    for grade_id in parts or nbt.graded_tests(nb):
        try:
            nbt.run_cells([cells_.strip_hidden_tests(cells[grade_id].source)], namespace)
        except Exception as error:  # noqa: BLE001 - any error fails the part
            verdicts[grade_id] = [f"visible test: {type(error).__name__}: {error}"]
            continue
        got = checks[grade_id].probe.run_here(namespace)
        verdicts[grade_id] = checks[grade_id].judge(got, refs[grade_id])
    return verdicts


@pytest.fixture(scope="module")
def solved():
    """{assignment: namespace after the reference solution's cells}."""
    return {name: references.solution_namespace(name) for name in ASSIGNMENTS}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_reference_solution_gets_full_marks(name, solved):
    verdicts = grade_parts(name, dict(solved[name]))
    assert verdicts and all(messages == [] for messages in verdicts.values()), verdicts


def _defined_names(source):
    """The names a cell binds at its top level."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def with_answers(nb, solved_namespace, answers):
    """The namespace of a submission whose answer cells ``answers`` ({grade_id: source})
    differ from the solution's: the solution's, then the first changed answer cell and
    every answer cell after it run again, in order, as a student's Restart & Run All
    would (so later parts see what the changes give)."""
    namespace = dict(solved_namespace)
    later, seen = [], False
    for cell in nb.cells:
        meta = cells_.nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        seen = seen or meta["grade_id"] in answers
        if seen:
            later.append(answers.get(meta["grade_id"], cell.source))
    for source in later:  # what a cell defines is gone until it runs (it may fail)
        for name in _defined_names(source):
            namespace.pop(name, None)
    for source in later:
        try:
            nbt.run_cells([source], namespace)
        except Exception:  # noqa: BLE001 - nbgrader runs on after a failing answer cell
            pass
    return namespace


def with_mistake(name, nb, solved_namespace, mistake):
    """The namespace of a submission with one classic mistake (``with_answers``)."""
    return with_answers(nb, solved_namespace,
                        {mistake.cell: references.apply_mistake(nb, mistake)})


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_each_classic_mistake_loses_exactly_its_part(name, solved):
    """Every part is graded, after the later cells ran again on the mistake: a mistake
    costs its own part and no other (the later parts' probes supply the reference pieces
    of the earlier steps they need)."""
    module = importlib.import_module(f"autograder.checks.{name}")
    nb = nbt.read(name)
    assert module.MISTAKES, f"{name} lists no classic mistakes"
    for mistake in module.MISTAKES:
        namespace = with_mistake(name, nb, solved[name], mistake)
        verdicts = grade_parts(name, namespace)
        failed = {part for part, messages in verdicts.items() if messages}
        assert failed == {mistake.check}, (mistake.name, verdicts)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v[2] for v in VARIANTS])
def test_correct_answers_written_differently_keep_full_marks(variant, solved):
    name, cell, what, old, new = variant
    nb = nbt.read(name)
    source = cells_.cells_by_id(nb)[cell].source
    assert source.count(old) == 1, (what, old)
    mistake = Mistake("", cell, what, old, new, "")
    verdicts = grade_parts(name, with_mistake(name, nb, solved[name], mistake))
    assert all(messages == [] for messages in verdicts.values()), (what, verdicts)


PART_D = {"sgd_momentum": ("iris_loss_plot", "iris_training_answer", "history_sgd", "sgd_update"),
          "adam": ("optimizer_comparison_plot", "comparison_answer", "history_adam",
                   "adam_update")}


@pytest.mark.parametrize("name", sorted(NUMPY_ANSWERS))
def test_rules_written_with_numpy_keep_every_point(name, solved):
    nb = nbt.read(name)
    namespace = with_answers(nb, solved[name], NUMPY_ANSWERS[name])
    part_d, _, history, rule = PART_D[name]
    assert namespace[history]["rule"] == rule  # the NumPy rules trained ...
    with pytest.raises(Exception):  # noqa: B017 - ... eagerly only: whatever tf.function raises
        namespace["train"](namespace[rule.replace("_update", "_init")], namespace[rule],
                           namespace[history]["hyperparams"], epochs=1, compiled=True)
    verdicts = grade_parts(name, namespace)
    assert part_d in verdicts and all(m == [] for m in verdicts.values()), verdicts


@pytest.mark.parametrize("name", sorted(NUMPY_ANSWERS))
def test_a_typed_in_history_beside_numpy_rules_fails_part_d_alone(name, solved):
    """The eager rerun gives other losses, the compiled one raises: Part D is lost,
    and its message says that the compiled failure alone would not matter."""
    part_d, cell, history, rule = PART_D[name]
    answers = dict(NUMPY_ANSWERS[name])
    typed = (f"{history} = dict({history}, loss=[0.3 * 0.98**i for i in range(100)])\n")
    answers[cell] = answers[cell] + typed
    verdicts = grade_parts(name, with_answers(nbt.read(name), solved[name], answers))
    assert {part for part, messages in verdicts.items() if messages} == {part_d}, verdicts
    message = " ".join(verdicts[part_d])
    assert f"{history}['loss'] is not what your {rule} gives" in message, message
    assert f"compiled, your {rule} raised" in message and "alone is fine" in message


def test_the_states_hint_and_check_states_agree(solved):
    """adaptive Part A's hint builds float64 states; tf.fill with a Python float makes
    float32 ones, which check_states now rejects at once, with what to do (before, it
    accepted them and update failed with a dtype error)."""
    import tensorflow as tf

    text = "\n".join(c.source for c in nbt.read("adaptive").cells)
    assert "tf.fill(p.shape, value)`)" not in text
    params = [tf.Variable([[1.0, -1.0]], dtype=tf.float64)]
    for name in RULE_ASSIGNMENTS:
        check_states = solved[name]["check_states"]
        with pytest.raises(AssertionError, match="dtype"):
            check_states({"s": [tf.Variable(tf.fill([1, 2], 0.1))]}, params=params, names=["s"])


# probes that refit a model borrow the notebook's own when it is exactly the specified
# one (autograder/checks/in_kernel/keras_models.py traced_twin): its functions are traced
LENDING_PROBES = [("keras_six_steps", "fit_history", "model", "fit_model"),
                  ("subclass_cnn", "train_cnn", "cnn", "train_cnn")]


@pytest.mark.parametrize("name, grade_id, variable, function", LENDING_PROBES,
                         ids=[p[1] for p in LENDING_PROBES])
def test_a_probe_that_borrows_the_notebooks_model_gives_the_same_and_gives_it_back(
        name, grade_id, variable, function, solved):
    """On the reference solution the probe hands the student's function the notebook's
    own model (seen below), gets what it gets on a model of its own (the notebook
    without that model), and leaves the model's weights, optimizer state and History
    as they were, for the cells after it."""
    check = load(name)[0][grade_id]
    namespace = dict(solved[name])
    model = namespace[variable]
    weights, slots = model.get_weights(), [v.numpy() for v in model.optimizer.variables]
    history = model.history
    given = []

    def spy(model_given, *args):
        given.append(model_given)
        return solved[name][function](model_given, *args)

    lent = check.probe.run_here({**namespace, function: spy})
    assert given == [model], "the probe built its own model: nothing was lent"
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(slots, model.optimizer.variables))
    assert model.history is history
    own = check.probe.run_here({k: v for k, v in namespace.items() if k != variable})
    assert lent.keys() == own.keys()
    for key, value in own.items():
        if isinstance(value, list) and key != "keys":  # losses: the same to float32's last digits
            assert np.allclose(lent[key], value, rtol=1e-6, atol=0), (key, lent[key], value)
        else:
            assert lent[key] == value, (key, lent[key], value)
    ref = references.committed_references(name)[grade_id]
    assert check.judge(lent, ref) == check.judge(own, ref) == []


def test_the_pooling_layer_is_taught_where_it_is_required():
    text = "\n".join(c.source for c in nbt.read("subclass_cnn").cells if c.cell_type == "markdown")
    assert "keras.io/api/layers/pooling_layers/max_pooling2d" in text
    assert "largest value" in text


@pytest.mark.parametrize("name", RULE_ASSIGNMENTS)
def test_judges_name_the_mistakes_they_recognise(name, solved):
    """Rule parts: a mistake's messages say what to fix (its hint or the part's hint)."""
    module = importlib.import_module(f"autograder.checks.{name}")
    nb = nbt.read(name)
    checks, refs = load(name)
    named = 0
    for mistake in module.MISTAKES:
        namespace = dict(solved[name])
        nbt.run_cells([references.apply_mistake(nb, mistake)], namespace)
        got = checks[mistake.check].probe.run_here(namespace)
        messages = checks[mistake.check].judge(got, refs[mistake.check])
        named += any(mistake.hint in m for m in messages)
        assert all(len(m) < 600 for m in messages), messages
    # the ones not named turn to nan/inf (t starting at 0) and are reported as such
    assert named >= len(module.MISTAKES) - 2


def test_judges_treat_probe_output_as_untrusted():
    for name in ASSIGNMENTS:
        checks, refs = load(name)
        for grade_id, check in checks.items():
            for got in (None, 3, "x", [], {}, {"error": "ValueError: boom"},
                        {"records": "x"}, {"values": [None]}, {"axes": [1]},
                        [{"class": None}], {"fresh": {"records": [{"params": [[float("nan")]]}]}}):
                messages = check.judge(got, refs[grade_id])
                assert messages and all(isinstance(m, str) for m in messages), (grade_id, got)


def _deeply_nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


# What a probe's JSON can hold, or a student's object turned into it.
HOSTILE = [None, float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 10**400, 0, -1,
           True, "x", "", [], {}, [None], [float("nan")], {"error": None}, {"x": [1, None]},
           [[1.0, 2.0]] * 3, "y" * 5000, _deeply_nested(100_000)]


def _paths(value, path=()):
    """Where a hostile value can replace a piece of ``value``: every dict key, and the
    first, second and last element of every list."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for index in sorted({0, 1, len(value) - 1} & set(range(len(value)))):
            yield from _paths(value[index], path + (index,))


def _replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


def _without(value, path):
    """``value`` with the dict key at ``path`` removed (None if path is not a key)."""
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    if not path or not isinstance(parent, dict):
        return None
    return _replaced(value, path[:-1], {k: v for k, v in parent.items() if k != path[-1]})


def hostile_variants(got):
    """The solution's probe output with each piece replaced by each hostile value, or
    removed; and each hostile value alone."""
    yield from HOSTILE
    for path in _paths(got):
        for new in HOSTILE:
            yield _replaced(got, path, new)
        removed = _without(got, path)
        if removed is not None:
            yield removed


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_judges_survive_any_probe_output(name, solved):
    """No judge raises, whatever the probe gave (the solution's output with any piece
    None, NaN, inf, huge, of the wrong type or shape, missing, or nested 100,000 deep):
    it returns messages, and the hostile values alone always fail."""
    checks, refs = load(name)
    for grade_id, check in checks.items():
        got = check.probe.run_here(dict(solved[name]))
        assert check.judge(got, refs[grade_id]) == [], grade_id
        for variant in hostile_variants(got):
            try:
                messages = check.judge(variant, refs[grade_id])
            except Exception as error:
                raise AssertionError(f"{grade_id}: {type(error).__name__}: {error} on "
                                     f"{kit.short_repr(variant, 300)}") from error
            assert isinstance(messages, list) and all(isinstance(m, str) for m in messages)
        for variant in HOSTILE:
            assert check.judge(variant, refs[grade_id]), (grade_id, kit.short_repr(variant))


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_references_recomputed_equal_the_committed_ones(name):
    """`python -m autograder references --check` in-process: the recomputed references
    equal the committed JSON within the tolerance measured across thread counts
    (autograder/references/tolerance.json), and the hidden blocks carry the committed
    JSON exactly."""
    module = importlib.import_module(f"autograder.checks.{name}")
    refs = references.compute(name)
    committed = json.loads((references.REFERENCES_DIR / f"{name}.json").read_text())
    problems = references.differences(refs, committed, **references.tolerance())
    assert not problems, problems[:10]
    hidden = references.with_hidden_blocks(nbt.read(name), module.CHECKS, committed)
    assert nbformat.writes(hidden) == nbformat.writes(nbt.read(name))


def test_reference_tolerance_is_far_below_the_judges_and_compares_numbers():
    tol = references.tolerance()
    judged = [ref[key] for name in ASSIGNMENTS for ref in load(name)[1].values()
              if isinstance(ref, dict) for key in ("rtol", "atol") if key in ref]
    assert judged and tol["rtol"] <= min(judged) / 10 and tol["atol"] <= min(judged) / 10
    # text would differ; numbers agree within the tolerance, and only within it
    assert references.differences({"x": [1.0000001]}, {"x": [1.0]}, 1e-6, 0.0) == []
    assert references.differences({"x": [1.00001]}, {"x": [1.0]}, 1e-6, 0.0)
    assert references.differences({"x": "a"}, {"x": "b"}, 1, 1)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_notebook_structure(name):
    nb = nbt.read(name)
    ids = [cells_.nbgrader_meta(c).get("grade_id") for c in nb.cells if cells_.nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "duplicate grade_id"
    assert all(re.fullmatch(r"[a-z][a-z0-9_]+", i) and not i.startswith("cell") for i in ids)
    graded = {cells_.nbgrader_meta(c)["grade_id"]: cells_.nbgrader_meta(c)["points"]
              for c in nb.cells if cells_.nbgrader_meta(c).get("grade")}
    total = sum(graded.values())
    title = nb.cells[0].source.splitlines()[0]
    assert f"({total} points)" in title and 10 <= total <= 25, (title, total)
    # every graded cell's points are the points in the heading just above it
    heading_points = None
    for cell in nb.cells:
        match = re.search(r"^## .*\((\d+) points?\)", cell.source, re.M)
        if cell.cell_type == "markdown" and match and not cells_.nbgrader_meta(cell).get("grade"):
            heading_points = int(match.group(1))
        meta = cells_.nbgrader_meta(cell)
        if meta.get("grade"):
            assert meta["points"] == heading_points, meta
    manual = [c for c in nb.cells
              if c.cell_type == "markdown" and cells_.nbgrader_meta(c).get("grade")]
    assert manual, "a manually graded answer cell"
    # the notebook runs on its own: only its last cell, the check, uses the course package
    assert is_check_cell(nb.cells[-1]) and nb.cells[-1].source == check_cell_source(
        f"{name}.ipynb", *make_public.repository((ROOT / "_config.yml").read_text()))
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert is_check_cell(cell) or (
                "import course" not in cell.source and "from course" not in cell.source)
        if cells_.nbgrader_meta(cell).get("grade") and cell.cell_type == "code":
            assert cell.source.count(cells_.HIDDEN_BEGIN_LINE) == 1
            assert cell.source.rstrip().endswith(cells_.HIDDEN_END_LINE)
    module = importlib.import_module(f"autograder.checks.{name}")
    code_graded = {i for i, p in graded.items() if cells_.cells_by_id(nb)[i].cell_type == "code"}
    assert set(module.CHECKS) == code_graded


def _reference_numbers(value):
    """Every float of a reference with at least 6 significant digits, as text."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _reference_numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _reference_numbers(v)
    elif isinstance(value, float) and value != 0 and len(f"{abs(value):.6g}".replace(".", "")) >= 6:
        yield repr(value)
        yield f"{value:.6g}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_notebook_has_no_solution_hidden_test_or_reference(name):
    folder = nbt.exercise_path(name).parent
    assert sorted(p.name for p in folder.iterdir()) == [f"{name}.ipynb"]
    text = nbt.exercise_path(name).read_text()
    student = nbformat.reads(text, as_version=4)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "_hidden_checks",
                   "hidden_inputs", "Model answer", "MARK SCHEME"):
        assert marker not in text, marker
    # no line of any solution region survives (unless the instructions quote it)
    given = "\n".join(c.source for c in nbt.read(name).cells
                      if not cells_.nbgrader_meta(c).get("solution"))
    for cell in nbt.read(name).cells:
        source = cell.source
        if cells_.nbgrader_meta(cell).get("solution") and cell.cell_type == "code":
            for region in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, re.S):
                for line in region.splitlines():
                    line = line.strip()
                    if len(line) > 12 and not line.startswith("#") and line not in given:
                        assert line not in text, line
    sources = "\n".join(c.source for c in student.cells if not is_check_cell(c))
    _, refs = load(name)
    for number in set(_reference_numbers(refs)):
        assert number not in sources, number
    assert "raise NotImplementedError()" in sources
    assert "import course" not in sources and "from course" not in sources


def test_reference_json_is_plain_data():
    for name in ASSIGNMENTS:
        text = (references.REFERENCES_DIR / f"{name}.json").read_text()
        assert "NaN" not in text and "Infinity" not in text
        json.loads(text)


# --- nbgrader itself (the jobs started by the fixture) ---------------------------------

def test_validate_passes_every_solution_with_full_marks(jobs):
    code, log = jobs("validate")
    assert code == 0, log
    assert log.count("Success! Your notebook passes all the tests.") == len(ASSIGNMENTS), log
    assert "VALIDATION FAILED" not in log and "CHANGED" not in log, log


def test_validate_invert_fails_every_test_of_every_student_notebook(jobs):
    code, log = jobs("invert")
    assert code == 0, log
    assert log.count("Success! The notebook does not pass any tests.") == len(ASSIGNMENTS), log
    assert "NOTEBOOK PASSED" not in log, log


def test_make_exercises_regenerates_identical_student_notebooks(jobs):
    code, log = jobs("release")
    assert code == 0, log
    generated = jobs.tmp / "release"
    for name in ASSIGNMENTS:
        assert sorted(p.name for p in (generated / name).iterdir()) == [f"{name}.ipynb"]
        assert (generated / name / f"{name}.ipynb").read_bytes() == \
            nbt.exercise_path(name).read_bytes(), f"exercises/{name} is stale: run make exercises"
        chinese = Path("zh_CN") / name / f"{name}.ipynb"  # the Chinese release beside it
        assert (generated / chinese).read_bytes() == (ROOT / "exercises" / chinese).read_bytes(), \
            f"exercises/{chinese.as_posix()} is stale: run make exercises"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    assert not [f for f in tracked.stdout.splitlines() if f.endswith(".db")]


def _scores(log):
    lines = [line for line in log.splitlines() if line.startswith("SCORES ")]
    assert lines, log
    return json.loads(lines[-1][len("SCORES "):])


def test_autograde_mistake_loses_its_part_and_warnings_cost_nothing(jobs):
    code, log = jobs("autograde1")
    assert code == 0, log
    scores = _scores(log)
    points = nbt.graded_tests(nbt.read("adam"))
    assert scores["bias_correction_answer"][2] is True  # left for the instructor
    for grade_id, max_points in points.items():
        if grade_id == "adam_update":
            assert scores[grade_id] == [0.0, max_points, False]  # no bias correction
        else:  # adam_moments too, although its test cell wrote warnings to stderr
            assert scores[grade_id] == [max_points, max_points, False], (grade_id, scores)


def test_without_ignore_pattern_the_same_warnings_would_cost_points(jobs):
    code, log = jobs("autograde0")
    assert code == 0, log
    scores = _scores(log)
    assert scores["adam_moments"][0] == 0.0, scores  # stderr in a test cell = failure
    assert scores["adam_bias_correction"][0] == scores["adam_bias_correction"][1]
