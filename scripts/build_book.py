"""Strict build of the website: any cell error, Sphinx warning or broken reference fails.

jupyter-book 1.x exits 0 when a notebook cell raises unless it runs with -W, and then
it only points at a log file; this wrapper prints the failing notebooks' logs too.

    python scripts/build_book.py [BOOK_DIR [OUTPUT_DIR]]

BOOK_DIR defaults to the repository root, OUTPUT_DIR to BOOK_DIR (the site lands in
OUTPUT_DIR/_build/html; a separate OUTPUT_DIR lets two builds run side by side).
"""

import subprocess
import sys
from pathlib import Path


def build(book_dir: Path, output_dir: Path) -> int:
    html = output_dir / "_build" / "html"
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(book_dir),
        "--path-output", str(output_dir),
        "-W",            # warnings are errors ...
        "-n",            # ... and so are broken references (nitpicky)
        "--keep-going",  # report every problem, not only the first
    ]
    result = subprocess.run(cmd)
    if result.returncode != 0:
        reports = html / "reports"
        for log in sorted(reports.rglob("*.log")) if reports.exists() else []:
            print(f"\n===== failing notebook log: {log} =====", file=sys.stderr)
            print(log.read_text(errors="replace"), file=sys.stderr)
        print("\nBOOK BUILD FAILED (see the errors above)", file=sys.stderr)
        return result.returncode
    print(f"\nThe website is built: {(html / 'index.html').resolve()}")
    return 0


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    book_dir = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else root
    output_dir = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else book_dir
    sys.exit(build(book_dir, output_dir))
