"""HTML pages from the Jinja2 templates in ``autograder/pages/templates/``.

Autoescaping is on for every value: student names, messages and notes can hold any
text, and none of it may become markup. A missing value is an error, not a blank.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


def points(value) -> str:
    """A score as the pages print it: ``-`` when there is none, else ``%g``."""
    return "-" if value is None else f"{value:g}"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters["points"] = points
    return env


def render(template: str, **context) -> str:
    """The page ``templates/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)
