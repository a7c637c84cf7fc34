"""The translations (locale/<language>/): complete, in step with the English, in the
glossary's terms.

- Completeness: every message of every page and of the site (the current English,
  extracted by Sphinx's gettext builder as `make translations` does) is translated,
  not fuzzy and not stale, except on the pages that locale/<language>/pending-pages.txt
  lists. That list names only real pages not yet translated in full, and it only
  shrinks: every version of it in git holds no page the previous one did not.
- Terminology: a translated message whose English uses a glossary term has the
  glossary's Chinese term (what translate-toolkit's pofilter calls its terminology
  check), unless a translator comment says ``terms-ok: <term>``.
- Each check fails on an edited copy: a message left untranslated, an English
  paragraph changed after its translation, a glossary term replaced.
- The glossary says, for every Chinese term, whether it is the notes' own or the
  usual one; softmax is not 概率分布, 动量参数 is the course's mu, 偏差修正 not 偏置修正.
- The translated page sources (downloads, Binder) have every translated message in
  place of its English.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import one_page_book

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import translations  # noqa: E402 - after the sys.path line

from autograder.pages import messages_i18n  # noqa: E402 - after the sys.path line
from course import i18n, termbase  # noqa: E402 - after the sys.path line

GLOSSARY = ROOT / "book" / "glossary.md"


# --- completeness ---------------------------------------------------------------------

def incomplete(statuses: dict[str, translations.PageStatus], pending: list[str]) -> str:
    """The problems of every catalogue outside the pending pages, one line each."""
    lines = []
    for docname, status in sorted(statuses.items()):
        if docname in pending or status.complete:
            continue
        for kind, hint in [("untranslated", "translate it"),
                           ("fuzzy", "its English changed: review the translation and "
                                     "remove the fuzzy flag"),
                           ("missing", "new or changed English: run `make translations`, "
                                       "then translate it"),
                           ("stale", "its English is gone: run `make translations`")]:
            for message in getattr(status, kind):
                lines.append(f"{docname}: {kind} ({hint}): {message[:100]!r}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def site_messages():
    """The messages of the English site as it is now (about 10 s: Sphinx's gettext
    builder, figures read from the notebook cache the book build filled)."""
    return translations.extract(ROOT, ROOT)


@pytest.mark.build
@pytest.mark.parametrize("language", i18n.TRANSLATIONS)
def test_every_message_is_translated_outside_the_pending_pages(site_messages, language):
    statuses = translations.check(ROOT, language, site_messages)
    problems = incomplete(statuses, i18n.pending_pages(ROOT, language))
    assert not problems, f"{language} is not in step with the English:\n{problems}"


@pytest.mark.build
@pytest.mark.parametrize("language", i18n.TRANSLATIONS)
def test_the_pending_list_names_only_real_untranslated_pages(site_messages, language):
    statuses = translations.check(ROOT, language, site_messages)
    for page in i18n.pending_pages(ROOT, language):
        assert page in site_messages, f"{page} is pending but is no page of the book"
        assert not statuses[page].complete, (
            f"{page} is translated in full: remove it from "
            f"locale/{language}/{i18n.PENDING_NAME}")


def pending_in_git(language: str) -> list[tuple[str, set[str]]]:
    """(commit, pages) for every committed version of the pending list, oldest first,
    and the working tree's last."""
    relative = f"{i18n.LOCALE_DIR}/{language}/{i18n.PENDING_NAME}"
    log = subprocess.run(["git", "-C", str(ROOT), "log", "--reverse", "--format=%H",
                          "--", relative], capture_output=True, text=True)
    if log.returncode != 0:
        pytest.fail(f"git log failed: {log.stderr}")
    versions = []
    for commit in log.stdout.split():
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{relative}"],
                               capture_output=True, text=True)
        if shown.returncode == 0:  # a commit that deleted it: nothing pending
            versions.append((commit[:10], set(parse_pending(shown.stdout))))
        else:
            versions.append((commit[:10], set()))
    versions.append(("working tree", set(i18n.pending_pages(ROOT, language))))
    return versions


def parse_pending(text: str) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in text.splitlines()
            if line.split("#", 1)[0].strip()]


def grown(versions: list[tuple[str, set[str]]]) -> list[str]:
    return [f"{name} adds {sorted(pages - before)} (after {before_name})"
            for (before_name, before), (name, pages) in zip(versions, versions[1:])
            if pages - before]


@pytest.mark.parametrize("language", i18n.TRANSLATIONS)
def test_the_pending_list_only_shrinks(language):
    assert not grown(pending_in_git(language)), (
        "a page was added to the list of pages still to translate; translate it "
        "instead (a changed page is translated again, not put back on the list)")


def test_a_grown_pending_list_is_caught():
    versions = [("a", {"book/x", "book/y"}), ("b", {"book/x"}), ("c", {"book/x", "book/z"})]
    assert grown(versions) == ["c adds ['book/z'] (after b)"]


# --- the hidden checks' messages (no book build: their templates come from the judges) ---

def grader_problems(root: Path, language: str) -> str:
    """The problems of the catalogue of the hidden checks' messages under ``root``."""
    statuses = translations.check(root, language, translations.grader_messages(root))
    return incomplete({d: s for d, s in statuses.items()
                       if d == messages_i18n.DOMAIN}, [])


@pytest.mark.parametrize("language", i18n.TRANSLATIONS)
def test_every_hidden_check_message_is_translated(language):
    """Every template of the judges' messages (autograder/checks) has its translation:
    a judge that gains or changes a message fails here until `make translations`
    and a translator have been by."""
    problems = grader_problems(ROOT, language)
    assert not problems, f"{language}: the hidden checks' messages:\n{problems}"


def grader_copy(folder: Path, language: str) -> Path:
    """What extraction and the catalogue read, copied: the judges, the two other
    sources of messages, the catalogue."""
    for relative in [messages_i18n.CHECKS_DIR, *(p.parent for p, _ in
                                                 messages_i18n.ELSEWHERE)]:
        (folder / relative).mkdir(parents=True, exist_ok=True)
    for path in (ROOT / messages_i18n.CHECKS_DIR).glob("*.py"):
        shutil.copy(path, folder / messages_i18n.CHECKS_DIR / path.name)
    for path, _ in messages_i18n.ELSEWHERE:
        shutil.copy(ROOT / path, folder / path)
    catalogue = i18n.catalogue_path(folder, language, messages_i18n.DOMAIN)
    catalogue.parent.mkdir(parents=True)
    shutil.copy(i18n.catalogue_path(ROOT, language, messages_i18n.DOMAIN), catalogue)
    return folder


def test_a_hidden_check_message_left_untranslated_fails(tmp_path):
    root = grader_copy(tmp_path, "zh_CN")
    catalogue = i18n.catalogue_path(root, "zh_CN", messages_i18n.DOMAIN)
    text = catalogue.read_text(encoding="utf-8")
    edited = text.replace('msgstr "fit 应该运行 {0} 轮。"', 'msgstr ""')
    assert edited != text
    catalogue.write_text(edited, encoding="utf-8")
    assert grader_problems(root, "zh_CN") == (
        "grader/messages: untranslated (translate it): 'fit should run {0} epochs.'")


def test_a_judges_new_or_changed_message_fails(tmp_path):
    root = grader_copy(tmp_path, "zh_CN")
    judge = root / messages_i18n.CHECKS_DIR / "keras_six_steps.py"
    text = judge.read_text(encoding="utf-8")
    edited = text.replace('f"fit should run {ref[\'epochs\']} epochs."',
                          'f"fit should run {ref[\'epochs\']} epochs in all."')
    edited = edited.replace('return messages\n\n\ndef judge_choose_loss',
                            'messages.append("Say hello.")\n    return messages\n\n\n'
                            'def judge_choose_loss')
    assert edited.count("in all.") == 1 and "Say hello." in edited
    judge.write_text(edited, encoding="utf-8")
    problems = grader_problems(root, "zh_CN").splitlines()
    assert sorted(problems) == sorted([
        "grader/messages: missing (new or changed English: run `make translations`, "
        "then translate it): 'fit should run {0} epochs in all.'",
        "grader/messages: missing (new or changed English: run `make translations`, "
        "then translate it): 'Say hello.'",
        "grader/messages: stale (its English is gone: run `make translations`): "
        "'fit should run {0} epochs.'"])
    # `make translations` (its grader part) then asks for the two translations
    translations.update(root, "zh_CN", translations.grader_messages(root), prune=False)
    assert sorted(grader_problems(root, "zh_CN").splitlines()) == [
        "grader/messages: fuzzy (its English changed: review the translation and remove "
        "the fuzzy flag): 'fit should run {0} epochs in all.'",
        "grader/messages: untranslated (translate it): 'Say hello.'"]


def test_the_hidden_checks_messages_stay_out_of_the_public_course():
    import make_public

    assert not [p for p in make_public.tracked_files("locale")
                if "LC_MESSAGES/grader/" in p.as_posix()]


# --- completeness, shown failing on edited copies ---------------------------------------

PAGE = """\
# Learning rates

The {term}`learning rate` scales every step.

A second paragraph, about nothing.
"""
GLOSSARY_PAGE = """\
# Terms

```{glossary}
learning rate
学习率
  The factor of the step.

step
步
  One update.
```
"""
TRANSLATED = {
    "Learning rates": "学习率",
    "The {term}`learning rate` scales every step.":
        "{term}`学习率 <learning rate>` 决定每一步的大小。",
    "A second paragraph, about nothing.": "第二段，无关紧要。",
    "Terms": "术语",
    "The factor of the step.": "每一步的系数。",
    "One update.": "一次更新。",
}


def small_book(folder: Path) -> Path:
    """A two-page book (plain MyST: no notebook to run), translated in full into zh_CN
    by `make translations` and a translator."""
    book = one_page_book.add_pages(one_page_book.write(folder / "book", ""),
                                   {"terms": ""})
    (book / "page.md").write_text(PAGE)
    (book / "terms.md").write_text(GLOSSARY_PAGE)
    (book / "locale" / "zh_CN").mkdir(parents=True)
    messages = translations.extract(book, book)
    translations.update(book, "zh_CN", messages)
    for docname in messages:
        translate(book, docname, {**TRANSLATED, **{m: f"〈{m}〉" for m in messages["site"]}})
    return book


def translate(book: Path, docname: str, texts: dict[str, str]) -> None:
    """What a translator does: fill the entries, review the fuzzy ones."""
    from babel.messages.pofile import read_po, write_po

    path = i18n.catalogue_path(book, "zh_CN", docname)
    with path.open("rb") as file:
        catalog = read_po(file, locale="zh_CN")
    for message in catalog:
        if message.id in texts:
            message.string = texts[message.id]
            message.flags.discard("fuzzy")
    with path.open("wb") as file:
        write_po(file, catalog, width=79)


@pytest.fixture(scope="module")
def translated_book(tmp_path_factory):
    return small_book(tmp_path_factory.mktemp("translated"))


def copy_book(book: Path, folder: Path) -> Path:
    copy = folder / "copy"
    shutil.copytree(book, copy, ignore=shutil.ignore_patterns("_build", "*.mo"))
    return copy


def problems_of(book: Path) -> str:
    statuses = translations.check(book, "zh_CN", translations.extract(book, book))
    return incomplete(statuses, [])


@pytest.mark.build
def test_the_small_book_is_translated_in_full(translated_book):
    assert problems_of(translated_book) == ""


@pytest.mark.build
def test_a_message_left_untranslated_fails(translated_book, tmp_path):
    book = copy_book(translated_book, tmp_path)
    po = i18n.catalogue_path(book, "zh_CN", "page")
    po.write_text(po.read_text().replace('msgstr "第二段，无关紧要。"', 'msgstr ""'))
    assert "page: untranslated (translate it): 'A second paragraph" in problems_of(book)


@pytest.mark.build
def test_an_english_paragraph_changed_after_translation_fails(translated_book, tmp_path):
    """Changed English and no update: the new message is missing and the old
    translation stale; after `make translations` the message is fuzzy; once a
    translator has reviewed it, the check passes again."""
    book = copy_book(translated_book, tmp_path)
    page = book / "page.md"
    page.write_text(page.read_text().replace("about nothing", "about very little"))
    problems = problems_of(book)
    assert "page: missing" in problems and "about very little" in problems
    assert "page: stale" in problems and "about nothing" in problems

    translations.update(book, "zh_CN", translations.extract(book, book))
    problems = problems_of(book)
    assert "page: fuzzy" in problems and "about very little" in problems
    assert "missing" not in problems and "stale" not in problems

    translate(book, "page", {"A second paragraph, about very little.": "第二段，几乎无关紧要。"})
    assert problems_of(book) == ""


TABLE_IN_ADMONITION = """\
# Changes

````{admonition} At a glance
:class: tip

| old | new |
| --- | --- |
| `SGD(lr=0.1)` | renamed to `learning_rate` |
````
"""


@pytest.mark.build
def test_a_table_inside_a_directive_is_translated(tmp_path):
    """MyST gives the cells of a table inside a directive no source, and Sphinx skips
    a text without one: the table of an admonition stayed English on every
    translated page, and no test noticed, since its cells were no messages at all."""
    book = one_page_book.write(tmp_path / "book", TABLE_IN_ADMONITION)
    messages = translations.extract(book, book)["page"]
    assert {"old", "new", "renamed to `learning_rate`"} <= set(messages), messages


# --- terminology ----------------------------------------------------------------------

def term_problems(book_dir: Path, language: str, terms: list[termbase.Term]) -> list[str]:
    """Translated messages of every catalogue whose English uses a glossary term and
    whose translation lacks the term's Chinese."""
    problems = []
    folder = i18n.catalogue_dir(book_dir, language)
    for path in sorted(folder.rglob("*.po")):
        docname = path.relative_to(folder).with_suffix("").as_posix()
        for entry in i18n.read_po(path):
            if not entry.translated or entry.msgid == entry.msgstr:
                continue
            excused = {t.strip().lower() for c in entry.comments
                       if c.startswith("terms-ok:") for t in c[9:].split(",")}
            for term in termbase.terms_used(entry.msgid, terms):
                if term.english.lower() in excused:
                    continue
                if term.chinese.lower() not in entry.msgstr.lower():
                    problems.append(f"{docname}: {term.english!r} is "
                                    f"{term.chinese!r} in the glossary, but not in "
                                    f"{entry.msgstr[:80]!r} (English: {entry.msgid[:80]!r})")
    return problems


@pytest.mark.parametrize("language", i18n.TRANSLATIONS)
def test_translations_use_the_glossarys_terms(language):
    terms = termbase.glossary_terms(GLOSSARY.read_text())
    problems = term_problems(ROOT, language, terms)
    assert not problems, (
        "translations without the glossary's term (use it, or add a translator "
        "comment `# terms-ok: <term>` above the entry where it does not apply):\n"
        + "\n".join(problems))


def test_a_replaced_glossary_term_fails(tmp_path):
    """The glossary's own catalogue with 学习率 replaced by another word."""
    folder = i18n.catalogue_dir(tmp_path, "zh_CN")
    folder.mkdir(parents=True)
    original = i18n.catalogue_path(ROOT, "zh_CN", "book/intro").read_text()
    assert "学习率" in original
    (folder / "intro.po").write_text(original.replace("学习率", "学习速率"))
    terms = termbase.glossary_terms(GLOSSARY.read_text())
    assert term_problems(tmp_path, "zh_CN", [t for t in terms if t.chinese == "学习率"])
    (folder / "intro.po").write_text(original)
    assert not term_problems(tmp_path, "zh_CN", terms)


@pytest.mark.parametrize("english, used", [
    ("The learning rate and the learning-rate schedule.", {"learning rate",
                                                           "learning-rate schedule"}),
    ("Two learning rates, three Epochs and the batches.", {"learning rate", "epoch",
                                                            "batch"}),
    ("`learning_rate=0.1`, {term}`steps <step>` and $\\eta$ only.", {"step"}),
    ("Adam's bias correction of the bias.", {"bias correction", "bias"}),
    ("An unbiased measure, hyperparameters.", {"hyperparameter"}),
])
def test_terms_are_found_in_their_forms(english, used):
    terms = termbase.glossary_terms(GLOSSARY.read_text())
    assert {t.english for t in termbase.terms_used(english, terms)} == used


# --- the glossary as a term base ------------------------------------------------------

def test_the_glossary_says_where_each_chinese_term_comes_from():
    text = GLOSSARY.read_text()
    terms = termbase.glossary_terms(text)
    unsaid = [t.chinese for t in terms if t.source == "unsaid"]
    assert not unsaid, f"Chinese terms the glossary does not place: {unsaid}"
    lists = termbase.term_source_lists(text)
    both = set(lists["notes"]) & set(lists["usual"])
    assert not both, f"listed as the notes' and as usual: {both}"
    unknown = set(lists["notes"] + lists["usual"]) - {t.chinese for t in terms}
    assert not unknown, f"listed but no entry's term: {unknown}"
    by_english = {t.english: t for t in terms}
    for english in ("learning rate", "loss function", "one-hot encoding", "momentum",
                    "activation function"):
        assert by_english[english].source == "notes", english


def test_the_three_glossary_errors_stay_fixed():
    text = GLOSSARY.read_text()
    by_english = {t.english: t for t in termbase.glossary_terms(text)}
    assert by_english["softmax"].chinese == "softmax"  # not 概率分布, its output
    assert by_english["probability distribution"].chinese == "概率分布"
    assert by_english["bias correction"].chinese == "偏差修正"
    assert "β is its 动量参数" not in text and "$\\beta$ is its 动量参数" not in text
    momentum = re.search(r"^momentum\n动量\n(.*?)\n\n", text, re.M | re.S).group(1)
    assert re.search(r"\\mu\$, Keras's\s+`momentum=`, is what the notes call 动量参数",
                     momentum), momentum


# --- the translated sources -------------------------------------------------------------

INLINE_CODE = re.compile(r"`[^`\n]+`")


@pytest.mark.parametrize("language", i18n.TRANSLATIONS)
def test_translated_sources_replace_every_message_found_in_the_prose(language):
    """A message translate_source could not place must not stand in the translated
    page's prose (it comes from elsewhere: a figure, the table of contents' captions,
    which the English intro also names inside its own sentences)."""
    pending = i18n.pending_pages(ROOT, language)
    folder = i18n.catalogue_dir(ROOT, language)
    unplaced = []
    for path in sorted(folder.rglob("*.po")):
        docname = path.relative_to(folder).with_suffix("").as_posix()
        source = ROOT / f"{docname}.md"
        if docname in pending or not source.is_file():
            continue
        text = source.read_text()
        catalogue = i18n.translations(path)
        translated, missing = i18n.translate_source(text, catalogue)
        # a name the translation keeps (sigmoid, relu) is not English left behind;
        # inline code (`epochs=500`, `'loss'`) is no prose: a figure's label "epoch" or
        # "loss" is found there on every page that names the argument or the key
        prose = [INLINE_CODE.sub(" ", translated[a:b])
                 for a, b in i18n._text_spans(translated)]
        for message in missing:
            if catalogue[message] == message:
                continue
            loose = re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in message.split())
                               + r"(?!\w)")
            if any(loose.search(part) for part in prose):
                unplaced.append(f"{docname}: {message[:80]!r}")
        assert translated != text
    assert not unplaced, "messages left in English in the translated sources:\n" + \
        "\n".join(unplaced)


SOURCE = """\
---
jupytext:
  formats: md:myst
---
# A title

Some text that
  wraps.

- An item
  over two lines.

| col | other |
| --- | --- |
| cell | `code` |

```{code-cell} ipython3
print("A title")
```

````{admonition} Answer
:class: dropdown
Some text that wraps.
```python
Answer = 1
```
````
"""


def test_translate_source_replaces_prose_only():
    catalogue = {"A title": "标题", "Some text that wraps.": "会换行的文字。",
                 "An item over two lines.": "跨两行的一项。", "cell": "格",
                 "Answer": "答案"}
    out, missing = i18n.translate_source(SOURCE, catalogue)
    assert missing == []
    assert "# 标题" in out and 'print("A title")' in out
    assert out.count("会换行的文字。") == 2 and "- 跨两行的一项。" in out
    assert "| 格 | `code` |" in out and "````{admonition} 答案" in out
    assert "Answer = 1" in out and "jupytext:\n  formats: md:myst" in out
    marked = i18n.mark_language(out, "zh_CN")
    assert "course:\n  language: zh_CN\n---" in marked


def test_read_po_reads_what_babel_writes(tmp_path):
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    catalog = Catalog(locale="zh_CN")
    long = "A long message " * 12 + 'with "quotes" and a\nline break.'
    catalog.add(long, "一条长消息")
    catalog.add("Fuzzy one", "模糊", flags=["fuzzy"])
    catalog.add("Empty one", "", user_comments=["terms-ok: step"])
    path = tmp_path / "x.po"
    with path.open("wb") as file:
        write_po(file, catalog, width=40)
    entries = {e.msgid: e for e in i18n.read_po(path)}
    assert entries[long].msgstr == "一条长消息" and entries[long].translated
    assert entries["Fuzzy one"].fuzzy and not entries["Fuzzy one"].translated
    assert entries["Empty one"].comments == ["terms-ok: step"]
    assert i18n.translations(path) == {long: "一条长消息"}


# --- glued words -------------------------------------------------------------------------

LEGENDS = {"Adam": "Adam", "RMSprop": "RMSprop", "constant 0.3": "常数 0.3",
           "momentum (Keras's form, μ = 0.9)": "动量（Keras 的形式，μ = 0.9）"}


@pytest.mark.parametrize("glued, shown", [
    ("constant 0.3", "常数 0.3"),                       # a legend's name
    ("RMSprop and Adam", "RMSprop 和 Adam"),
    ("Adam, momentum (Keras's form, μ = 0.9), RMSprop",  # its comma is no separator
     "Adam、动量（Keras 的形式，μ = 0.9）、RMSprop"),
    ("8 of the 8", "8 个中的 8 个"),
    ("0.3", "0.3"),
    ("Adam and a run without a legend", "Adam and a run without a legend"),
])
def test_glued_words_are_shown_in_the_pages_language(glued, shown):
    assert i18n.translate_glued_text(glued, LEGENDS, "zh_CN") == shown


def test_a_fuzzy_entrys_old_english_is_written_as_gettext_writes_it():
    """Babel wraps a long ``#| msgid`` as one comment and cuts its quoted lines apart
    (msgfmt: "end-of-line within string"); the catalogues keep each line quoted."""
    from babel.messages.catalog import Catalog

    catalog, template = Catalog(locale="zh_CN"), Catalog()
    catalog.add("A long message " * 12 + "that changed.", "一条长消息")
    template.add("A long message " * 12 + "that changed again.")
    catalog.update(template, no_fuzzy_matching=False)
    previous = [line for line in translations.po_text(catalog).splitlines()
                if line.startswith("#|")]
    assert len(previous) > 2, previous
    assert all(re.fullmatch(r'#\| (msgid )?"([^"\\]|\\.)*"', line) for line in previous), \
        previous
    assert "".join(re.findall(r'"(.*)"', line)[0] for line in previous) == \
        "A long message " * 12 + "that changed."
