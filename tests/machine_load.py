"""How slow the machine is right now, for time limits in tests that run TensorFlow.

Time limits written for a quiet machine fail honest notebooks on a busy one: with the
load average at 4 on 2 cores, ``import tensorflow`` alone took longer than 12 s and
30 s limits. Tests that run TensorFlow under a time limit derive it from
``import_seconds()``, measured once per session (the ``tensorflow_import_seconds``
fixture in conftest.py), with ``slowness``.
"""

from __future__ import annotations

import os
import subprocess
import sys

#: ``import tensorflow`` on a quiet 2-core machine, seconds (measured: 4 to 5 s).
QUIET_IMPORT_SECONDS = 4.5
#: The grader's kernels run TensorFlow with one thread (autograder/pool.py).
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
              "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def import_seconds() -> float:
    """Wall time of ``import tensorflow`` in a fresh interpreter, now."""
    code = ("import time; t = time.perf_counter(); import tensorflow; "
            "print(time.perf_counter() - t)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, **ONE_THREAD), check=True)
    return float(proc.stdout.split()[-1])


def slowness(measured_import_seconds: float) -> float:
    """How many times slower than a quiet machine this one is now (at least 1)."""
    return max(1.0, measured_import_seconds / QUIET_IMPORT_SECONDS)
