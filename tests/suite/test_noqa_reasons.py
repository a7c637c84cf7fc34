"""Every ``# noqa`` says why: ruff (``make lint``) fails on one that suppresses nothing,
this test on one that gives no reason after its codes."""

import io
import re
import subprocess
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOQA = re.compile(r"#\s*noqa\b(?P<rest>.*)$")
# the codes, then " - " or "(" and the reason
WITH_REASON = re.compile(r"^:\s*[A-Z]+\d+(?:\s*,\s*[A-Z]+\d+)*\s*[-(]\s*\S")


def noqa_without_reason(path: Path, text: str) -> list[str]:
    """The comments (not strings) holding a noqa with no reason after its codes."""
    comments = (tok for tok in tokenize.generate_tokens(io.StringIO(text).readline)
                if tok.type == tokenize.COMMENT)
    return [f"{path}:{tok.start[0]}: {tok.string}" for tok in comments
            if (found := NOQA.search(tok.string)) and not WITH_REASON.match(found["rest"])]


def test_every_noqa_gives_its_reason():
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    bare = [hit for name in tracked if (REPO / name).is_file()
            for hit in noqa_without_reason(Path(name), (REPO / name).read_text("utf-8"))]
    assert not bare, "say why after the codes (# noqa: E402 - ...):\n" + "\n".join(bare)


def test_a_bare_noqa_is_named():
    text = ("import a  # noqa: F401 - re-exported\nimport b  # noqa: F401\n"
            "import c  # noqa\nx = 1  # noqa: E731 (a lambda reads better here)\n"
            "y = '# noqa in a string is no comment'\n")
    assert noqa_without_reason(Path("m.py"), text) == [
        "m.py:2: # noqa: F401", "m.py:3: # noqa"]
