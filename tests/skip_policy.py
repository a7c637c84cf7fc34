"""Which skipped tests CI accepts: only those whose reason is a documented missing
optional tool. Any other skip (no built site, no references, a missing assignment...)
would hide a broken build, so with ``COURSE_STRICT_SKIPS=1`` (set by ``.ci/run``) the
run fails and lists them. Used by ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import re

# reason pattern -> where the tool and the skip are documented
DOCUMENTED_SKIPS = {
    r"\bbwrap\b|\bbubblewrap\b|^unsandboxed: ":
        "bubblewrap, the grading sandbox (README: Quick start; tests/sandbox/test_sandbox.py)",
    r"needs a grader running as root":
        "the sandbox's process limit needs root (tests/sandbox/test_sandbox.py)",
}


def no_warm_kernels() -> str | None:
    """Why warm kernels cannot run here, as a documented skip says it, or None when they
    can: the zygote needs bubblewrap and a grader running as root. Any other reason the
    grader gives is a failure to show, not a skip to accept."""
    from autograder import sandbox
    from autograder.sandbox import zygote

    why = zygote.why_not_warm(sandbox.sandbox_available())
    if why is None:
        return None
    if not sandbox.sandbox_available():
        return sandbox.sandbox_status()  # "unsandboxed: ..."
    if os.geteuid() != 0:
        return "warm kernels: the zygote needs a grader running as root"
    return f"no warm kernels: {why}"


def undocumented(skips: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (test id, reason) pairs whose reason matches no documented pattern."""
    return [(test, reason) for test, reason in skips
            if not any(re.search(pattern, reason) for pattern in DOCUMENTED_SKIPS)]


def skipped_tests(terminal_reporter) -> list[tuple[str, str]]:
    out = []
    for report in terminal_reporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        out.append((report.nodeid, reason.removeprefix("Skipped: ")))
    return out


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("COURSE_STRICT_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    bad = undocumented(skipped_tests(reporter)) if reporter else []
    if bad:
        lines = "\n".join(f"  {test}: {reason}" for test, reason in bad)
        reporter.write_line(f"\nCOURSE_STRICT_SKIPS: {len(bad)} test(s) skipped for a "
                            f"reason that is not a documented missing tool:\n{lines}",
                            red=True)
        session.exitstatus = 1
