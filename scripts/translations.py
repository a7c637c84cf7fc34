"""Keep the translations in step with the English pages (`make translations`).

    python scripts/translations.py [--language zh_CN]          # update, then list
    python scripts/translations.py --check [--language zh_CN]  # list only, write nothing

Every message of the site is a paragraph, heading, table cell, list item or alt text
of an English page, a word of one of its figures, or one of the site's own strings;
the exercise notebooks' messages (their instructions and the visible checks' words,
course.notebook_i18n) have a catalogue each, exercises/<assignment>.po; the hidden
checks' messages (the judges' templates, autograder.pages.messages_i18n, shown on a
student's feedback page) have theirs, grader/messages.po, kept out of the public
course;
the themes' words their own catalogues lack are kept by hand in sphinx.po and
booktheme.po (checked for completeness, never rewritten).
An update

1. fills the English notebook cache as `make book` does (a figure's words are
   messages, so the pages must have run; pages already cached are not run again);
2. has Sphinx's gettext builder write one template per page (_build/gettext/pot/);
3. updates each page's catalogue, locale/<language>/LC_MESSAGES/<page>.po, from its
   template with Babel (what sphinx-intl does): a new message is added empty, a
   changed one keeps its old translation marked fuzzy (with the old English as
   ``#| msgid``), a removed one is dropped; a message with nothing to translate
   (only code, maths, a link by its target) is filled in with itself;
4. lists what needs translating, page by page.

``--check`` reads the catalogues as they are and also names the stale messages: the
ones whose English changed or appeared since the last update (the catalogue does not
have them) and the catalogue's translations of English that no longer exists.
tests/book/test_translations.py fails on any of these outside the pages listed in
locale/<language>/pending-pages.txt.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from course import i18n  # noqa: E402 - after the sys.path line

SITE_DOMAIN = "site"  # the site's own strings: title, author, the not-finished notice
# The themes' words their own catalogues lack, written by hand (course.sphinx_i18n)
THEME_DOMAINS = ("sphinx", "booktheme")


@dataclass
class PageStatus:
    """What keeps a page's translation from being complete."""
    untranslated: list[str] = field(default_factory=list)  # in the catalogue, empty
    fuzzy: list[str] = field(default_factory=list)         # English changed: to review
    missing: list[str] = field(default_factory=list)       # not in the catalogue: new or
                                                           # changed English, no update yet
    stale: list[str] = field(default_factory=list)         # translations of English
                                                           # that is gone
    total: int = 0

    @property
    def complete(self) -> bool:
        return not (self.untranslated or self.fuzzy or self.missing or self.stale)

    def summary(self) -> str:
        parts = [f"{len(getattr(self, name))} {name}" for name in
                 ("untranslated", "fuzzy", "missing", "stale") if getattr(self, name)]
        return ", ".join(parts) or "complete"


# --- the messages of the English site ---------------------------------------------

def site_messages(book_dir: Path) -> list[str]:
    """The site's own strings: its title and author (_config.yml) and the notice on a
    page not translated in full."""
    import yaml

    from course.sphinx_i18n import NOT_FINISHED

    config = yaml.safe_load((book_dir / "_config.yml").read_text())
    return [text for text in (config.get("title"), config.get("author"), NOT_FINISHED)
            if text]


def extract(book_dir: Path, output_dir: Path, quiet: bool = True) -> dict[str, list[str]]:
    """{page (docname): [messages]} of the English site, and the site's own strings
    under "site"; the templates are written to output_dir/_build/gettext/."""
    from babel.messages.pofile import read_po
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    import build_book

    warnings = io.StringIO()
    with patch_docutils(str(book_dir)), docutils_namespace():
        app = build_book.sphinx_app(book_dir, output_dir, None, builder="gettext",
                                    status=None if quiet else sys.stdout,
                                    warning=warnings)
        app.build()
    if app.statuscode != 0:
        raise SystemExit(f"error: the message templates of {book_dir} were not "
                         f"written:\n{warnings.getvalue()}")
    pot_dir = Path(app.outdir)
    messages = {}
    for pot in sorted(pot_dir.rglob("*.pot")):
        docname = pot.relative_to(pot_dir).with_suffix("").as_posix()
        if docname == SITE_DOMAIN or docname in THEME_DOMAINS:
            continue  # sphinx.pot: the words of course/_templates, kept in sphinx.po
        with pot.open("rb") as file:
            messages[docname] = [m.id for m in read_po(file) if m.id]
    messages[SITE_DOMAIN] = site_messages(book_dir)
    write_template(pot_dir / f"{SITE_DOMAIN}.pot", messages[SITE_DOMAIN])
    messages.update(exercise_messages(book_dir))
    messages.update(grader_messages(book_dir))
    return messages


def exercise_messages(book_dir: Path) -> dict[str, list[str]]:
    """{exercises/<a>: [messages]} of each assignment's solution notebook: its
    instructions and the visible checks' words (course.notebook_i18n)."""
    import json

    from course import notebook_i18n

    found = {}
    for path in sorted((book_dir / "solutions").glob("*/*.ipynb")):
        if path.stem == path.parent.name:
            notebook = json.loads(path.read_text(encoding="utf-8"))
            found[notebook_i18n.catalogue_domain(path.stem)] = (
                notebook_i18n.notebook_messages(notebook))
    return found


def grader_messages(book_dir: Path) -> dict[str, list[str]]:
    """{grader/messages: [templates]} of the hidden checks' messages, read from the
    judges' source (autograder.pages.messages_i18n); nothing for a book without the
    grader."""
    from autograder.pages import messages_i18n

    templates = messages_i18n.extract_templates(book_dir)
    return {messages_i18n.DOMAIN: templates} if templates else {}


def write_template(path: Path, messages: list[str]) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    catalog = Catalog(project="course site", fuzzy=False)
    for message in messages:
        catalog.add(message)
    with path.open("wb") as file:
        write_po(file, catalog, omit_header=False)


# --- checking ------------------------------------------------------------------------

def check(book_dir: Path, language: str, messages: dict[str, list[str]]
          ) -> dict[str, PageStatus]:
    """The status of each page's catalogue against the page's current messages, and
    of catalogues left for pages that no longer exist."""
    found = {}
    for docname, current in messages.items():
        status = PageStatus(total=len(current))
        entries = {}
        path = i18n.catalogue_path(book_dir, language, docname)
        if path.is_file():
            entries = {e.msgid: e for e in i18n.read_po(path) if not e.obsolete}
        for message in current:
            entry = entries.get(message)
            if entry is None:
                status.missing.append(message)
            elif entry.fuzzy:
                status.fuzzy.append(message)
            elif not entry.msgstr:
                status.untranslated.append(message)
        wanted = set(current)
        status.stale = [m for m, e in entries.items()
                        if m not in wanted and e.msgstr and not e.fuzzy]
        found[docname] = status
    folder = i18n.catalogue_dir(book_dir, language)
    for path in sorted(folder.rglob("*.po")) if folder.is_dir() else []:
        docname = path.relative_to(folder).with_suffix("").as_posix()
        entries = [e for e in i18n.read_po(path) if not e.obsolete]
        if docname in THEME_DOMAINS:  # written by hand: every entry translated
            found[docname] = PageStatus(
                untranslated=[e.msgid for e in entries if not e.msgstr],
                fuzzy=[e.msgid for e in entries if e.fuzzy], total=len(entries))
        elif docname not in messages:
            found[docname] = PageStatus(stale=[e.msgid for e in entries])
    return found


# --- updating -----------------------------------------------------------------------

OUTSIDE_WORDS = re.compile(r"\{[\w:-]+\}`[^`]*`|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|https?://\S+",
                           re.S)


def needs_no_translation(message: str) -> bool:
    """Only code, maths, links by their target, numbers: the same in every language."""
    return not re.search(r"[^\W\d_]{2,}", OUTSIDE_WORDS.sub(" ", message))


def po_text(catalog, width: int = 79) -> str:
    """The catalogue as Babel writes it, except a fuzzy entry's old English
    (``#| msgid``): Babel wraps it as one long comment, cutting its quoted lines
    apart, which msgfmt and PO editors reject; gettext writes each line as
    ``#| "..."``, and so does this."""
    from babel.messages.pofile import generate_po, normalize

    blocks = iter([[f"#| msgid {line}" if i == 0 else f"#| {line}"
                    for i, line in enumerate(normalize(m.previous_id[0],
                                                       width=width).splitlines())]
                   for m in catalog if m.id and m.previous_id])
    out, in_previous = [], False
    for line in "".join(generate_po(catalog, ignore_obsolete=True, include_previous=True,
                                    width=width)).splitlines():
        if line.startswith("#|"):
            if not in_previous:
                out.extend(next(blocks))
            in_previous = True
            continue
        in_previous = False
        out.append(line)
    return "\n".join(out) + "\n"


def update(book_dir: Path, language: str, messages: dict[str, list[str]],
           prune: bool = True) -> list[str]:
    """Create or update each page's catalogue from its template; delete the
    catalogues of pages that are gone (``prune=False``: update only the catalogues of
    ``messages``, e.g. ``grader_messages`` alone). Returns what it did, one line per
    file."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    done = []
    for docname, current in messages.items():
        template = Catalog(fuzzy=False)
        for message in current:
            template.add(message)
        path = i18n.catalogue_path(book_dir, language, docname)
        if path.is_file():
            with path.open("rb") as file:
                catalog = read_po(file, locale=language)
            before = {m.id: (m.string, m.fuzzy) for m in catalog if m.id}
        else:
            catalog = Catalog(locale=language, project=f"course: {docname}", fuzzy=False)
            before = {}
        catalog.update(template, no_fuzzy_matching=False, update_header_comment=False)
        for message in catalog:
            if message.id and not message.string and needs_no_translation(message.id):
                message.string = message.id
        after = {m.id: (m.string, m.fuzzy) for m in catalog if m.id}
        if after == before and path.is_file():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            file.write(po_text(catalog).encode("utf-8"))
        added = len(set(after) - set(before))
        removed = len(set(before) - set(after))
        done.append(f"updated {path.relative_to(book_dir)}: +{added} -{removed} "
                    "message(s)")
    folder = i18n.catalogue_dir(book_dir, language)
    for path in sorted(folder.rglob("*.po")) if prune else []:
        docname = path.relative_to(folder).with_suffix("").as_posix()
        if docname not in messages and docname not in THEME_DOMAINS:
            path.unlink()
            done.append(f"deleted {path.relative_to(book_dir)}: its page is gone")
    return done


# --- the report ---------------------------------------------------------------------

def report(statuses: dict[str, PageStatus], pending: list[str], language: str) -> str:
    lines = []
    todo = {d: s for d, s in statuses.items() if not s.complete}
    complete = [d for d, s in statuses.items() if s.complete]
    for docname, status in sorted(todo.items()):
        mark = " (pending)" if docname in pending else ""
        lines.append(f"  {docname}{mark}: {status.summary()} of {status.total}")
    head = (f"{language}: {len(complete)} of {len(statuses)} catalogues complete; "
            f"{len(todo)} need work")
    return "\n".join([head, *lines])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--language", default=None,
                        help="one translation (default: every one with a locale folder)")
    parser.add_argument("--check", action="store_true",
                        help="list what needs translating; change no file")
    parser.add_argument("--book", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    book_dir = args.book.resolve()
    languages = [args.language] if args.language else [
        language.code for language in i18n.site_languages(book_dir)[1:]]
    if args.language and args.language not in i18n.TRANSLATIONS:
        parser.error(f"unknown language {args.language!r}: "
                     f"one of {', '.join(i18n.TRANSLATIONS)}")
    if not args.check:
        import build_book

        jobs = build_book.default_jobs()
        if build_book.execute_pages(book_dir, book_dir, jobs) != 0:
            print("error: a page failed to execute (see above)", file=sys.stderr)
            return 1
    messages = extract(book_dir, book_dir)
    for language in languages:
        if not args.check:
            for line in update(book_dir, language, messages):
                print(line)
        statuses = check(book_dir, language, messages)
        print(report(statuses, i18n.pending_pages(book_dir, language), language))
    return 0


if __name__ == "__main__":
    sys.exit(main())
