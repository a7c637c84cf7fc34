"""``references``: the hidden tests' expected outputs, written into the solutions.

    python -m autograder references            # all assignments
    python -m autograder references adam       # one
    python -m autograder references --check    # recompute, compare, write nothing
    python -m autograder references --blocks-only   # the hidden blocks, from the JSON

For every graded test cell (``autograder/checks/<assignment>.py``):

- update rules: run Keras's own optimizer (``reference_optimizers()[...].keras``)
  on the check's hidden inputs, in float64, and record its parameters and its state
  variables (mapped onto the notebook's state names) after the recorded steps; run
  each classic mistake (``MISTAKES``, edits of the solution) through the same probe
  and keep what it gives, so that the judge can name a mistake it recognises;
- models: the check module's ``compute_references(namespace)``, run on the reference
  solution with fixed seeds and op determinism;
- specification-only checks: the module's ``STATIC`` entries.

The result goes to ``autograder/references/<assignment>.json`` and, as the hidden block
of each test cell, into ``solutions/<assignment>/<assignment>.ipynb``: the probe, the
judge (with ``autograder/checks/kit.py``) and the reference, so that plain
``nbgrader validate``/``autograde`` reaches the grader's verdict inside the kernel.
"""

import importlib
import json
import os

import nbformat
import numpy as np

from autograder.checks import REFERENCES_DIR
from autograder.checks import notebook as nbtools
from autograder.checks.hidden_blocks import with_hidden_blocks
from autograder.checks.notebook import solution_namespace
from autograder.errors import UsageError
from autograder.notebook.nbgrader_cells import cells_by_id


# --- update rules: Keras's optimizers -------------------------------------------------

def _flat(x):
    return [float(v) for v in np.asarray(x, dtype=np.float64).ravel()]


def _label(scenario, spec):
    hp = ", ".join(f"{k}={v:g}" for k, v in spec.hyperparams.items())
    if scenario == "fresh":
        what = "20 steps from init_states"
    else:
        what = "3 steps from an intermediate state (step counter 6)"
    return f"With the hidden inputs ({what}; {hp})"


def reference_optimizers():
    """The course's reference rules and their Keras twins (the one import of them)."""
    from autograder.checks.instructor_rules import OPTIMIZERS
    return OPTIMIZERS


def keras_rule_reference(spec):
    """What Keras's optimizer gives on the check's hidden inputs, per scenario."""
    import tensorflow as tf

    OPTIMIZERS = reference_optimizers()
    out = {}
    for scenario, kw in spec.inputs().items():
        params = [
            tf.Variable(np.array(x, dtype=np.float64), name=f"param{i}")
            for i, x in enumerate(kw["start"])
        ]
        optimizer = OPTIMIZERS[spec.optimizer].keras(kw["hyperparams"])
        optimizer.build(params)

        def keras_state(name, optimizer=optimizer, params=params):
            _, (suffix, _) = spec.states[name]
            if suffix == "iteration":
                return optimizer.iterations
            found = [v for v in optimizer.variables if v.path.endswith(suffix)]
            assert len(found) == len(params), (name, [v.path for v in optimizer.variables])
            return found

        for name, value in kw["state_values"].items():
            _, (suffix, factor) = spec.states[name]
            if suffix == "iteration":
                optimizer.iterations.assign(int(value))
            else:
                for var, v in zip(keras_state(name), value):
                    var.assign(np.reshape(np.array(v, dtype=np.float64) / factor, var.shape))

        records = []
        for step, grads in enumerate(kw["grads"], start=1):
            grads = [tf.constant(np.array(g, dtype=np.float64)) for g in grads]
            optimizer.apply_gradients(zip(grads, params))
            if step in kw["record"]:
                states = {}
                for name in spec.states:
                    _, (suffix, factor) = spec.states[name]
                    if suffix == "iteration":
                        states[name] = float(optimizer.iterations.numpy()) * factor
                    else:
                        states[name] = [
                            [factor * v for v in _flat(var)] for var in keras_state(name)
                        ]
                records.append({"params": [_flat(p) for p in params], "states": states})
        out[scenario] = {
            "label": _label(scenario, spec),
            "steps": kw["record"],
            "start": [_flat(x) for x in kw["start"]],
            "records": records,
            "mistakes": [],
        }
    return out


# --- running the solution and its classic mistakes in this process -------------------

def apply_mistake(nb, mistake):
    """The answer cell's source with the mistake's edit (which must apply exactly once)."""
    source = cells_by_id(nb)[mistake.cell].source
    count = source.count(mistake.old)
    if count != 1:
        raise ValueError(
            f"mistake {mistake.name!r}: {mistake.old!r} occurs {count} times in {mistake.cell}"
        )
    return source.replace(mistake.old, mistake.new)


def mistake_records(name, module, nb, refs):
    """Add to each reference what its classic mistakes give, so the judge can name them.

    Rule references get the final parameters per scenario; references with ``cases``
    (``kit.judge_cases``) get all the values.
    """
    for mistake in getattr(module, "MISTAKES", []):
        if mistake.check not in refs:
            continue
        if "cases" not in refs[mistake.check] and "fresh" not in refs[mistake.check]:
            continue  # model checks: the tests grade their mistakes, the judge needs no record
        namespace = solution_namespace(
            name, nb, replace={mistake.cell: apply_mistake(nb, mistake)}, run=[mistake.cell]
        )
        got = module.CHECKS[mistake.check].probe.run_here(namespace)
        if "cases" in refs[mistake.check]:
            values = got.get("values")
            finite = isinstance(values, list) and all(
                isinstance(v, list) and None not in v for v in values)
            expected = [case["expected"] for case in refs[mistake.check]["cases"]]
            if finite and values != expected:
                refs[mistake.check]["mistakes"].append({"hint": mistake.hint, "values": values})
            continue
        for scenario, ref in refs[mistake.check].items():
            result = got.get(scenario, {})
            records = result.get("records") if isinstance(result, dict) else None
            if not records:
                continue
            params = records[-1]["params"]
            if any(v is None for p in params for v in p):
                continue  # nan/inf: the judge says so without naming the mistake
            if ref["records"][-1]["params"] == params:
                continue
            ref["mistakes"].append({"hint": mistake.hint, "params": params})


# --- all references of an assignment ------------------------------------------------

def compute(name):
    module = importlib.import_module(f"autograder.checks.{name}")
    nb = nbtools.read(name)
    refs = {}
    for grade_id, spec in getattr(module, "RULES", {}).items():
        refs[grade_id] = keras_rule_reference(spec)
    refs.update(json.loads(json.dumps(getattr(module, "STATIC", {}))))
    if hasattr(module, "compute_references"):
        refs.update(module.compute_references(nb))
    mistake_records(name, module, nb, refs)
    tests = nbtools.graded_tests(nb)
    if set(refs) != set(module.CHECKS) or set(module.CHECKS) != set(tests):
        raise ValueError(
            f"{name}: graded test cells {sorted(tests)}, checks {sorted(module.CHECKS)}, "
            f"references {sorted(refs)} should name the same parts"
        )
    return {grade_id: refs[grade_id] for grade_id in tests}


def dumps(refs):
    return json.dumps(refs, indent=1, sort_keys=False) + "\n"


TOLERANCE_PATH = REFERENCES_DIR / "tolerance.json"


def tolerance():
    """{"rtol", "atol"}: how far recomputed references may be from the committed ones
    (seeded Keras fits round differently on other CPUs and thread counts; the file says
    how it was measured)."""
    data = json.loads(TOLERANCE_PATH.read_text())
    return {"rtol": float(data["rtol"]), "atol": float(data["atol"])}


def differences(new, old, rtol, atol, path="$"):
    """Where two references differ: structure, strings and ints exactly, floats beyond
    ``atol + rtol * |old|``. A list of short descriptions (empty: they agree)."""
    if isinstance(old, float) and isinstance(new, (int, float)) and not isinstance(new, bool):
        return [] if abs(new - old) <= atol + rtol * abs(old) else [f"{path}: {new!r} != {old!r}"]
    if type(new) is not type(old):
        return [f"{path}: {type(new).__name__} != {type(old).__name__}"]
    if isinstance(old, dict):
        if list(new) != list(old):
            return [f"{path}: keys {list(new)} != {list(old)}"]
        return [d for k in old for d in differences(new[k], old[k], rtol, atol, f"{path}.{k}")]
    if isinstance(old, list):
        if len(new) != len(old):
            return [f"{path}: {len(new)} items != {len(old)}"]
        return [d for i, (n, o) in enumerate(zip(new, old))
                for d in differences(n, o, rtol, atol, f"{path}[{i}]")]
    return [] if new == old else [f"{path}: {new!r} != {old!r}"]


def notebook_text(nb) -> str:
    """The notebook's file content, as ``nbformat.write`` writes it."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def committed_references(name):
    path = REFERENCES_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def stale_files(name) -> list[str]:
    """The files of an assignment that are out of date: its references (recomputed
    here, compared within the measured tolerance) and its solution's hidden blocks
    (made from the committed references, compared exactly)."""
    module = importlib.import_module(f"autograder.checks.{name}")
    committed, nb = committed_references(name), nbtools.read(name)
    if committed is None:
        return [str(REFERENCES_DIR / f"{name}.json")]
    stale = []
    if differences(compute(name), committed, **tolerance()):
        stale.append(str(REFERENCES_DIR / f"{name}.json"))
    nb_path = nbtools.solution_path(name)
    if nb_path.read_text() != notebook_text(with_hidden_blocks(nb, module.CHECKS, committed)):
        stale.append(str(nb_path))
    return stale


def write(name, blocks_only=False) -> None:
    """Recompute the references of an assignment (``blocks_only``: keep the committed
    ones) and write them with the solution's hidden blocks."""
    module = importlib.import_module(f"autograder.checks.{name}")
    refs = committed_references(name) if blocks_only else compute(name)
    if refs is None:
        raise UsageError(f"{name}: no references yet to make hidden blocks from "
                         f"(run python -m autograder references {name})")
    nb_path = nbtools.solution_path(name)
    nb_path.write_text(notebook_text(with_hidden_blocks(nbtools.read(name), module.CHECKS,
                                                        refs)))
    if not blocks_only:
        REFERENCES_DIR.mkdir(exist_ok=True)
        (REFERENCES_DIR / f"{name}.json").write_text(dumps(refs))
    print(f"{name}: {len(refs)} references"
          + ("" if blocks_only else f" -> {name}.json") + f", hidden blocks -> {nb_path}")


def update(assignments, check=False, blocks_only=False) -> int:
    """Recompute the references of ``assignments`` and write them with the solutions'
    hidden blocks; ``blocks_only``: only the hidden blocks, from the committed
    references; ``check``: compare instead, and write nothing. 1 when something is out
    of date."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads
    if not check:
        for name in assignments:
            write(name, blocks_only)
        return 0
    stale = [path for name in assignments for path in stale_files(name)]
    if stale:
        print("out of date (run python -m autograder references):\n  " + "\n  ".join(stale))
        return 1
    return 0
