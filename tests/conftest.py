import os

# TensorFlow's start-up chatter (CUDA probes, oneDNN notes) is noise in test logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# CI fails on a skip whose reason is not a documented missing tool (tests/skip_policy.py).
from skip_policy import pytest_sessionfinish  # noqa: E402,F401
