"""Strict build of the website: any cell error, Sphinx warning or broken reference fails.

jupyter-book 1.x exits 0 when a notebook cell raises unless it runs with -W, and then
it only points at a log file; this wrapper prints the failing notebooks' logs too.

    python scripts/build_book.py [BOOK_DIR]     (default: the repository root)
"""

import subprocess
import sys
from pathlib import Path


def build(book_dir: Path) -> int:
    html = book_dir / "_build" / "html"
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(book_dir),
        "-W",           # warnings are errors ...
        "-n",           # ... and so are broken references (nitpicky)
        "--keep-going",  # report every problem, not only the first
    ]
    result = subprocess.run(cmd)
    if result.returncode != 0:
        logs = sorted((html / "reports").rglob("*.log")) if (html / "reports").exists() else []
        for log in logs:
            print(f"\n===== failing notebook log: {log} =====", file=sys.stderr)
            print(log.read_text(errors="replace"), file=sys.stderr)
        print("\nBOOK BUILD FAILED (see the errors above)", file=sys.stderr)
        return result.returncode
    print(f"\nThe website is built: {(html / 'index.html').resolve()}")
    return 0


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    sys.exit(build(target))
