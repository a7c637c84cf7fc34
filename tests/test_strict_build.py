"""The strict build fails on a cell error and on a warning, and passes an intended error.

Each case builds a one-page book in a temporary folder with the course's own
_config.yml and scripts/build_book.py, so the test exercises the real settings.
"""

import subprocess

import pytest
import yaml

import one_page_book

pytestmark = [pytest.mark.build, pytest.mark.slow]  # each test builds a one-page book

CASES = {
    "cell_error": ("```{code-cell} ipython3\nraise ValueError('boom from a cell')\n```\n", 1),
    "warning": ("See {ref}`a-label-that-does-not-exist`.\n", 1),
    "intended_error": (
        "```{code-cell} ipython3\n:tags: [raises-exception]\n"
        "raise ValueError('shown on purpose')\n```\n",
        0,
    ),
}


def _build(tmp_path, body):
    one_page_book.write(tmp_path, "# A page\n\n" + body)
    return subprocess.run(one_page_book.build_command(tmp_path),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("case", sorted(CASES))
def test_strict_build(tmp_path, case):
    body, expect_failure = CASES[case]
    result = _build(tmp_path, body)
    output = result.stdout + result.stderr
    if expect_failure:
        assert result.returncode != 0, f"{case} did not fail the build:\n{output[-3000:]}"
        assert "BOOK BUILD FAILED" in output
        if case == "cell_error":
            # the failing notebook's log, with the traceback, is printed
            assert "failing notebook log" in output and "boom from a cell" in output
        # a second build with nothing changed must fail again, not pass on stale state
        again = _build(tmp_path, body)
        assert again.returncode != 0, f"{case}: the unchanged rebuild passed"
    else:
        assert result.returncode == 0, output[-3000:]
        html = (tmp_path / "_build" / "html" / "page.html").read_text()
        assert "shown on purpose" in html


def test_a_change_in_the_course_package_executes_the_pages_again(tmp_path):
    """jupyter-cache keys outputs on a page's code alone, and Sphinx re-reads only the
    pages that changed: without course.sphinx_ext's fingerprint of
    ``course_execution_inputs`` the second build would keep the old number."""
    page = ("# A page\n\n```{code-cell} ipython3\n"
            "print('value is', open('inputs/value.txt').read())\n```\n")
    one_page_book.write(tmp_path, page)
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    config["sphinx"]["config"]["course_execution_inputs"] = ["inputs/*.txt"]
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "inputs").mkdir()
    html = tmp_path / "_build" / "html" / "page.html"
    for value in ("41", "42"):
        (tmp_path / "inputs" / "value.txt").write_text(value)
        result = subprocess.run(one_page_book.build_command(tmp_path),
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        assert f"value is {value}" in html.read_text(), f"stale output after {value}"
        assert "Executing" in result.stdout + result.stderr
    again = subprocess.run(one_page_book.build_command(tmp_path),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0
    assert "Executing" not in again.stdout + again.stderr  # nothing changed: cached
