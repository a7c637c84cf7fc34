# Run by every notebook kernel of the website build (PYTHONSTARTUP, set by
# course.sphinx_ext): shown figures get alt text from their titles and labels.
# It runs in the notebook's namespace, so it leaves no name behind.
import course.figure_alt as _course_figure_alt

_course_figure_alt.install()
del _course_figure_alt
