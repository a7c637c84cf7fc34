"""Figure style and display helpers shared by the pages."""

import matplotlib.pyplot as plt


def use_course_style():
    """Figure defaults for the website: readable at the page's width."""
    plt.rcParams.update({
        "figure.figsize": (7, 4),
        "figure.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
    })


def show_code(*functions):
    """The source of ``functions`` as a highlighted code block (a page shows the
    course's own helpers this way, so the page and the module cannot disagree)."""
    import inspect

    from IPython.display import Markdown

    source = "\n\n".join(inspect.getsource(f).rstrip() for f in functions)
    return Markdown(f"```python\n{source}\n```")
