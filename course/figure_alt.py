"""Alt text for the website's plots, written from each figure's own titles and labels.

The website build (course.sphinx_ext) starts every notebook kernel with
course/ipython_startup.py, which calls install(). From then on each figure that
matplotlib's inline backend shows carries, in its output metadata,

- ``{"course/alt": ...}``: a sentence built from the suptitle, the panel titles
  and the axis labels, which the build turns into the image's alt text;
- ``{"course/figure_problems": [...]}``: what the figure lacks (a title, an axis
  label), which the build reports as a warning, so the strict build fails.

Each shown figure is also kept as SVG with its words as text (``svg.fonttype`` none):
the English site shows the PNG, a translated site the SVG with its words replaced
from the page's catalogue (course.sphinx_i18n), so both sites share one execution.

Nothing here changes how a figure looks, and outside the build nothing calls it.
"""

from __future__ import annotations

ALT_KEY = "course/alt"
PROBLEMS_KEY = "course/figure_problems"


def _text(artist) -> str:
    return artist.get_text().strip() if artist is not None else ""


def _is_colorbar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>"


def _title(ax) -> str:
    parts = [ax.get_title(loc).strip() for loc in ("left", "center", "right")]
    return " ".join(part for part in parts if part)


def _label(ax, which: str, fig_label: str) -> str:
    """The axis label of ax, or of an axes sharing that axis, or the figure's."""
    get = "get_xlabel" if which == "x" else "get_ylabel"
    label = getattr(ax, get)().strip()
    if label:
        return label
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    for sibling in shared.get_siblings(ax):
        label = getattr(sibling, get)().strip()
        if label:
            return label
    return fig_label


def describe(fig) -> tuple[str, list[str]]:
    """(alt text, problems) for a matplotlib figure.

    A figure needs a title: a suptitle, or a title on each panel. Every panel with
    visible axes needs an x and a y label (an axes sharing that axis, or
    fig.supxlabel / fig.supylabel, counts). Panels drawn with the axes off (images)
    need no labels.
    """
    suptitle = _text(getattr(fig, "_suptitle", None))
    supx = _text(getattr(fig, "_supxlabel", None))
    supy = _text(getattr(fig, "_supylabel", None))
    panels = [ax for ax in fig.axes if not _is_colorbar(ax) and ax.get_visible()]

    sentences, problems = [], []
    if suptitle:
        sentences.append(suptitle)
    many = len(panels) > 1
    for number, ax in enumerate(panels, start=1):
        name = f"panel {number}" if many else "the plot"
        title = _title(ax)
        if not title and not suptitle:
            problems.append(f"{name} has no title (and the figure no suptitle)")
        words = []
        if title:
            words.append(title)
        if ax.axison:
            xlabel, ylabel = _label(ax, "x", supx), _label(ax, "y", supy)
            if not xlabel:
                problems.append(f"{name} has no x-axis label")
            if not ylabel:
                problems.append(f"{name} has no y-axis label")
            if xlabel and ylabel:
                words.append(f"{ylabel} against {xlabel}")
        if words:
            prefix = f"Panel {number}: " if many else ""
            sentences.append(prefix + ", ".join(words))
    if not panels and not suptitle:
        problems.append("the figure has neither axes nor a title")
    alt = ". ".join(sentence.rstrip(".") for sentence in sentences)
    return (alt + "." if alt else ""), problems


def figure_metadata(fig, base: dict | None = None) -> dict:
    """Display metadata for fig: base (matplotlib-inline's) plus alt and problems."""
    metadata = dict(base or {})
    alt, problems = describe(fig)
    if alt:
        metadata[ALT_KEY] = alt
    if problems:
        metadata[PROBLEMS_KEY] = problems
    return metadata


# SVG text stays text, so that a translated site can replace the words; a fixed salt
# keeps the SVG's element ids the same from one run to the next.
SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "course"}


def install() -> None:
    """Make matplotlib-inline attach figure_metadata to every figure it shows, as PNG
    and as SVG (SVG_RC).

    matplotlib-inline shows figures (plt.show, and at the end of each cell) with
    ``display(fig, metadata=_fetch_figure_metadata(fig))``; this wraps that one
    function. A figure left as a cell's last value goes through IPython's formatter
    instead and gets no alt text: the build reports it, and ``plt.show()`` fixes it.
    """
    import matplotlib
    import matplotlib_inline.backend_inline as inline
    from matplotlib_inline.config import InlineBackend

    matplotlib.rcParams.update(SVG_RC)
    # the one instance, whether the kernel has already started the inline backend
    # (the change reaches its formatters at once) or not (it reads this when it does)
    InlineBackend.instance().figure_formats = {"png", "svg"}

    original = inline._fetch_figure_metadata
    if getattr(original, "_course_alt", False):
        return

    def fetch_with_alt(fig):
        return figure_metadata(fig, original(fig))

    fetch_with_alt._course_alt = True
    inline._fetch_figure_metadata = fetch_with_alt


def offline_jshtml(animation, alt: str | None = None, **to_jshtml_kwargs) -> str:
    """animation.to_jshtml(...) made fit for the website: no CDN, alt text on the frame.

    Matplotlib's player links Font Awesome 4 from a CDN (its buttons lose their icons
    without a network, and the page makes a request that the offline tests fail) and
    leaves the frame <img> without alt. This drops the link (the site's own Font
    Awesome draws the `fa fa-play` icons) and gives the frame alt text: alt, or the
    one built from the animated figure's titles and labels.

        from IPython.display import HTML
        HTML(offline_jshtml(animation, default_mode="once"))
    """
    import html
    import re

    text = animation.to_jshtml(**to_jshtml_kwargs)
    text = re.sub(r"<link[^>]*font-awesome[^>]*>", "", text)
    if alt is None:
        alt, _ = describe(animation._fig)
        alt = f"Animation: {alt}" if alt else "Animation"
    return text.replace('<img id="_anim_img',
                        f'<img alt="{html.escape(alt)}" id="_anim_img', 1)
