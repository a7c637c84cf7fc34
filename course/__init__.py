"""Shared code of the course "Gradient-descent optimizers by hand, and Keras in six steps".

- course.data            the iris data as the notes prepare it (seed 116, 120/30 split)
- course.loop            the common GradientTape training loop, eager, compiled, NumPy
- course.keras_rules     Keras's optimizers under the pages' names, step-by-step records
- course.quadratic       gradient descent on a quadratic, in matrix form
- course.schedules       learning-rate schedules written by hand
- course.trajectories    Keras's optimizers on functions of two variables, and figures
- course.keras_tools     helpers of the Keras chapters (plotting a History)
- course.plotting        figure defaults and plotting helpers
- course.figure_alt      alt text for the website's plots, from their titles and labels
- course.grade_plots     the grade report's two plots (the grading page draws them too) and
                         the grading page's bars of where grading time goes
- course.sphinx_ext      the website's Sphinx extension (registered in _config.yml)
- course.ipython_startup run by the website's notebook kernels (installs figure_alt)
- course.i18n            the languages of the course: catalogues, pending pages, notebooks
- course.termbase        the glossary as term base (translation tests, Chinese search)
- course.sphinx_i18n     Sphinx extension: the site in each language from one source
- course.sphinx_i18n_outputs  a translated build's outputs, from the English build's cache
- course.notebook_i18n   the exercise notebooks in another language, from their catalogues
- course.grading_terms   what grading allows and says: limits and words, grader and check
- course.check           the student's check of a notebook (python -m course.check):
- course.check.__main__  its command line
- course.check.cells     nbgrader's cells as the check sees them, without nbgrader
- course.check.plan      what runs: the notebook rebuilt as grading rebuilds it
- course.check.kernel    the fresh kernel and its limits
- course.check.verdict   the report: per part, warnings, the first limit reached
- course.check.render    the report as text and HTML
- course.check.run       the whole check of one notebook
- course.check.frontend  the notebook's last cell: finds the notebook, shows the report

Book pages, tests and the grading tools import these; student notebooks do not
(they are self-contained). tests/grader/test_architecture.py checks that this list
names every module.
"""
