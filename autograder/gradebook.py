"""nbgrader's gradebook, written by one process only.

Workers never write nbgrader's tables: the local pool's hand their results to the main
process, the task queue's store theirs in tables of their own in the same database
(``queue/tables.py``), and the instructor's ``grade`` records each one here, one submission
per transaction. So nbgrader's tables have one writer, and any SQLAlchemy URL nbgrader
accepts works (``--db``; a plain ``postgresql://`` uses the installed psycopg2).

Results are recorded the way ``nbgrader autograde`` records them (``SaveAutoGrades``:
``auto_score`` per grade cell, ``needs_manual_grade`` as nbgrader sets it), so that
``nbgrader export`` and the formgrader keep working on the same database. nbgrader's
schema keeps one submitted notebook per student and notebook, and one grade per cell.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import nbformat
import sqlalchemy
import sqlalchemy.exc
from nbgrader import utils as nbutils
from nbgrader.api import (
    Assignment, Comment, Grade, Gradebook, MissingEntry, Student, SubmittedAssignment,
    SubmittedNotebook, new_uuid,
)
from nbgrader.preprocessors import (
    ClearOutput, ClearSolutions, ComputeChecksums, LockCells, SaveCells,
)

from autograder.nbgrader_settings import course_id, put_venv_on_path
from autograder.errors import UsageError
from autograder.grading.result import Result
from autograder.queue.tables import database_url


def db_url(workspace: Path, db: str | None = None) -> str:
    """The gradebook's SQLAlchemy URL: ``--db`` or ``<workspace>/gradebook.db``
    (nbgrader's own default when run from the workspace folder)."""
    return database_url(db) if db else \
        f"sqlite:///{(Path(workspace) / 'gradebook.db').resolve()}"


def open_gradebook(url: str) -> Gradebook:
    """nbgrader's gradebook at ``url``, filed under the course's id; refused when it
    holds another course's grades only (another course's --db, or a mistyped path)."""
    put_venv_on_path()
    ours = course_id()
    others = _other_courses(url, ours)
    if others:
        raise UsageError(f"the gradebook {url} belongs to the course "
                         f"{', '.join(others)}, not {ours}: give this course's --db")
    return Gradebook(url, ours)


def _other_courses(url: str, ours: str) -> list[str]:
    """The course ids an existing gradebook holds, when ours is not among them; a
    database out of reach (a database server down, a wrong URL) is one line."""
    try:
        engine = sqlalchemy.create_engine(url)
    except (sqlalchemy.exc.ArgumentError, ImportError) as error:
        raise UsageError(f"--db {url}: {error}") from None
    try:
        if not sqlalchemy.inspect(engine).has_table("course"):
            return []
        with engine.connect() as connection:
            ids = [row[0] for row in connection.execute(sqlalchemy.text(
                "SELECT id FROM course"))]
    except sqlalchemy.exc.OperationalError as error:
        shown = engine.url.render_as_string(hide_password=True)
        first = str(error.orig or error).strip().splitlines()[0]
        raise UsageError(f"the gradebook {shown} is out of reach: {first}") from None
    finally:
        engine.dispose()
    return [] if not ids or ours in ids else sorted(ids)


def ensure_assignment(url: str, assignment: str, instructor_nb_path: Path) -> None:
    """Record the assignment's notebook and graded cells, as ``nbgrader
    generate_assignment`` does (same preprocessors, up to ``SaveCells``).

    Idempotent; nbgrader itself refuses to add or remove graded cells once there are
    submissions, and that error reaches the instructor unchanged.
    """
    with open_gradebook(url) as gb:
        gb.update_or_create_assignment(assignment)
    nb = nbformat.read(str(instructor_nb_path), as_version=4)
    nb = copy.deepcopy(nb)
    resources = {"nbgrader": {"notebook": Path(instructor_nb_path).stem,
                              "assignment": assignment, "db_url": url}}
    for pre in (LockCells(), ClearSolutions(), ClearOutput(), ComputeChecksums(),
                SaveCells()):
        nb, resources = pre.preprocess(nb, resources)


def read_timestamp(submission_dir: Path) -> str | None:
    """nbgrader's ``timestamp.txt`` convention (written by ``collect``)."""
    path = Path(submission_dir) / "timestamp.txt"
    if path.exists():
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        return text or None
    return None


@dataclass
class Entry:
    """One result to record: its notebook's name, and the submission's timestamp and
    the student's name as collect found them."""

    result: Result
    notebook: str
    timestamp: str | None = None
    name: str | None = None


def record(gb: Gradebook, result: Result, notebook: str, timestamp: str | None = None,
           name: str | None = None) -> bool:
    """Write one submission's result (of ``result.student`` for ``result.assignment``);
    returns True if anything changed. ``record_many`` for one."""
    return record_many(gb, [Entry(result, notebook, timestamp, name)]) > 0


def record_many(gb: Gradebook, entries: list[Entry]) -> int:
    """Write the results of one assignment's submissions in one transaction (a few
    queries for the whole batch, whatever its size); returns how many changed.

    Only ``auto_score`` (and ``needs_manual_grade`` when the auto score changes, or
    when the part is left for review) is written: an instructor's manual scores and
    comments are never touched, and a re-run with an unchanged result writes nothing.
    """
    if not entries:
        return 0
    assignments = {entry.result.assignment for entry in entries}
    if len(assignments) != 1:
        raise ValueError(f"record_many: one assignment at a time, not {sorted(assignments)}")
    try:
        changed = _record(gb, assignments.pop(), entries)
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise
    return changed


def _record(gb: Gradebook, assignment: str, entries: list[Entry]) -> int:
    # autoflush off: the ORM's changes (to existing submissions) are flushed once, at
    # the commit, not before each query
    with gb.db.no_autoflush:
        students = {entry.result.student for entry in entries}
        submissions = _submissions(gb, assignment, students)
        # a new submission: its rows inserted with its scores, one INSERT per table
        # for the whole batch (the last result of a student counts)
        new = {entry.result.student: entry for entry in entries
               if entry.result.student not in submissions}
        if new:
            known = {row[0] for row in
                     gb.db.query(Student.id).filter(Student.id.in_(list(new)))}
            _insert_students(gb, [entry for student, entry in new.items()
                                  if student not in known])
            _insert_submissions(gb, gb.find_assignment(assignment), list(new.values()))
        changed = len(new)
        for entry in entries:
            submission = submissions.get(entry.result.student)
            if submission is not None:
                changed += _apply(submission, entry)
    return changed


def _submissions(gb: Gradebook, assignment: str, students: set[str]) -> dict:
    """{student: nbgrader's submission} of those who have one, notebooks and grades
    loaded in the same few queries."""
    from sqlalchemy.orm import selectinload

    rows = (gb.db.query(SubmittedAssignment)
            .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
            .filter(Assignment.name == assignment,
                    SubmittedAssignment.student_id.in_(students))
            .options(selectinload(SubmittedAssignment.notebooks)
                     .selectinload(SubmittedNotebook.grades)))
    return {row.student_id: row for row in rows}


def _insert_students(gb: Gradebook, entries: list[Entry]) -> None:
    """nbgrader's students, as ``Student(id=..., last_name=name)`` adds them."""
    if entries:
        gb.db.execute(sqlalchemy.insert(Student.__table__), [
            dict(id=entry.result.student, first_name=None, last_name=entry.name or None,
                 email=None, lms_user_id=None) for entry in entries])


def _insert_submissions(gb: Gradebook, assignment: Assignment, entries: list[Entry]
                        ) -> None:
    """nbgrader's ``add_submission`` and then ``_apply``, for many students at once:
    the submission, a notebook per notebook of the assignment, a grade per graded cell
    (a result's automatic score in it, as ``_apply`` writes it in an empty one), a
    comment per answer; every value the ORM would give, in one INSERT per table
    instead of some ten ORM objects per student."""
    submissions, notebooks, grades, comments = [], [], [], []
    for entry in entries:
        submission = new_uuid()
        submissions.append(dict(
            id=submission, assignment_id=assignment.id, student_id=entry.result.student,
            timestamp=nbutils.parse_utc(entry.timestamp) if entry.timestamp else None,
            extension=None))
        for notebook in assignment.notebooks:
            nb = new_uuid()
            notebooks.append(dict(id=nb, assignment_id=submission, notebook_id=notebook.id,
                                  flagged=False, late_submission_penalty=None))
            scored = notebook.name == entry.notebook
            for cell in notebook.grade_cells + notebook.task_cells:
                part = entry.result.parts.get(cell.name) if scored else None
                auto = part is not None and part.auto
                grades.append(dict(
                    id=new_uuid(), notebook_id=nb, cell_id=cell.id,
                    auto_score=float(part.points) if auto else None, manual_score=None,
                    extra_credit=None,
                    # nbgrader's default (True) until an automatic score is written
                    needs_manual_grade=bool(part.review) if auto else True))
            for cell in notebook.solution_cells + notebook.task_cells:
                comments.append(dict(id=new_uuid(), notebook_id=nb, cell_id=cell.id,
                                     auto_comment=None, manual_comment=None))
    for model, rows in ((SubmittedAssignment, submissions), (SubmittedNotebook, notebooks),
                        (Grade, grades), (Comment, comments)):
        if rows:
            gb.db.execute(sqlalchemy.insert(model.__table__), rows)


def _apply(submission, entry: Entry) -> bool:
    """Write one result's automatic scores and timestamp; whether anything changed."""
    result, changed = entry.result, False
    when = nbutils.parse_utc(entry.timestamp) if entry.timestamp else None
    if when is not None and submission.timestamp != when:
        submission.timestamp = when
        changed = True
    for nb in submission.notebooks:
        if nb.name != entry.notebook:
            continue
        for grade in nb.grades:
            part = result.parts.get(grade.name)
            if part is None or not part.auto:
                continue  # graded by hand: nothing to write
            auto = float(part.points)
            # a part the grader could not judge (its check failed, not the student) is
            # flagged for the formgrader instead of standing as a silent 0
            review = bool(part.review)
            if grade.auto_score != auto or (review and not grade.needs_manual_grade):
                grade.auto_score = auto
                grade.needs_manual_grade = review or grade.manual_score is not None
                changed = True
    return changed


def notebook_scores(gb: Gradebook, assignment: str, notebook: str) -> dict[str, dict]:
    """{student: {"parts": {grade_id: score}, "score": total, "max_score": max,
    "needs_manual_grade": bool}} from the gradebook (manual scores included; a part
    nobody has scored yet is None)."""
    out = {}
    for sub in gb.notebook_submissions(notebook, assignment):
        out[sub.student.id] = {
            "parts": {g.name: (g.score if g.auto_score is not None
                               or g.manual_score is not None else None)
                      for g in sub.grades},
            "score": sub.score,
            "max_score": sub.max_score,
            "needs_manual_grade": sub.needs_manual_grade,
        }
    return out


def submitted_notebook_counts(gb: Gradebook, assignment: str) -> dict[tuple, int]:
    """{(student, notebook): number of submitted-notebook rows}: always 1 per pair."""
    counts: dict[tuple, int] = {}
    for sub in gb.db.query(SubmittedNotebook).all():
        if sub.assignment.name != assignment:
            continue
        key = (sub.student.id, sub.name)
        counts[key] = counts.get(key, 0) + 1
    return counts


def scores_or_reason(url: str, assignment: str) -> tuple[dict[str, dict], str | None]:
    """``(notebook_scores, None)``, or ``({}, why)`` when the gradebook has no such
    assignment (results copied without their gradebook, another ``--db``): the pages
    then say that manual grades could not be read. Any other failure propagates."""
    with open_gradebook(url) as gb:
        try:
            gb.find_notebook(assignment, assignment)
        except MissingEntry:
            return {}, f"the gradebook {url} has no assignment {assignment}"
        return notebook_scores(gb, assignment, assignment), None
