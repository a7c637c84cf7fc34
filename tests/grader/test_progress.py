"""The grading progress bar: rich's live bar on a terminal; plain lines anywhere else
(a log file, CI), without a control character."""

import io
import re

from autograder.commands.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_file_gets_plain_lines_only():
    stream = io.StringIO()
    progress = Progress(3, "grading hw", stream=stream)
    progress.start()
    for failed in (False, True, False):
        progress.advance(failed)
    progress.close()
    text = stream.getvalue()
    assert not re.search(r"[\x00-\x09\x0b-\x1f]", text)  # no \r, no escape sequence
    assert text.splitlines()[-1].startswith("grading hw [########################] 3/3")


def test_a_terminal_gets_rich_live_bar_with_count_and_failures():
    stream = Terminal()
    progress = Progress(2, "grading hw", stream=stream)
    progress.start()
    progress.advance(failed=True)
    progress.advance(failed=False)
    progress.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert "grading hw" in text and "2/2" in text and "1 failed" in text
    assert "\r" in stream.getvalue() or "\x1b[" in stream.getvalue()  # redrawn in place
