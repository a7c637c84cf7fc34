"""Shared code of the course "Gradient-descent optimizers by hand, and Keras in six steps".

- course.data        the iris data as the notes prepare it (seed 116, 120/30 split)
- course.loop        the common GradientTape training loop, eager, compiled, NumPy
- course.optimizers  the reference update rules, one signature, checked against Keras
- course.plotting    figure defaults and plotting helpers

Book pages, tests and the grading tools import these; student notebooks do not
(they are self-contained).
"""
