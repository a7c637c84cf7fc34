"""The grading fingerprint covers every file that decides a grade, and only those:
data one assignment's checks take from another's regrades both; editing an
assignment's own checks regrades that assignment alone."""

import hashlib
import shutil
from pathlib import Path

from autograder.checks import ASSIGNMENTS
from autograder.grading.fingerprint import checks_files

CHECKS = Path(__file__).resolve().parents[2] / "autograder" / "checks"


def digests(folder: Path) -> dict[str, str]:
    out = {}
    for name in ASSIGNMENTS:
        digest = hashlib.sha256()
        for path in checks_files(folder / f"{name}.py", ASSIGNMENTS, checks_dir=folder):
            digest.update(path.name.encode() + path.read_bytes())
        out[name] = digest.hexdigest()
    return out


def importers_of(module: str) -> set[str]:
    """The assignments whose checks import ``autograder.checks.<module>``."""
    return {name for name in ASSIGNMENTS
            if f"autograder.checks.{module}" in (CHECKS / f"{name}.py").read_text()}


def changed_after_editing(tmp_path: Path, module: str) -> set[str]:
    folder = tmp_path / "checks"
    shutil.copytree(CHECKS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    before = digests(folder)
    with open(folder / f"{module}.py", "a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")
    after = digests(folder)
    return {name for name in ASSIGNMENTS if before[name] != after[name]}


def test_shared_data_regrades_every_assignment_that_imports_it(tmp_path):
    # e.g. keras_six_steps and subclass_cnn take their hidden flowers from checks/iris.py
    shared = {path.stem for path in CHECKS.glob("*.py")} - set(ASSIGNMENTS) - {"__init__"}
    used = {module: importers_of(module) for module in sorted(shared)}
    assert len(used["iris"]) == 2, "the Keras assignments' shared iris inputs"
    for module, users in used.items():
        own = {module} & set(ASSIGNMENTS)
        assert changed_after_editing(tmp_path / module, module) >= own | users, module


def test_a_shared_helper_regrades_every_assignment(tmp_path):
    assert changed_after_editing(tmp_path, "kit") == set(ASSIGNMENTS)


def test_an_assignments_own_checks_regrade_it_alone(tmp_path):
    first = ASSIGNMENTS[0]
    assert not importers_of(first)
    assert changed_after_editing(tmp_path, first) == {first}
