"""The hidden checks' messages in Chinese (autograder/pages/messages_i18n.py), fast and
without kernels:

- extraction: the judges' f-strings become templates with numbered placeholders;
- a round trip on real messages: every judge of every assignment run on failing probe
  outputs built from its references (a passing output, then each piece of it broken
  in turn, and the classic mistakes the references record), each message translated
  in full (no English word left but code), its numbers kept;
- the feedback page of a zh_CN result shows the Chinese, an English one is unchanged,
  and a message no template explains is shown in English rather than lost.

That every template has its translation is tests/book/test_translations.py's.
"""

from __future__ import annotations

import copy
import re
import pytest

from autograder.checks import ASSIGNMENTS, load
from autograder.checks import figures
from autograder.grading.result import Result
from autograder.grading.verdicts import redact_probe_value
from autograder.pages import feedback, messages_i18n
from autograder.pages.messages_i18n import latin_words, templates_of, translate
from course import i18n

LANGUAGE = "zh_CN"
# Words the judges take from a loop over plain names, which extraction does not read
# (figures._rerun_messages: "eagerly it raised ..."): they stay English in Chinese.
NOT_EXTRACTED = {"eagerly", "compiled"}
CJK = re.compile(r"[\u3400-\u9fff]")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


# --- extraction -----------------------------------------------------------------------

JUDGE = '''
"""A module docstring: not a message."""
LAYERS = {"class": "Dense"}


def judge(got, ref):
    """Not a message either."""
    if got.get("epochs") != ref["epochs"]:
        return [f"fit should run {ref['epochs']} epochs, not {got.get('epochs')!r}."]
    assert got, "an assertion: the instructor's"
    note = "the outputs are raw scores." if ref["logits"] else "probabilities."
    return ["from_logits should be " + str(ref["logits"]) + ": " + note,
            f"{ref['label']}: {note}", ", ".join(["a", "b"])]


MISTAKES = [Mistake("part", "cell", "a name", "old code", "new code", "the hint.")]
'''


def test_templates_are_the_judges_strings_with_numbered_placeholders():
    assert templates_of(JUDGE) == [
        "fit should run {0} epochs, not {1}.",
        "the outputs are raw scores.",
        "probabilities.",
        "from_logits should be {0}: {1}",
        "{0}: {1}",
        "the hint.",
    ]


def test_a_string_expression_gives_every_text_it_can_make():
    source = 'def f(x):\n    return "one two " + ("three." if x else "four.")\n'
    assert templates_of(source) == ["one two three.", "one two four."]


def test_each_translation_keeps_its_placeholders_and_its_code():
    """The catalogue: every translation has the template's placeholders, its code
    (what latin_words does not count) and no other English."""
    path = i18n.catalogue_path(i18n.ROOT, LANGUAGE, messages_i18n.DOMAIN)
    problems = []
    for entry in i18n.read_po(path):
        fields = sorted(re.findall(r"\{\d+\}", entry.msgid))
        if sorted(re.findall(r"\{\d+\}", entry.msgstr)) != fields:
            problems.append(f"placeholders: {entry.msgid!r} -> {entry.msgstr!r}")
        bare = messages_i18n._PLACEHOLDER.sub(" 0 ", entry.msgstr)
        if latin_words(bare):
            problems.append(f"English {latin_words(bare)}: {entry.msgstr!r}")
        if sorted(NUMBER.findall(entry.msgid)) != sorted(NUMBER.findall(entry.msgstr)):
            problems.append(f"numbers: {entry.msgid!r} -> {entry.msgstr!r}")
    assert not problems, "\n".join(problems)


# --- matching -------------------------------------------------------------------------

CATALOGUE = {
    "{0}: {1}": "{0}：{1}",
    "{0}: expected {1} numbers, the check got {2}.": "{0}：应该有 {1} 个数，检查得到的是 {2}。",
    "With fixed weights, the validation loss": "在固定权重下，验证损失",
    "after step {0}, {1} {2}": "第 {0} 步之后，{1}{2}",
    "parameter {0}": "参数 {0}",
    "{0} is off ({1} at element {2} differs by {3}).": "{0} 不对（第 {2} 个元素{1}相差 {3}）。",
    "its value": "的值",
    "use the hint.": "按提示做。",
}


def test_a_placeholder_matches_any_text_and_a_message_in_it_is_translated():
    translator = messages_i18n.Translator(CATALOGUE)
    said = translator.message("With fixed weights, the validation loss: expected 4 "
                              "numbers, the check got None.")
    assert said == "在固定权重下，验证损失：应该有 4 个数，检查得到的是 None。"
    said = translator.message("after step 3, parameter 1 is off (its value at element 2 "
                              "differs by 5.0%). use the hint.")
    assert said == "第 3 步之后，参数 1 不对（第 2 个元素的值相差 5.0%）。按提示做。"


def test_what_no_template_explains_stays_english():
    translator = messages_i18n.Translator(CATALOGUE)
    for message in ("something new the judges now say", "after step 3, a new thing"):
        assert translator.message(message) == message
    assert translate("fit should run 40 epochs.", "en") == "fit should run 40 epochs."
    assert translate("fit should run 40 epochs.", None) == "fit should run 40 epochs."


# --- real messages: the judges on failing probe outputs ------------------------------

def passing_output(grade_id: str, ref):
    """A probe output the part's judge passes, built from its reference alone (what
    the reference solution's probe gives, as far as the judge reads it)."""
    if isinstance(ref, dict) and "cases" in ref:  # Adam's moments and bias correction
        return {"values": [case["expected"] for case in ref["cases"]]}
    if isinstance(ref, dict) and any(isinstance(v, dict) and "records" in v
                                     for v in ref.values()):  # an update rule
        return {scenario: {"records": copy.deepcopy(spec["records"])}
                for scenario, spec in ref.items()}
    if "histories" in ref:  # train with the loop, then plot
        histories, lines = {}, []
        for i, (name, want) in enumerate(ref["histories"].items()):
            loss = [1.0 / (i + 2 + epoch) for epoch in range(want["epochs"])]
            histories[name] = {**want, "loss": loss, "rerun": loss[:figures.RERUN_EPOCHS]}
            lines.append({"y": loss, "label": name})
        return {"histories": histories, "axes": [
            {"lines": lines, "legend": True, "title": "t", "xlabel": "x", "ylabel": "y"}]}
    return KERAS_OUTPUTS[grade_id](ref)


def _compiled(spec):
    return {"optimizer": dict(spec["optimizer"], momentum=0.0), "loss": dict(spec["loss"]),
            "metrics": list(spec["metrics"]), "returned_model": True}


def _plot_fix(ref):
    history, axes, freq = {}, [], ref["validation_freq"]
    for train_key, val_key in zip(ref["train_keys"], ref["val_keys"]):
        history[train_key] = [0.1 * i for i in range(40)]
        history[val_key] = history[train_key][freq - 1::freq]
        x = list(range(1, 41))
        axes.append({"lines": [{"x": x, "y": history[train_key]},
                               {"x": x[freq - 1::freq], "y": history[val_key]}],
                     "title": "t", "legend": True, "xlabel": "epoch"})
    return {"axes": axes, "history": history}


KERAS_OUTPUTS = {
    "build_model": lambda ref: {"sequential": True, "built": True, "layers": ref["layers"],
                                "params": ref["params"], "outputs": ref["outputs"]},
    "compile_model": lambda ref: {**_compiled(ref["compile"]), "losses": ref["losses"]},
    "fit_history": lambda ref: {"keys": ref["keys"], "loss": ref["loss"],
                                "val_loss": ref["val_loss"], "steps": ref["steps"]},
    "choose_loss": lambda ref: [{"class": w["class"], "from_logits": w["from_logits"]}
                                for w in ref["table"]],
    "plot_fix": _plot_fix,
    "predict_classes": lambda ref: {"shape": [len(ref["classes"])], "integer": True,
                                    "classes": ref["classes"]},
    "iris_model": lambda ref: {"model": True, "sequential": False, "layers": ref["layers"],
                               "params": ref["params"], "outputs": ref["outputs"],
                               "losses": ref["losses"]},
    "build_cnn": lambda ref: {"sequential": True, "built": True, "layers": ref["layers"],
                              "params": ref["params"], "outputs": ref["outputs"]},
    "compile_cnn": lambda ref: {**_compiled(ref["compile"]), "losses": ref["losses"]},
    "train_cnn": lambda ref: {"pair": True, "history": True, "same_model": True,
                              "epochs": ref["epochs"], "steps": ref["steps"],
                              "test_accuracy": 0.5, "model_test_accuracy": 0.5},
}

BROKEN = [None, "x", -1, 0.123, True, [], {}, [None], [float("nan")], [1.0, 2.0],
          {"error": "ValueError: boom"}, {"error": "MyOwnError: 1, 2"}]


def _paths(value, path=()):
    """Every dict key of ``value`` and the first and last element of every list."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for index in sorted({0, len(value) - 1} & set(range(len(value)))):
            yield from _paths(value[index], path + (index,))


def _replaced(value, path, new):
    if not path:
        return new
    out = dict(value) if isinstance(value, dict) else list(value)
    out[path[0]] = _replaced(value[path[0]], path[1:], new)
    return out


def _scaled(value, factor):
    """Every number of ``value`` times ``factor``: right shape, wrong numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float, list, dict)):
        return value
    if isinstance(value, list):
        return [_scaled(v, factor) for v in value]
    if isinstance(value, dict):
        return {k: _scaled(v, factor) for k, v in value.items()}
    return value * factor


def _mistaken_rule(got, ref):
    """The rule's output with the last step's parameters of each classic mistake the
    references recorded, and with each recorded state a little off."""
    for scenario, spec in ref.items():
        if not isinstance(spec, dict) or "records" not in spec:
            continue
        for mistake in spec.get("mistakes", []):
            broken = copy.deepcopy(got)
            broken[scenario]["records"][-1]["params"] = mistake["params"]
            yield broken
        for name in spec["records"][0]["states"]:
            broken = copy.deepcopy(got)
            state = broken[scenario]["records"][0]["states"]
            state[name] = _scaled(state[name], 1.5)
            yield broken


def failing_outputs(got, ref):
    """Probe outputs that fail: each piece of a passing one broken, numbers off, the
    recorded mistakes; as the grader hands them to the judge (redacted)."""
    yield from BROKEN
    for path in _paths(got):
        for new in BROKEN:
            yield _replaced(got, path, new)
        yield _replaced(got, path, _scaled(_value_at(got, path), 1.5))
    yield from _mistaken_rule(got, ref)


def _value_at(value, path):
    for step in path:
        value = value[step]
    return value


PER_PART = 30  # messages of each part translated (about 20 ms each, uncached)


@pytest.fixture(scope="module")
def real_messages() -> dict[str, list[str]]:
    """{assignment/part: its distinct messages}, every judge on its failing outputs."""
    found = {}
    for name in ASSIGNMENTS:
        checks, refs = load(name)
        for grade_id, check in checks.items():
            got = passing_output(grade_id, refs[grade_id])
            assert check.judge(copy.deepcopy(got), refs[grade_id]) == [], grade_id
            messages = set()
            for output in failing_outputs(got, refs[grade_id]):
                value = redact_probe_value(copy.deepcopy(output))
                messages.update(check.judge(value, refs[grade_id]))
            found[f"{name}/{grade_id}"] = sorted(messages)
    return found


def sample(messages: list[str], size: int = PER_PART) -> list[str]:
    """``size`` of the messages, spread evenly over their sorted list (each kind)."""
    step = max(1, len(messages) // size)
    return messages[::step][:size]


def test_the_judges_say_many_things_on_failing_outputs(real_messages):
    assert len(real_messages) == sum(len(load(name)[0]) for name in ASSIGNMENTS)
    assert all(real_messages.values()), [p for p, m in real_messages.items() if not m]
    assert sum(map(len, real_messages.values())) > 3000


def test_every_real_message_is_translated_with_its_numbers(real_messages):
    problems = []
    for part, message in ((p, m) for p, ms in real_messages.items() for m in sample(ms)):
        said = translate(message, LANGUAGE)
        if said == message or not CJK.search(said):
            problems.append(f"{part}: not translated: {message!r}")
        elif set(latin_words(said)) - NOT_EXTRACTED:
            problems.append(f"{part}: English words {latin_words(said)} left in "
                            f"{said!r} (from {message!r})")
        elif sorted(NUMBER.findall(said)) != sorted(NUMBER.findall(message)):
            problems.append(f"{part}: numbers changed: {message!r} -> {said!r}")
    assert not problems, f"{len(problems)} messages:\n" + "\n".join(problems[:40])


def test_the_recorded_mistakes_hints_are_translated():
    """What a student whose numbers match a classic mistake reads."""
    hints = set()
    for name in ASSIGNMENTS:
        for ref in load(name)[1].values():
            for spec in ref.values() if isinstance(ref, dict) else []:
                if isinstance(spec, dict):
                    hints |= {m["hint"] for m in spec.get("mistakes", [])}
    assert hints
    untranslated = [h for h in sorted(hints) if not CJK.search(translate(
        f"Your numbers match a classic mistake: {h}", LANGUAGE))
        or latin_words(translate(h, LANGUAGE))]
    assert not untranslated, untranslated


# --- the feedback page ---------------------------------------------------------------

MESSAGES = ["fit should run 40 epochs.",
            "With fixed weights, the validation loss: expected 4 numbers, the check got "
            "None.",
            "a message from a newer judge"]


def result(language: str | None) -> Result:
    return Result.from_json({
        "status": "graded", "student": "s1", "assignment": "keras_six_steps",
        "language": language, "graded_at": "2026-12-07", "parts": {
            "fit_history": {"title": "Part C", "points": 0.0, "max_points": 3.0,
                            "passed": False, "auto": True, "messages": MESSAGES}}})


def test_the_feedback_page_of_a_chinese_result_shows_the_messages_in_chinese():
    page = feedback.render(result(LANGUAGE), None)
    assert "fit 应该运行 40 轮。" in page
    assert "在固定权重下，验证损失：应该有 4 个数，检查得到的是 None。" in page
    assert "a message from a newer judge" in page  # not lost
    assert "fit should run" not in page


def test_the_feedback_page_of_an_english_result_is_unchanged():
    page = feedback.render(result(None), None)
    for message in MESSAGES:
        assert message in page
    assert feedback.render(result("en"), None) == page


def test_the_result_keeps_the_english():
    chinese = result(LANGUAGE)
    feedback.render(chinese, None)
    assert chinese.parts["fit_history"].messages == MESSAGES
