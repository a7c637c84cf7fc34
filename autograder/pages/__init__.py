"""The HTML pages grading writes: per-student feedback and the instructor's report,
rendered from ``templates/``."""
