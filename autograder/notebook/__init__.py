"""Notebooks as nbgrader and the grader see them: nbgrader's cells, a submission read
safely, and the notebook that runs."""
