"""Plotting helpers shared by the pages (taught in book/keras/plotting.md)."""

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


def plot_loop_history(history, title="Training with the common loop"):
    """Loss and test accuracy per epoch, side by side, from course.loop.train."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(history["loss"])
    ax_loss.set(title="Training loss (MSE)", xlabel="epoch", ylabel="loss")
    ax_acc.plot(history["accuracy"])
    ax_acc.set(title="Test accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.05))
    fig.suptitle(title)
    fig.tight_layout()
    return fig
