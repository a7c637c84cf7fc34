"""Building blocks of the small made-up notebooks that the grading tests grade."""

import nbformat


def nbgrader_cell(source: str, **nbgrader) -> nbformat.NotebookNode:
    """A code cell with nbgrader's metadata (plain, unless ``nbgrader`` says otherwise)."""
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "solution": False,
                                 "grade": False, **nbgrader}
    return cell


def python_notebook() -> nbformat.NotebookNode:
    """An empty notebook for the python3 kernel."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb
