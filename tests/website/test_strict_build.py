"""The strict build fails on a cell error and on a warning, and passes an intended error.

Each case builds a one-page book in a temporary folder with the course's own
_config.yml and scripts/build_book.py, so the test exercises the real settings.
"""

import re
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
        assert "[1/1] ok" in result.stdout  # executed before Sphinx, ...
        assert "Executing" not in result.stdout + result.stderr  # ... not by myst-nb
    again = subprocess.run(one_page_book.build_command(tmp_path),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0
    assert "0 page(s) to execute, 1 cached" in again.stdout  # nothing changed: cached
    assert "Executing" not in again.stdout + again.stderr


# Each page waits for the other to start: they pass only if both kernels run at once.
RENDEZVOUS = """```{{code-cell}} ipython3
import pathlib, time
pathlib.Path("{me}.started").touch()
deadline = time.monotonic() + 120
while not pathlib.Path("{other}.started").exists():
    assert time.monotonic() < deadline, "the other page never ran beside this one"
    time.sleep(0.2)
print("{me} met {other}")
```
"""


def _cache_records(book):
    from jupyter_cache import get_cache

    cache = get_cache(str(book / "_build" / ".jupyter_cache"))
    return sorted((r.pk, r.hashkey, r.created) for r in cache.list_cache_records())


def test_pages_execute_at_once_and_an_unchanged_rebuild_executes_nothing(tmp_path):
    one_page_book.write(tmp_path, "# A page\n\nNo code.\n")
    one_page_book.add_pages(tmp_path, {
        "left": "# Left\n\n" + RENDEZVOUS.format(me="left", other="right"),
        "right": "# Right\n\n" + RENDEZVOUS.format(me="right", other="left"),
    })
    command = one_page_book.build_command(tmp_path, "--jobs", "2")
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-3000:]
    # the first page is a notebook too (its header), without code
    assert "3 page(s) to execute, 0 cached" in first.stdout
    assert re.search(r"\[\d/3\] ok +[0-9.]+ s  left\.md", first.stdout), output
    assert "executed 3 page(s)" in first.stdout and "3 ok, 0 failed" in first.stdout
    assert output.count("Using cached notebook") == 3 and "Executing" not in output
    html = tmp_path / "_build" / "html"
    assert "left met right" in (html / "left.html").read_text()
    records = _cache_records(tmp_path)
    assert len(records) == 3

    for marker in tmp_path.glob("*.started"):
        marker.unlink()  # a page that ran again would now wait in vain and fail
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-3000:]
    assert "0 page(s) to execute, 3 cached" in again.stdout
    assert "Executing" not in output and "page(s) in" not in output
    assert _cache_records(tmp_path) == records


def test_a_failing_page_fails_the_parallel_build_and_prints_its_log(tmp_path):
    one_page_book.write(tmp_path, "# A page\n\n```{code-cell} ipython3\nprint(1)\n```\n")
    one_page_book.add_pages(tmp_path, {
        "good": "# Good\n\n```{code-cell} ipython3\nprint('fine')\n```\n",
        "bad": "# Bad\n\n```{code-cell} ipython3\nx = 1\n```\n\n"
               "```{code-cell} ipython3\nraise ValueError('boom from the bad page')\n```\n",
    })
    command = one_page_book.build_command(tmp_path, "--jobs", "2")
    for attempt in ("first", "unchanged rebuild"):
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        output = result.stdout + result.stderr
        assert result.returncode != 0, f"{attempt}: the build passed:\n{output[-3000:]}"
        assert re.search(r"FAILED +[0-9.]+ s  bad\.md", result.stdout), output
        assert "failing notebook log" in result.stderr and "bad.md" in result.stderr
        assert "ValueError: boom from the bad page" in result.stderr
        assert "BOOK BUILD FAILED" in result.stderr
    # the pages that passed are cached: the rebuild executed the failing page alone
    assert "1 page(s) to execute, 2 cached" in result.stdout


def test_a_configuration_error_is_one_line_not_a_traceback(tmp_path):
    one_page_book.write(tmp_path, "# A page\n\n```{code-cell} ipython3\nprint(1)\n```\n")
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    config["sphinx"]["config"]["course_mathjax_source"] = str(tmp_path / "no-mathjax")
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(one_page_book.build_command(tmp_path),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("error: MathJax is not installed"), result.stderr
    assert "Traceback" not in result.stderr and "BOOK BUILD FAILED" in result.stderr
