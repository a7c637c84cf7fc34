"""The check's report as text (a terminal) and as HTML (the notebook), laid out like the
grader's feedback page: one row per part, its points, its result, what was found."""

from __future__ import annotations

import html
import re
import textwrap

from course.check.verdict import Report
from course.grading_terms import say

RESULT_KEYS = {"passes": "passes_visible", "not_passed": "not_passed",
               "not_answered": "not_answered", "not_run": "not_run_result",
               "by_hand": "by_hand"}
#: The feedback page's colours: passed, not passed, graded by hand.
COLOURS = {"passes": "#17692f", "by_hand": "#6b5200"}
FAIL_COLOUR = "#a61b1b"


def points(value: float) -> str:
    return f"{value:g}"


def summary(report: Report) -> str:
    """The last line: nothing found, or what would cost points."""
    words = report.language
    if report.losing:
        lost = sum(p.points for p in report.losing)
        total = sum(p.points for p in report.parts)
        return say("verdict_problems", words, count=len(report.losing), points=lost,
                   total=total)
    if report.failure or report.name_problem:
        return say("verdict_failure", words)
    return say("verdict_clean", words)


def how(report: Report) -> str:
    limits = report.limits
    return say("check_how", report.language, cell=limits.cell_seconds,
               notebook=limits.notebook_seconds, output=limits.output_bytes)


def fill(text: str, width: int, indent: str = "") -> str:
    """Wrapped, never between a number and its unit ("60 s", "1048576 bytes")."""
    kept = re.sub(r"(\d) (s|bytes|秒|字节)\b", "\\1\u00a0\\2", text)
    wrapped = textwrap.fill(kept, width, initial_indent=indent,
                            subsequent_indent=" " * len(indent))
    return wrapped.replace("\u00a0", " ")


def as_text(report: Report, width: int = 88) -> str:
    """The report for a terminal."""
    lang = report.language
    lines = [say("check_title", lang, name=report.name), fill(how(report), width), ""]
    for part in report.parts:
        lines.append(f"{part.title or part.grade_id}: {say(RESULT_KEYS[part.result], lang)}")
        lines += [fill(message, width, "  - ") for message in part.messages]
    if report.failure:
        lines += ["", fill(f"{say('incomplete', lang)} {report.failure}", width)]
    if report.warnings:
        lines += ["", say("warnings", lang) + ":"]
        lines += [fill(w, width, "  - ") for w in report.warnings]
    lines += ["", fill(say("time_used", lang, seconds=report.seconds,
                           limit=report.limits.notebook_seconds), width),
              fill(summary(report), width)]
    return "\n".join(lines)


CELL = "text-align:left;vertical-align:top;padding:.35rem .5rem"


def _row(part, lang: str) -> str:
    colour = COLOURS.get(part.result, FAIL_COLOUR)
    found = "".join(f"<li>{html.escape(m)}</li>" for m in part.messages)
    return (f"<tr><td style='{CELL}'>{html.escape(part.title or part.grade_id)}<br>"
            f"<code>{html.escape(part.grade_id)}</code></td>"
            f"<td style='{CELL}'>{points(part.points)}</td>"
            f"<td style='{CELL};color:{colour};font-weight:600;white-space:nowrap'>"
            f"{html.escape(say(RESULT_KEYS[part.result], lang))}</td>"
            f"<td style='{CELL}'><ul style='margin:0;padding-left:1.1rem'>{found}</ul>"
            "</td></tr>")


def as_html(report: Report) -> str:
    """The report for a notebook's output: the feedback page's table and colours."""
    lang = report.language
    head = "".join(f"<th style='{CELL}'>{html.escape(say(k, lang))}</th>"
                   for k in ("part", "points", "result", "found_check"))
    rows = "".join(_row(p, lang) for p in report.parts)
    parts = [f"<h3>{html.escape(say('check_title', lang, name=report.name))}</h3>",
             f"<p>{html.escape(how(report))}</p>",
             f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"]
    if report.failure:
        parts.append(f"<p style='border-left:4px solid {FAIL_COLOUR};padding:.4rem'>"
                     f"<strong>{html.escape(say('incomplete', lang))}</strong> "
                     f"{html.escape(report.failure)}</p>")
    if report.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in report.warnings)
        parts.append(f"<p><strong>{html.escape(say('warnings', lang))}</strong></p>"
                     f"<ul>{items}</ul>")
    colour = FAIL_COLOUR if report.exit_code else COLOURS["passes"]
    used = say("time_used", lang, seconds=report.seconds,
               limit=report.limits.notebook_seconds)
    parts.append(f"<p>{html.escape(used)}</p><p style='color:{colour};font-weight:600'>"
                 f"{html.escape(summary(report))}</p>")
    return "<div class='course-check'>" + "".join(parts) + "</div>"
