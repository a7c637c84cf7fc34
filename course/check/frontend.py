"""The "Check my notebook" cell: find the notebook the kernel belongs to, check it in a
separate process (the same command as in a terminal) and show the report in the cell.

Where the notebook is: JupyterLab, Jupyter Notebook and Binder give the kernel the file's
path (``JPY_SESSION_NAME``, also ``__session__``), VS Code ``__vsc_ipynb_file__``; in
Colab the notebook is not on the kernel's disk, so it is asked from the browser (what is
on screen, saved or not). Anywhere else (nbgrader, a grader's sandbox, the check's own
copy) the cell finds no notebook and says so in one line: it never runs a check there.
"""

from __future__ import annotations

import html
import importlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from course.check.kernel import RUNNING_ENV
from course.grading_terms import DEFAULT_LANGUAGE, say

CELL_COMMENT = {
    "en": ("# Check my notebook. Save the notebook first (Ctrl+S), then run this cell: it\n"
           "# runs a copy of the notebook from the top in a fresh kernel, as grading will,\n"
           "# and says for each part what grading will find (about a minute). The same\n"
           "# check in a terminal: python -m course.check {notebook}\n"),
    "zh_CN": ("# 检查我的笔记本。先保存笔记本（Ctrl+S），再运行这个单元：它在新的内核中从头\n"
              "# 运行笔记本的副本，与评分时相同，并说明评分时每个部分的结果（约需一分钟）。\n"
              "# 在终端中运行同样的检查：python -m course.check {notebook}\n"),
}

# The markdown cell before the check cell, in each language (scripts/check_cell.py)
CHECK_HEADING_ID = "check-my-notebook-heading"
CHECK_HEADING = {
    "en": ("## Check my notebook\n\n"
           "Before you hand the notebook in, save it (Ctrl+S) and run the cell below. It "
           "runs a copy of your notebook from the top in a fresh kernel, as grading will, "
           "with grading's time and output limits, and says for each part whether it is "
           "answered and passes the visible checks, and what else would cost points: an "
           "error and the cell it came from, a cell over the time limit, a deleted test "
           "cell, a result that holds only in your kernel, a renamed file. It needs the "
           "course's `course` package, as the cell says."),
    "zh_CN": ("## 检查我的笔记本\n\n"
              "提交笔记本之前，先保存（Ctrl+S），再运行下面的单元。它在新的内核中从头运行"
              "笔记本的副本，与评分时相同，采用评分的时间和输出上限，并说明每个部分是否已"
              "作答、是否通过可见检查，以及其他会扣分的问题：错误及其所在的单元、超时的"
              "单元、被删除的测试单元、只在你的内核中成立的结果、被改名的文件。它需要"
              "课程的 `course` 包，单元会给出安装方法。"),
}


def check_cell_source(notebook: str, url: str, branch: str,
                      language: str = DEFAULT_LANGUAGE) -> str:
    """The source of the last cell of every exercise notebook, in its language."""
    head, _, command = say("needs_course", language, url=url, branch=branch).partition(
        "pip install")
    return (CELL_COMMENT.get(language, CELL_COMMENT[DEFAULT_LANGUAGE]).format(
                notebook=notebook)
            + "try:\n"
            + "    from course.check import check_this_notebook\n"
            + "except ImportError:\n"
            + f"    print({head!r}\n          {'pip install' + command!r})\n"
            + "else:\n"
            + "    check_this_notebook()")


def _colab_notebook() -> dict | None:
    """The notebook as Colab's browser holds it, or None outside Colab."""
    if "google.colab" not in sys.modules:
        return None
    # Colab's own module, which exists only there (not a package students install)
    message = importlib.import_module("google.colab._message")
    reply = message.blocking_request("get_ipynb", request="", timeout_sec=120)
    notebook = reply.get("ipynb") if isinstance(reply, dict) else None
    return notebook if isinstance(notebook, dict) else None


def notebook_path(namespace: dict) -> Path | None:
    """The file of the notebook this kernel runs, as its front end says."""
    for where in (namespace.get("__vsc_ipynb_file__"), namespace.get("__session__"),
                  os.environ.get("JPY_SESSION_NAME")):
        if not where or not str(where).endswith(".ipynb"):
            continue
        path = Path(str(where))
        for candidate in (path, Path.cwd() / path, Path.cwd() / path.name):
            if candidate.is_file():
                return candidate.resolve()
    return None


def previous_input_unsaved(notebook_text: str) -> bool:
    """Whether the cell the student ran before this one is missing from the saved file
    (the notebook was not saved since)."""
    try:
        from IPython import get_ipython

        raw = get_ipython().history_manager.input_hist_raw
    except Exception:  # noqa: BLE001 - not in IPython: nothing to compare
        return False
    if len(raw) < 3 or not raw[-2].strip():
        return False
    import json

    try:
        cells = json.loads(notebook_text).get("cells", [])
    except ValueError:
        return False
    sources = {("".join(c["source"]) if isinstance(c.get("source"), list)
                else str(c.get("source", ""))).strip() for c in cells}
    return raw[-2].strip() not in sources


def check_this_notebook() -> int | None:
    """Check the notebook this kernel runs and show the report; the check's exit code
    (None when there was nothing to check)."""
    if os.environ.get(RUNNING_ENV):
        print(say("skipped"))
        return None
    from IPython import get_ipython

    shell = get_ipython()
    namespace = shell.user_ns if shell is not None else {}
    with tempfile.TemporaryDirectory(prefix="course-check-cell-") as tmp:
        colab = _colab_notebook()
        if colab is not None:
            import json

            path = Path(tmp) / "colab.ipynb"
            path.write_text(json.dumps(colab), encoding="utf-8")
            name = (colab.get("metadata", {}).get("colab", {}) or {}).get("name")
        else:
            path, name = notebook_path(namespace), None
        if path is None:
            print(say("no_file", "en") + "\n" + say("no_file", "zh_CN"))
            return None
        return _run_and_show(path, name, Path(tmp) / "report.json", colab is None)


class _Status:
    """Where the cell shows progress and the report: a display that updates in place
    in a notebook, plain lines elsewhere."""

    def __init__(self):
        from IPython import get_ipython

        self.handle = None
        if get_ipython() is not None and hasattr(get_ipython(), "kernel"):
            from IPython.display import HTML, display

            self.html = HTML
            self.handle = display(HTML("<p>…</p>"), display_id=True)

    def progress(self, line: str) -> None:
        if self.handle is not None:
            self.handle.update(self.html(f"<p>{html.escape(line)}</p>"))

    def show(self, report) -> None:
        from course.check.render import as_html, as_text

        if self.handle is not None:
            self.handle.update(self.html(as_html(report)))
        else:
            print(as_text(report))


def _run_and_show(path: Path, name: str | None, out: Path, saved_file: bool) -> int:
    from course.check.run import report_from_json

    command = [sys.executable, "-m", "course.check", str(path), "--json", str(out),
               "--progress-lines"] + (["--name", name] if name else [])
    status = _Status()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, encoding="utf-8", errors="replace",
                               env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    errors = []
    try:
        for line in process.stderr:
            if line.startswith("PROGRESS "):
                status.progress(line[len("PROGRESS "):].strip())
            else:
                errors.append(line)
        code = process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=30)
        raise
    if not out.exists():
        status.progress("")
        print("".join(errors).strip() or f"the check stopped (exit {code})")
        return code
    report = report_from_json(out.read_text(encoding="utf-8"))
    if saved_file and previous_input_unsaved(path.read_text(encoding="utf-8")):
        report.warnings.insert(0, say("unsaved", report.language))
    status.show(report)
    return code
