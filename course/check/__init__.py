"""Check a notebook before you hand it in, as grading will run it.

    python -m course.check sgd_momentum.ipynb      # in a terminal
    check_this_notebook()                          # the notebook's last cell

A copy of the notebook runs from the top in a fresh kernel with grading's limits (a
cell's time, the notebook's time, a cell's output; ``course.grading_terms``), rebuilt
as grading rebuilds it (a deleted or edited test cell is replaced by the instructor's
copy). The report says per part: answered or not, the visible checks passed or failed
with their message, errors with the cell they came from, cells over a limit; and warns
of a deleted or edited test or read-only cell, a file name other than the instructor's,
and a result that depends on hidden state (passed in the student's kernel, fails from a
fresh start). It runs offline and needs nothing of the instructor's: only what the
released notebook itself carries (``cells.release_record``).

Modules: ``cells`` (nbgrader's cells, without nbgrader), ``plan`` (what runs),
``kernel`` (the fresh kernel and its limits), ``verdict`` (the report), ``render``
(text and HTML), ``run`` (the whole check), ``frontend`` (the notebook's cell).
"""

from course.check.cells import CHECK_CELL_ID, is_check_cell, release_record
from course.check.frontend import check_cell_source, check_this_notebook
from course.check.kernel import RUNNING_ENV
from course.check.run import CheckError, check_notebook

__all__ = ["CHECK_CELL_ID", "RUNNING_ENV", "CheckError", "check_cell_source",
           "check_notebook", "check_this_notebook", "is_check_cell", "release_record"]
