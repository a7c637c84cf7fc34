"""Generate the student notebooks: ``make exercises`` (= ``python -m autograder.release``).

Runs ``nbgrader generate_assignment`` for every assignment with the course's
configuration (autograder/nbgrader_config.py): ``solutions/<name>/<name>.ipynb`` ->
``exercises/<name>/<name>.ipynb``, solutions replaced by stubs, hidden tests and
outputs removed, test and set-up cells locked with checksums. nbgrader records the
assignment in a gradebook as it goes; that one is a throw-away in a temporary folder.

    python -m autograder.release                    # all assignments into exercises/
    python -m autograder.release adam --out /tmp/x  # one, into another folder
"""

import argparse
import sys
import tempfile
from pathlib import Path

from autograder.checks import ASSIGNMENTS
from autograder.config import course_config, put_venv_on_path


def release(assignments=ASSIGNMENTS, out=None):
    """Generate the student versions of ``assignments`` into ``out`` (default exercises/)."""
    from nbgrader.apps import NbGraderAPI

    put_venv_on_path()
    with tempfile.TemporaryDirectory(prefix="nbgrader-release-") as tmp:
        overrides = {"db_url": f"sqlite:///{Path(tmp) / 'gradebook.db'}"}
        if out is not None:
            overrides["release_directory"] = str(Path(out).resolve())
        api = NbGraderAPI(config=course_config(**overrides))
        for name in assignments:
            result = api.generate_assignment(name, force=True, create=True)
            if not result["success"]:
                raise RuntimeError(
                    f"nbgrader generate_assignment {name} failed:\n"
                    f"{result.get('error', '')}\n{result.get('log', '')}"
                )
            target = Path(api.coursedir.format_path(
                api.coursedir.release_directory, ".", name))
            print(f"{name}: {target / (name + '.ipynb')}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", default=list(ASSIGNMENTS))
    parser.add_argument("--out", help="release folder (default: exercises/)")
    args = parser.parse_args(argv)
    release(args.assignments, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
