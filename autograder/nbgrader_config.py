"""nbgrader configuration of the course (nbgrader 0.9).

nbgrader's course root is the repository root, wherever it is cloned: nbgrader's
``source`` is ``solutions/`` and its ``release`` is ``exercises/``
(``solutions/<assignment>/<assignment>.ipynb`` -> ``exercises/<assignment>/...``).
Everything grading produces (submissions, autograded copies, feedback, the gradebook)
goes to the instructor workspace, ``workspace/`` by default or ``$COURSE_WORKSPACE``;
``workspace/`` and ``*.db`` are git-ignored. ``make exercises`` (autograder/release.py)
uses a throw-away gradebook in a temporary folder.

Give it to nbgrader's commands with
``nbgrader <command> --JupyterApp.config_file=autograder/nbgrader_config.py ...``
(nbgrader 0.9 has no ``--config`` alias), or load it in Python with
``autograder.nbgrader_settings.course_config()``. Loading it creates nothing: the grading commands
create the workspace (``python -m autograder collect`` or ``grade``), and nbgrader's own
commands are meant for a workspace that exists.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 (traitlets provides it)

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = Path(os.environ.get("COURSE_WORKSPACE", ROOT / "workspace")).resolve()

c.CourseDirectory.course_id = "gd-keras-course"
c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# nbgrader joins these to the root; absolute paths keep them out of the clone if wanted
c.CourseDirectory.submitted_directory = str(WORKSPACE / "submitted")
c.CourseDirectory.autograded_directory = str(WORKSPACE / "autograded")
c.CourseDirectory.feedback_directory = str(WORKSPACE / "feedback")
c.CourseDirectory.db_url = f"sqlite:///{WORKSPACE / 'gradebook.db'}"

# Student notebooks carry only the notebook: no data files, no helpers.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.py"]

# TensorFlow writes start-up and deprecation notes to stderr, and nbgrader scores any
# stderr output in a test cell as a failure. The notebooks silence what they can (set-up
# cell), and autograde drops any remaining stderr chunk that carries one of TensorFlow's
# or Keras's log or warning formats. Errors are "error" outputs, never dropped.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(?m)^(?:"
    r"[IWE]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.]+:\d+\]"  # absl/C++ logs: I0000 00:00:... x.cc:12]
    r"|WARNING: All log messages before absl::InitializeLog"
    r"|WARNING:(?:tensorflow|absl):"  # Python logging of TensorFlow
    r"|\S*(?:tensorflow|keras)\S*\.py:\d+: \w*Warning:"  # warnings.warn from TF/Keras
    r")"
)

# A notebook trains small models; no cell of a correct answer needs more than a few s.
c.Execute.timeout = 120
# nbgrader's Execute raises when a cell's last output arrives more than iopub_timeout
# after its reply (nbclient's default: 4 s); a Keras fit on a busy machine took longer,
# and `nbgrader validate` called a correct solution failed. Waiting costs nothing when
# the output comes sooner.
c.Execute.iopub_timeout = 60
