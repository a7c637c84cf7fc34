"""Grading tools of the course.

- autograder.nbgrader_config   nbgrader's configuration (source = solutions/, release = exercises/)
- autograder.release           ``make exercises``: generate the student notebooks
- autograder.references        expected outputs of the hidden tests, from Keras's own
                               optimizers and the seeded reference solutions
- autograder.checks            one probe + judge per graded test cell (the grading contract)

The grading pipeline (collect, grade, feedback, export, report) and the kernel
sandbox live in the other modules of this package.
"""
