#!/usr/bin/env python3
"""The screenshot of the "Check my notebook" cell in JupyterLab, for the book.

    python scripts/check_screenshot.py [--out book/images/check-my-notebook.png]

Writes a solved sgd_momentum notebook whose Part D plot has no legend into a temporary
folder, starts JupyterLab there (this environment's, no token, no news), opens the
notebook in headless Chromium (Debian's, driven by Playwright), runs the last cell
and photographs it once the report is in. Needs the instructor's environment
(autograder.commands.demo builds the notebook) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
NO_NEWS = {"fetchNews": "false", "checkForUpdates": False}
ALL_CELLS = {"windowingMode": "none"}  # every cell in the page, the last one too


def notebook(folder: Path) -> Path:
    from autograder.commands.demo import AssignmentKit

    nb = AssignmentKit("sgd_momentum").notebook()
    answer = next(c for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") == "iris_training_answer")
    assert "ax.legend()" in answer.source
    answer.source = answer.source.replace("ax.legend()\n", "")
    path = folder / "sgd_momentum.ipynb"
    nbformat.write(nb, str(path))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(folder: Path, port: int) -> subprocess.Popen:
    settings = folder.parent / "lab-settings" / "@jupyterlab"
    for extension, name, values in (("apputils-extension", "notification", NO_NEWS),
                                    ("notebook-extension", "tracker", ALL_CELLS)):
        (settings / extension).mkdir(parents=True)
        (settings / extension / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    env = {"JUPYTERLAB_SETTINGS_DIR": str(folder.parent / "lab-settings"),
           "JUPYTER_RUNTIME_DIR": str(folder.parent / "runtime"),
           **{k: v for k, v in os.environ.items()
              if k not in ("JUPYTERLAB_SETTINGS_DIR", "JUPYTER_RUNTIME_DIR")}}
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.root_dir={folder}"]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=5)
            return lab
        except OSError:
            time.sleep(1)
    lab.kill()
    raise RuntimeError("JupyterLab did not start in 120 s")


def photograph(port: int, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                            "--disable-background-networking",
                                            "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000},
                                device_scale_factor=1)
        page.goto(f"http://127.0.0.1:{port}/lab/tree/sgd_momentum.ipynb")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=120_000)
        cell = page.locator(".jp-Notebook .jp-CodeCell").last
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Escape")  # command mode: the cell is selected, not edited
        page.keyboard.press("Control+Enter")
        try:
            page.wait_for_selector(".course-check", timeout=300_000)
        except Exception:
            page.screenshot(path=str(out.with_suffix(".failed.png")), full_page=True)
            raise
        time.sleep(1)
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=str(out))
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path,
                        default=ROOT / "book" / "images" / "check-my-notebook.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="check-screenshot-") as tmp:
        folder = Path(tmp) / "course"
        folder.mkdir()
        notebook(folder)
        port = free_port()
        lab = start_lab(folder, port)
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            photograph(port, args.out.resolve())
        finally:
            lab.terminate()
            try:
                lab.wait(timeout=60)
            except subprocess.TimeoutExpired:
                lab.kill()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
