"""``release``: the student notebooks (``make exercises`` runs ``python -m autograder release``).

Runs ``nbgrader generate_assignment`` for every assignment with the course's
configuration (autograder/nbgrader_config.py): ``solutions/<name>/<name>.ipynb`` ->
``exercises/<name>/<name>.ipynb``, solutions replaced by stubs, hidden tests and
outputs removed, test and set-up cells locked with checksums. nbgrader records the
assignment in a gradebook as it goes; that one is a throw-away in a temporary folder.
Each released notebook then gets the release record of its cells in
``metadata["course"]`` (``course.check.release_record``): what the student's
``python -m course.check`` needs to see a deleted or edited cell and the file's name.
Each language of the course then gets its release of every assignment, from the same
English release with its messages translated (course.notebook_i18n, catalogues in
``locale/<language>/LC_MESSAGES/exercises/``): ``exercises/zh_CN/<name>/<name>.ipynb``,
with its own release record; an assignment whose catalogue is missing gets none.

    python -m autograder release                    # all assignments into exercises/
    python -m autograder release adam --out /tmp/x  # one, into another folder
"""

import tempfile
from pathlib import Path

import nbformat

from autograder.checks import ASSIGNMENTS
from autograder.nbgrader_settings import course_config, put_venv_on_path
from course import i18n, notebook_i18n
from course.check import release_record


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
            add_release_record(target / f"{name}.ipynb", name)
            print(f"{name}: {target / (name + '.ipynb')}")
            for path in release_translations(target / f"{name}.ipynb", name):
                print(f"{name}: {path}")


def release_translations(english: Path, name: str) -> list[Path]:
    """The release of ``name`` in every language that has its catalogue, beside the
    English one: <release>/<language>/<name>/<name>.ipynb."""
    written = []
    notebook = nbformat.read(str(english), as_version=4)
    for language in i18n.TRANSLATIONS:
        catalogue = notebook_i18n.catalogue_path(i18n.ROOT, language, name)
        if not catalogue.is_file():
            continue
        translated, missing = notebook_i18n.translate_notebook(
            notebook, i18n.translations(catalogue), language, name)
        if missing:
            raise RuntimeError(f"{catalogue} lacks {len(missing)} translation(s), the "
                               f"first: {missing[0]!r}; run make translations")
        path = english.parents[1] / language / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        translated.metadata["course"].update(release_record(translated, name))
        nbformat.write(translated, str(path))
        written.append(path)
    return written


def add_release_record(path: Path, name: str) -> None:
    """Store the released cells' record in the notebook's ``metadata["course"]``."""
    notebook = nbformat.read(str(path), as_version=4)
    notebook.metadata.setdefault("course", {}).update(release_record(notebook, name))
    nbformat.write(notebook, str(path))
