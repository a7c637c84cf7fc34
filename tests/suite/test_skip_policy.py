"""With COURSE_STRICT_SKIPS=1 (CI), a test skipped for any reason other than a
documented missing optional tool fails the run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from skip_policy import undocumented

TESTS = Path(__file__).resolve().parents[1]  # skip_policy.py

SKIPPING = '''
import pytest

def test_no_bubblewrap():
    pytest.skip("unsandboxed: no bwrap on PATH (Debian/Ubuntu: apt-get install bubblewrap)")

def test_no_site():
    pytest.skip("no built website at _build/html: run `make book` first")

def test_runs():
    pass
'''


def test_only_documented_reasons_pass():
    skips = [("a", "unsandboxed: no bwrap on PATH"), ("b", "no built website"),
             ("c", "the process limit needs a grader running as root (own uid)")]
    assert undocumented(skips) == [("b", "no built website")]


def run_pytest(folder: Path, strict: bool, *options: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    env.pop("COURSE_STRICT_SKIPS", None)
    if strict:
        env["COURSE_STRICT_SKIPS"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *options, str(folder)], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("options", [
    (), pytest.param(("-n", "2"), marks=pytest.mark.slow),  # xdist starts in ~20 s
], ids=["one process", "xdist"])
def test_an_undocumented_skip_fails_the_run_in_ci(tmp_path, options):
    """Also when `make test` spreads the tests over pytest-xdist workers."""
    (tmp_path / "conftest.py").write_text("from skip_policy import pytest_sessionfinish\n")
    (tmp_path / "test_skips.py").write_text(SKIPPING)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    assert run_pytest(tmp_path, False, *options).returncode == 0
    strict = run_pytest(tmp_path, True, *options)
    assert strict.returncode == 1, strict.stdout
    assert "test_skips.py::test_no_site: no built website" in strict.stdout
    assert "test_no_bubblewrap:" not in strict.stdout
