"""Grading through a task queue on many machines: the instructor's side
(``instructor.py``), the workers (``worker.py``) and the tables they share
(``tables.py``)."""
