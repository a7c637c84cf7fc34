import os

# TensorFlow's start-up chatter (CUDA probes, oneDNN notes) is noise in test logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# CI fails on a skip whose reason is not a documented missing tool (tests/skip_policy.py).
from skip_policy import pytest_sessionfinish  # noqa: F401 - a hook, found by its name


import pytest


@pytest.fixture(scope="session")
def tensorflow_import_seconds() -> float:
    """``import tensorflow`` measured now: time limits of TensorFlow tests scale with it
    (tests/machine_load.py)."""
    from machine_load import import_seconds

    return import_seconds()
