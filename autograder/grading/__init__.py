"""Grading one submission: the worker's ``Grader`` (``grader.py``), one notebook's
grading (``submission.py``) and its run in a kernel (``notebook_run.py``)."""
