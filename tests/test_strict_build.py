"""The strict build fails on a cell error and on a warning, and passes an intended error.

Each case builds a one-page book in a temporary folder with the course's own
_config.yml and scripts/build_book.py, so the test exercises the real settings.
"""

import subprocess

import pytest

import one_page_book

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
