"""Shared code of the course "Gradient-descent optimizers by hand, and Keras in six steps".

- course.data        the iris data as the notes prepare it (seed 116, 120/30 split)
- course.loop        the common GradientTape training loop, eager, compiled, NumPy
- course.keras_rules Keras's optimizers under the pages' names, and step-by-step records
- course.trajectories Keras's optimizers on functions of two variables, and their figures
- course.plotting    figure defaults and plotting helpers

Book pages, tests and the grading tools import these; student notebooks do not
(they are self-contained).
"""
