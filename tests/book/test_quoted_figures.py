"""Every measured figure the README, benchmarks/README.md and the instructor pages quote
is read from benchmarks/results/ here.

Each page's quotes are written out below as the text they must contain, computed from
the results files (a figure the page rounds is rounded the same way). Then every
figure the page shows (a number or a range with a unit of time, size, ratio or share,
or a load average) must lie inside one of those quotes, or be a limit of the grader
that the code defines: a new figure, or a figure that no results file backs, fails and
is named. A figure goes stale when its results file is measured again: the quote
changes and the page no longer contains it.

book/instructor/security.md (the sandbox's page) is left out: its limits are checked
by tests/book/test_instructor_pages.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
INSTRUCTOR = ROOT / "book" / "instructor"

NUMBER = r"\d[\d,]*(?:\.\d+)?"
UNIT = r"(?:s|x|%|CPU s|CPU-hours|minutes?|hours?|days?|MB|GB|GiB|MiB)"
# "113 s", "0.54x", "2.5x / 2.1x", "68 to 144 s", "805 and 854 s", "10 %"
FIGURE = re.compile(rf"(?<![\w.]){NUMBER}(?:\s?(?:to|and|-)\s?{NUMBER})*\s?{UNIT}(?!\w)")
LOAD = re.compile(rf"\bload(?: average)?(?: of| at)? {NUMBER}(?:\s?(?:to|-)\s?{NUMBER})?")
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "ten"]


def results(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def span(values) -> str:
    """'3 to 5': the rounded least and greatest of ``values`` (one number if equal)."""
    values = list(values)
    low, high = round(min(values)), round(max(values))
    return f"{low}" if low == high else f"{low} to {high}"


def run_load(machine: dict) -> str:
    """'7 to 8': the 1-minute load average before and after a benchmark run."""
    return span([machine["load_before"][0], machine["load_after"][0]])


def flat(text: str) -> str:
    return " ".join(text.split())


# --- what each page must quote, from the results files --------------------------------

def lane_time(lane: dict) -> str:
    """A lane's row: measured (seconds or minutes, with the load), or CI's count."""
    if "source" in lane:  # not measured here: the figure and where it comes from
        return (f"{lane['make_test_minutes']} minutes in CI's last run "
                f"({lane['pytest_minutes']} of them pytest)")
    seconds = lane["wall_s"]
    time = f"{seconds:.0f} s" if seconds < 600 else f"{round(seconds / 60)} minutes"
    return (f"{time} at load {span([lane['load']['min'], lane['load']['max']])} "
            f"({lane['cpu_s']:.0f} s of CPU)")


def readme_quotes() -> list[str]:
    lanes = results("test_lanes")["lanes"]
    lint = lanes["lint"]["wall_s"]
    return [f"| {lint:.1f} s |" if lint >= 0.05 else "| under 0.1 s |",
            f"| {lane_time(lanes['test-fast'])} |",
            f"| {lane_time(lanes['test'])}"]


def grading_quotes() -> list[str]:
    run = results("autograde")
    wall, kernels = run["median_wall_s"], run["kernels"]
    loads = [*run["machine"]["load_before"][:1], *run["machine"]["load_after"][:1],
             *(x for row in kernels.values() for pair in row["load"].values() for x in pair)]
    quotes = [
        f"({run['notebooks']} notebooks, {kernels['whole class']['notebooks_run']} of "
        f"which run)",
        f"(load average {span(loads)} over the run;",
        f"| `nbgrader autograde`, serial | {wall['nbgrader']:.0f} s | "
        f"{run['nbgrader_s_per_notebook']:.1f} s |",
        f"| `python -m autograder grade`, {run['workers']} workers, sandboxed | "
        f"{wall['sandboxed']:.0f} s ({run['speedup_over_nbgrader']:.1f}x faster) | "
        f"{run['worker_s_per_notebook_sandboxed']:.1f} s of a worker's time |",
        f"| the same without the sandbox | {wall['unsandboxed']:.0f} s |",
        f"| `python -c \"import tensorflow\"` alone | {run['import_tensorflow_s']:.1f} s |",
    ]
    return quotes


def kernel_quotes() -> list[str]:
    """The grading page's table of fresh against warm kernels, assignment by assignment
    (``benchmarks/autograde.py --kernels-only``)."""
    run = results("autograde-kernels")
    rows = run["kernels"].items()
    quotes = [f"{run['workers']} workers, sandboxed, load average "
              f"{span(x for _, row in rows for pair in row['load'].values() for x in pair)}"
              ", nothing else running"]
    for label, row in rows:
        name = f"`{label}`" if label != "whole class" else "the whole class"
        per = row["worker_s_per_notebook"]
        quotes.append(
            f"| {name} ({row['notebooks']} notebooks, {row['notebooks_run']} run) | "
            f"{row['fresh_wall_s']:.0f} s | {row['warm_wall_s']:.0f} s | "
            f"{row['warm_speedup']:.1f}x faster | {per['fresh']:.1f} s | "
            f"{per['warm']:.1f} s |")
    return quotes


def capacity_quotes(cost: dict) -> list[str]:
    """The capacity table's rows (tests/book/test_instructor_pages.py checks them too)
    and the prose that works out two classes from them."""
    rows = []
    for name, figures in cost["assignments"].items():
        cpu = figures["cpu_s_per_submission"]
        cells = [f"{cpu:.2f} s", f"{round(50_000 * cpu / 3600):,}",
                 *(f"{round(cores * 3600 / cpu):,}" for cores in (1, 8, 64))]
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    keras = 50_000 * cost["assignments"]["keras_six_steps"]["cpu_s_per_submission"] / 3600
    adaptive = 50_000 * cost["assignments"]["adaptive"]["cpu_s_per_submission"] / 3600
    slowdown = [f["wall_s_per_submission"] / f["cpu_s_per_submission"]
                for f in cost["assignments"].values()]
    low, high = round(min(slowdown)), round(max(slowdown))
    return rows + [
        f"({round(keras)} CPU-hours) take about {round(keras / 2)} hours on 2 cores, "
        f"{round(keras / 8)} on 8 and {WORDS[round(keras / 64)]} "
        f"hour{'' if round(keras / 64) == 1 else 's'} on 64",
        f"({round(adaptive)} CPU-hours) take {round(adaptive / 2)} hours on 2 cores",
        f"{WORDS[low]} to {WORDS[high]} times its CPU time in wall time"
        if low != high else "about its CPU time in wall time" if low == 1
        else f"about {WORDS[low]} times its CPU time in wall time",
        f"nothing else running (load average {cost_load(cost)})",
    ]


def cost_load(cost: dict) -> str:
    """'7 to 16': the 1-minute load average over grading_cost.py's runs (each
    assignment's before and after, when the results file has them)."""
    rows = [r["load"] for r in cost["assignments"].values() if "load" in r]
    if not rows:
        return run_load(cost["machine"])
    return span(x for before, after in rows for x in (before[0], after[0]))


def tail_quotes(cost: dict) -> list[str]:
    """The large-class page's measured tail: one submission held to its time limit."""
    tail = cost["tail"]
    held = tail["wall_s"]
    return [f"{tail['notebook_timeout_s']:g} s of the student's time",
            f"held the worker {held:.0f} s and cost {tail['cpu_s']:.0f} CPU s at load "
            f"{span([tail['load_before'][0], tail['load_after'][0]])}",
            f"as {held:.0f} s of a core"]


def grading_cost_quotes() -> list[str]:
    """The grading page's section on where a submission's CPU seconds go."""
    cost = results("grading_cost")
    rows = cost["assignments"]
    shares = [100 * r["unattributed_share"] for r in rows.values()]
    keras = rows["keras_six_steps"]["parts"]["fit_history"]
    spread = max(100 * (max(r["repeats"]) - min(r["repeats"])) / r["cpu_s_per_submission"]
                 for r in rows.values())
    cnn = rows["subclass_cnn"]
    own = cnn["profile"]["student's cells"]["cpu_s"]
    grappler = results("grappler")["cases"]
    return [f"nothing else running (load average {cost_load(cost)})",
            f"{len(next(iter(rows.values()))['repeats'])} times",
            f"by up to {spread:.0f} %",
            f"64 × 3600 / 50,000 = {64 * 3600 / 50_000:.1f} CPU s",
            f"apart from Parts A and B ({keras['probe']:.1f} CPU s)",
            f"between {min(shares):.1f} and {max(shares):.1f} % of the measured whole",
            *(f"`{name}` ({row['cpu_s_per_submission']:.2f} CPU s)"  # over the budget
              for name, row in rows.items() if row["cpu_s_per_submission"] > 4.6),
            f"{own:.1f} CPU s are the student's own cells",
            *(f"{grappler[case]['cpu_s_on']:.2f} CPU s with Grappler and "
              f"{grappler[case]['cpu_s_off']:.2f} without" for case in grappler)]


def large_class_quotes() -> list[str]:
    queue, warm = results("queue"), results("grading_cost")
    fresh = results("grading_cost-fresh")
    runs = queue["runs"]
    loads = [r["load"]["mean"] for rs in runs.values() for r in rs]
    fresh_names = list(fresh["assignments"])
    cost = {name: f"{fresh['assignments'][name]['cpu_s_per_submission']:.2f} CPU s instead "
                  f"of {warm['assignments'][name]['cpu_s_per_submission']:.2f}"
            for name in fresh_names}
    return capacity_quotes(warm) + tail_quotes(warm) + [
        f"load average {span(loads)} from other jobs) took {queue['pool_wall_s']:.0f} s "
        f"with the pool, {queue['queue_wall_s']:.0f} s through the queue (a queue to pool "
        f"ratio of {queue['ratio']:.2f}) and {queue['queue_warm_wall_s']:.0f} s with the "
        f"workers already running ({queue['ratio_workers_running']:.2f})",
        f"the pool took {span(r['wall_s'] for r in runs['pool'])} s and the queue "
        f"{span(r['wall_s'] for r in runs['queue'])} s",
        f"within {round(100 * (queue['target_ratio'] - 1))} %",
        f"{span(r['cpu_s'] for r in runs['pool'])} s for the pool, "
        f"{span(r['cpu_s'] for r in runs['queue'])} s through the queue",
        f"{span(r['cpu_s'] for r in runs['queue_warm'])} s with the workers running",
        f"load average {run_load(fresh['machine'])}),",
        *(f"`{name}` costs {cost[name]}" for name in fresh_names),
    ]


def publishing_quotes() -> list[str]:
    rebuild = results("book_rebuild")
    runs = rebuild["runs"]
    return [f"rebuilds both sites in {span(r['wall_s'] for r in runs)} s on the course's "
            f"{rebuild['machine']['cores']}-core machine at load "
            f"{span(x for r in runs for x in r['load'])}, "
            f"{span(r['translated_s']['zh_CN'] for r in runs)} s of it the Chinese site's"]


def grading_limits() -> list[str]:
    """Limits the grader's code defines: not measured, but they must say what it does."""
    from autograder.sandbox import Limits, human

    limits = Limits()
    return [f"{limits.cell_timeout:g} s (`--cell-timeout`)",
            f"{limits.notebook_timeout:g} s (`--notebook-timeout`)",
            f"may use {human(limits.memory_bytes)} of memory (`--memory-gb`)"]


def timeout_verdict(seconds_on_the_reference: float) -> list[str]:
    """The page's example of a part whose hidden checks timed out every time: what the
    grader itself says (its own function, the default cell limit) when those checks take
    ``seconds_on_the_reference`` on the reference answer, and the share of the limit
    under which it says it."""
    import nbformat

    from autograder.grading.result import Part, Result
    from autograder.grading.submission import WELL_INSIDE, judge_timed_out_checks
    from autograder.sandbox import Limits

    result = Result("graded", parts={"part": Part("Part", 1.0, True, points=0.0)})
    how = SimpleNamespace(limits=Limits(), reference_seconds=lambda gid:
                          seconds_on_the_reference)
    judge_timed_out_checks({"part": nbformat.v4.new_code_cell()}, result, how)
    (said,) = result.parts["part"].messages
    assert result.parts["part"].review is None, "the example must be a failed part"
    share = {0.25: "a quarter", 0.5: "half"}[WELL_INSIDE]
    return [f'took at most {share} of the limit, the part fails with "{said}"']


def worker_limits() -> list[str]:
    from autograder.grading.submission import task_backstop
    from autograder.queue.worker import default_visibility_timeout
    from autograder.sandbox import Limits, human

    memory = human(Limits().memory_bytes)
    return [f"up to {memory} (`memory_bytes`", f"divided by {memory}",
            f"plus ten minutes, {default_visibility_timeout() / 60:g} minutes)",
            f"({task_backstop(Limits()) / 60:g} minutes with the default limits)"]


def pipeline_quotes() -> list[str]:
    """The instructor's side of the queue (benchmarks/queue_pipeline.py): its rates, end
    to end, the reruns, the machine and its load, and what that rate makes of 50,000."""
    bench = results("queue_pipeline")
    first, machine = bench["first"], bench["machine"]
    unchanged, changed = bench["rerun_unchanged"], bench["rerun_changed"]
    n = bench["submissions"]
    rate = n / first["wall_s"]
    return [
        f"{n:,} submissions of {bench['notebook_bytes'] / 1000:.0f} KB",
        f"{machine['cores']} cores ({machine['cpu_model']})",
        f"load average {first['load']['mean']:.0f} (at most {first['load']['max']:.0f})",
        f"enqueue: {bench['enqueue_per_s']:,} submissions/s",
        f"collect and record: {bench['collect_and_record_per_s']:,} submissions/s",
        f"end to end: {first['wall_s']:.0f} s",
        f"nothing changed, it sent {unchanged['sent']} and took {unchanged['wall_s']:.0f} s",
        f"{changed['changed']} notebooks changed, it sent {changed['sent']} and took "
        f"{changed['wall_s']:.0f} s",
        f"50,000 would take about {round(50_000 / rate / 60)} minutes",
    ]


def queue_limits() -> list[str]:
    """The size cap a notebook meets before it is queued, and the time-limit tail of the
    64-core table (a submission that runs to the notebook's limit)."""
    from autograder.grading.submission import task_backstop
    from autograder.notebook.intake import MAX_BYTES
    from autograder.sandbox import Limits

    limit = Limits().notebook_timeout
    return [f"over the size cap ({MAX_BYTES / 2**20:g} MB)",
            f"the notebook's whole limit, {limit:g} s,",
            f"50,000 x (CPU s per submission + share at the limit x {limit:g} s) / "
            "(64 x 3600)",
            "| 1 % at the time limit | 5 % at the time limit |",
            f"up to {task_backstop(Limits()) / 60:g} minutes with the default limits "
            f"(twice two kernel starts and set-ups and the notebook's {limit:g} s, for a "
            "grading that also grades the reference answer, then a minute to stop)"]


# RabbitMQ's own default, from its documentation: not the course's to measure.
THEIR_DEFAULTS = ["`consumer_timeout` (30 minutes by default)"]

PAGES = {
    "README.md": readme_quotes,
    "benchmarks/README.md": list,
    "book/instructor/grading.md": lambda: (grading_quotes() + kernel_quotes()
                                           + grading_cost_quotes()
                                           + grading_limits() + timeout_verdict(1.2)),
    "book/instructor/large-class.md": lambda: (large_class_quotes() + worker_limits()
                                               + queue_limits() + pipeline_quotes()
                                               + THEIR_DEFAULTS),
    "book/instructor/publishing.md": publishing_quotes,
    "book/instructor/writing-an-assignment.md": list,
}


def figures(text: str) -> list[tuple[int, str]]:
    found = [(m.start(), m.group(0)) for pattern in (FIGURE, LOAD)
             for m in pattern.finditer(text)]
    return sorted(found)


def unaccounted(text: str, quotes: list[str]) -> list[str]:
    """The figures of ``text`` that no quote holds (quotes absent from ``text`` are
    named too)."""
    text = flat(text)
    covered, missing = [], []
    for quote in map(flat, quotes):
        start = text.find(quote)
        if start < 0:
            if quote not in missing:
                missing.append(quote)
            continue
        while start >= 0:
            covered.append((start, start + len(quote)))
            start = text.find(quote, start + 1)
    stray = [figure for at, figure in figures(text)
             if not any(a <= at and at + len(figure) <= b for a, b in covered)]
    return [f"not on the page: {quote!r}" for quote in missing] + [
        f"no results file backs {figure!r}" for figure in stray]


def test_every_instructor_page_is_checked():
    pages = {p.relative_to(ROOT).as_posix() for p in INSTRUCTOR.glob("*.md")}
    assert pages - set(PAGES) == {"book/instructor/security.md"}


@pytest.mark.parametrize("page", PAGES)
def test_every_quoted_figure_comes_from_a_results_file(page):
    assert unaccounted((ROOT / page).read_text(encoding="utf-8"), PAGES[page]()) == []


def test_a_stale_or_unbacked_figure_is_named():
    text = "The pool took 90 s (load average 3 to 5); nbgrader took 113 s, twice 2.1x."
    assert unaccounted(text, ["took 90 s (load average 3 to 5)"]) == [
        "no results file backs '113 s'", "no results file backs '2.1x'"]
    assert unaccounted(text, ["took 91 s"]) == [
        "not on the page: 'took 91 s'", "no results file backs '90 s'",
        "no results file backs 'load average 3 to 5'", "no results file backs '113 s'",
        "no results file backs '2.1x'"]
