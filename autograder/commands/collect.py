"""``collect``: submissions as instructors receive them -> nbgrader's ``submitted/`` layout.

The source is a folder or a ``.zip`` (an LMS "download all submissions"). Each file's
path is matched, first pattern first, against:

1. ``--pattern``: a regular expression with a ``(?P<student>...)`` group, optionally
   ``(?P<name>...)``, ``(?P<timestamp>...)`` and ``(?P<file>...)`` (the original name);
   tried on the path inside the source, then on the file name alone;
2. LMS file names: ``<Name>_<id>_<timestamp>_<original>`` (Canvas-like; ``_LATE_``
   allowed before the id) and ``<Name>_<id>_assignsubmission_file_<original>`` (Moodle);
   the student is the numeric id, the name goes to ``students.csv``;
3. one folder per student: ``<student>/<file>`` or ``<student>/<assignment>/<file>``;
4. ``<student>_<assignment>.ipynb`` (or ``-``), and ``<assignment>_<student>.ipynb``.

Per student, the newest submission wins (by timestamp), then the notebook named
``<assignment>.ipynb``, then one whose name contains the assignment's name, then any
other notebook ("renamed": graded, and reported). The chosen notebook becomes
``submitted/<student>/<assignment>/<assignment>.ipynb``; the student's other files are
copied next to it (the grader does not run them); ``timestamp.txt`` records the LMS
timestamp. Everything that could not be matched is reported, never silently dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.errors import UsageError

LMS_PATTERNS = (
    # Canvas-like: Name_id_timestamp_original (timestamp: digits, maybe with T, - or :)
    r"(?P<name>.+?)_(?:LATE_)?(?P<student>\d+)_(?P<timestamp>\d[\dT:\-]{5,})_(?P<file>.+)",
    # Moodle: Full Name_id_assignsubmission_file_original
    r"(?P<name>.+?)_(?P<student>\d+)_assignsubmission_file_(?P<file>.+)",
)
SYSTEM_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}
SYSTEM_DIRS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git"}
SAFE_ID = re.compile(r"[^A-Za-z0-9._@+\-]")


@dataclass
class Found:
    student: str
    rel: str  # path inside the source
    path: Path  # where the bytes are now
    file: str  # the student's own file name
    timestamp: str = ""
    name: str = ""


@dataclass
class Report:
    assignment: str
    source: str
    destination: Path
    collected: list[tuple[str, str, str]] = field(default_factory=list)  # student, file, state
    renamed: list[tuple[str, str]] = field(default_factory=list)
    no_notebook: list[tuple[str, str]] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    superseded: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    renamed_ids: list[tuple[str, str]] = field(default_factory=list)


# ----------------------------------------------------------------------------- matching
def parse_timestamp(text: str) -> dt.datetime | None:
    """LMS timestamps: 20240301102233, 202403011022, 2024-03-01T10-22-33, 1709288553."""
    text = text.strip()
    digits = re.sub(r"\D", "", text)
    formats = {14: "%Y%m%d%H%M%S", 12: "%Y%m%d%H%M", 8: "%Y%m%d"}
    if re.fullmatch(r"\d{10}", text):  # seconds since 1970
        return dt.datetime.fromtimestamp(int(text), dt.timezone.utc).replace(tzinfo=None)
    if len(digits) in formats:
        try:
            return dt.datetime.strptime(digits, formats[len(digits)])
        except ValueError:
            return None
    return None


def safe_id(student: str) -> str:
    cleaned = SAFE_ID.sub("_", student.strip()).strip("._") or "_"
    return cleaned


def match(rel: str, assignment: str, pattern: str | None) -> dict | None:
    """The student (and name, timestamp, original file name) for one file, or None."""
    parts = PurePosixPath(rel).parts
    base = parts[-1]
    if pattern:
        for text in (rel, base):
            m = re.fullmatch(pattern, text)
            if m and m.groupdict().get("student"):
                return {"file": base, **{k: v for k, v in m.groupdict().items() if v}}
    for lms in LMS_PATTERNS:
        m = re.fullmatch(lms, base)
        if m:
            return m.groupdict()
    if len(parts) >= 2:
        rest = parts[2:] if len(parts) >= 3 and parts[1] == assignment else parts[1:]
        return {"student": parts[0], "file": "/".join(rest)}
    a = re.escape(assignment)
    m = re.fullmatch(rf"(?P<student>.+?)[_\-]{a}(?P<suffix>[^/]*)\.ipynb", base)
    if m:  # the original name is what follows the student: sgd_momentum(-Copy1).ipynb
        return {"student": m.group("student"),
                "file": f"{assignment}{m.group('suffix')}.ipynb"}
    m = re.fullmatch(rf"{a}[_\-](?P<student>.+?)\.ipynb", base)
    if m:
        return {"student": m.group("student"), "file": f"{assignment}.ipynb"}
    return None


def _walk(root: Path, report: Report):
    """Every file under root (system clutter reported as ignored)."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        parts = PurePosixPath(rel).parts
        if any(p in SYSTEM_DIRS for p in parts) or parts[-1] in SYSTEM_FILES:
            if path.is_file():
                report.ignored.append(rel)
            continue
        if path.is_file():
            yield rel, path


def _extract(zip_path: Path, into: Path, report: Report) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir():
                continue
            pure = PurePosixPath(name)
            if pure.is_absolute() or ".." in pure.parts or "\\" in name:
                report.unmatched.append((name, "unsafe path in the archive: skipped"))
                continue
            dest = into / pure
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
    return into


def _unwrap(root: Path, assignment: str, pattern: str | None) -> Path:
    """A zip holding one folder that holds the class (``submissions/...``): look
    inside it. A folder holding a single student's files is left alone."""
    def entries(folder):
        return [p for p in folder.iterdir()
                if p.name not in SYSTEM_DIRS and p.name not in SYSTEM_FILES]

    top = entries(root)
    while len(top) == 1 and top[0].is_dir():
        inner = entries(top[0])
        named = [p for p in inner if p.is_file()
                 and match(p.name, assignment, pattern) is not None]
        if sum(p.is_dir() for p in inner) >= 2 or named:
            root, top = top[0], inner
        else:
            break
    return root


# ----------------------------------------------------------------------------- choosing
def _rank(found: Found, assignment: str) -> tuple:
    """Sort key: newest first, then the exact name, then a name with the assignment."""
    when = parse_timestamp(found.timestamp) if found.timestamp else None
    name = PurePosixPath(found.file).name
    exact = name == f"{assignment}.ipynb"
    close = assignment in name
    return (when or dt.datetime.min, found.timestamp, exact, close, name)


def _same_tree(a: Path, b: Path) -> bool:
    def listing(root: Path):
        return {p.relative_to(root).as_posix(): p.read_bytes()
                for p in root.rglob("*") if p.is_file()}
    return b.is_dir() and listing(a) == listing(b)


def collect(source, assignment: str, workspace: Path, pattern: str | None = None
            ) -> Report:
    """Copy the submissions in ``source`` into ``<workspace>/submitted``."""
    source = Path(source).expanduser().resolve()
    if not source.exists():
        raise UsageError(f"no such folder or archive: {source}")
    if source.is_file() and not zipfile.is_zipfile(source):
        raise UsageError(f"{source} is neither a folder nor a zip archive")
    check_pattern(pattern)
    report = Report(assignment, str(source), workspace / "submitted")
    with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
        if source.is_file():
            root = _unwrap(_extract(source, Path(tmp) / "zip", report), assignment,
                           pattern)
        else:
            root = source
        per_student: dict[str, list[Found]] = {}
        for rel, path in _walk(root, report):
            if path.suffix.lower() in (".zip", ".tar", ".gz", ".7z", ".rar"):
                report.unmatched.append((rel, "an archive inside the source: extract it "
                                              "and collect the folder"))
                continue
            got = match(rel, assignment, pattern)
            if got is None:
                report.unmatched.append((rel, "no pattern matches its name"))
                continue
            student = safe_id(got["student"])
            if student != got["student"]:
                report.renamed_ids.append((got["student"], student))
            per_student.setdefault(student, []).append(Found(
                student, rel, path, got.get("file") or PurePosixPath(rel).name,
                got.get("timestamp", ""), got.get("name", "")))
        names = {}
        for student, files in sorted(per_student.items()):
            _place(student, files, assignment, workspace, report, Path(tmp))
            for f in files:
                if f.name:
                    names[student] = f.name.replace("_", " ").strip()
        _update_roster(workspace, names)
    _save_report(report, workspace)
    return report


def check_pattern(pattern: str | None) -> None:
    """A ``--pattern`` must compile and name the student."""
    if pattern is None:
        return
    try:
        groups = re.compile(pattern).groupindex
    except re.error as error:
        raise UsageError(f"--pattern is not a regular expression: {error}") from None
    if "student" not in groups:
        raise UsageError("--pattern needs a (?P<student>...) group")


def _place(student, files, assignment, workspace, report, tmp: Path) -> None:
    notebooks = sorted((f for f in files if f.file.lower().endswith(".ipynb")),
                       key=lambda f: _rank(f, assignment), reverse=True)
    chosen = notebooks[0] if notebooks else None
    newest = max((f.timestamp for f in files), default="")
    keep = []
    for f in files:
        if f is chosen:
            continue
        if f.timestamp and newest and f.timestamp < newest:
            report.superseded.append((f.rel, f"{student} submitted again later"))
        elif f.file.lower().endswith(".ipynb"):
            report.superseded.append((f.rel, f"{student}: another notebook "
                                             f"({chosen.file}) is graded"))
            keep.append(f)
        else:
            keep.append(f)
    stage = tmp / "stage" / student
    stage.mkdir(parents=True)
    if chosen is not None:
        shutil.copy2(chosen.path, stage / f"{assignment}.ipynb")
        if PurePosixPath(chosen.file).name != f"{assignment}.ipynb":
            report.renamed.append((student, chosen.file))
        when = parse_timestamp(chosen.timestamp) if chosen.timestamp else None
        if when:
            (stage / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S UTC"))
    else:
        report.no_notebook.append((student, ", ".join(f.file for f in files)))
    for f in keep:
        name = PurePosixPath(f.file).name
        if name in (f"{assignment}.ipynb", "timestamp.txt"):
            name = "submitted-" + name
        shutil.copy2(f.path, stage / name)
    dest = workspace / "submitted" / student / assignment
    if _same_tree(stage, dest):
        state = "unchanged"
    else:
        state = "updated" if dest.exists() else "new"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(stage, dest)
    report.collected.append((student, chosen.rel if chosen else "-", state))


def _update_roster(workspace: Path, names: dict[str, str]) -> None:
    if not names:
        return
    path = workspace / "students.csv"
    rows = {}
    if path.exists():
        with open(path, newline="", encoding="utf-8") as fh:
            rows = {r["student_id"]: r.get("name", "") for r in csv.DictReader(fh)}
    rows.update(names)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", "name"])
        for sid in sorted(rows):
            writer.writerow([sid, rows[sid]])


# ----------------------------------------------------------------------------- report
def format_report(report: Report) -> str:
    states = [s for _, _, s in report.collected]
    lines = [f"collect {report.assignment}: {report.source} -> {report.destination}",
             f"  {len(report.collected)} students: {states.count('new')} new, "
             f"{states.count('updated')} updated, {states.count('unchanged')} unchanged"]

    def section(title, rows):
        if rows:
            lines.append(f"  {title}:")
            lines.extend(f"    {a}: {b}" for a, b in rows)

    section(f"renamed (graded as {report.assignment}.ipynb)",
            [(s, repr(f)) for s, f in report.renamed])
    section("no notebook (graded as missing)", report.no_notebook)
    section("NOT COLLECTED: files matched to no student", report.unmatched)
    section("not graded: superseded or extra notebooks", report.superseded)
    section("student ids made safe for folder names", report.renamed_ids)
    if report.ignored:
        lines.append(f"  ignored {len(report.ignored)} system file(s) "
                     "(__MACOSX, .DS_Store, checkpoints)")
    if report.unmatched:
        lines.append("  hint: name files <student>_<assignment>.ipynb, "
                     "<student>/<file>, or the LMS form <Name>_<id>_<timestamp>_<file>; "
                     "or pass --pattern '(?P<student>...)...'")
    return "\n".join(lines)


def _save_report(report: Report, workspace: Path) -> None:
    logs = workspace / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"collect-{report.assignment}.txt").write_text(format_report(report) + "\n")


def print_report(report: Report, stream=None) -> None:
    print(format_report(report), file=stream or sys.stdout)
