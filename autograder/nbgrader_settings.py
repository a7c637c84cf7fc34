"""The course's nbgrader configuration (``autograder/nbgrader_config.py``), read in Python.

Reading it has no side effect: no folder is created and no gradebook is opened. The same
file configures nbgrader's own commands
(``nbgrader <command> --JupyterApp.config_file=autograder/nbgrader_config.py``).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

CONFIG_FILE = Path(__file__).resolve().parent / "nbgrader_config.py"


def course_config(**coursedir):
    """The course's nbgrader ``Config``, with ``CourseDirectory`` settings overridden
    (for instance ``db_url=...``, ``release_directory=...``)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    for key, value in coursedir.items():
        setattr(config.CourseDirectory, key, value)
    return config


@functools.lru_cache(maxsize=1)
def course_id() -> str:
    """The course id nbgrader's gradebook files the assignments under; nbgrader's own
    commands run with the course's configuration see the same one."""
    value = course_config().CourseDirectory.get("course_id")
    if not value:
        raise RuntimeError(f"{CONFIG_FILE} sets no CourseDirectory.course_id")
    return str(value)


def put_venv_on_path() -> None:
    """nbgrader runs the ``alembic`` command when it creates a gradebook: make this
    Python's one findable when Python runs without an activated virtual environment."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
