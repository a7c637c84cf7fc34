"""The task-queue tests' servers and demo class, one of each per test module."""

import pytest

import services
from autograder.commands import demo

#: the demo class (``python -m autograder demo``'s default: the first two assignments)
CLASS = demo.available_assignments()[:2]


@pytest.fixture(scope="module")
def servers():
    with services.redis_server() as broker, services.postgres_server() as postgres:
        yield broker, postgres


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("queue-class")
    return root, demo.make_class(root / "incoming", CLASS)
