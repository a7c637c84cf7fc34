"""The course's grading tools: ``python -m autograder`` (``commands/cli.py``).

Where each module sits and what it does: ``autograder/layers.py``, the one map of the
grader, which ``tests/grader/test_architecture.py`` checks against the code.
"""
