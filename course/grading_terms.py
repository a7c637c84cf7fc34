"""What grading allows and what it says: one place for the grader and the student's check.

The instructor's grader (``autograder``) and the student's check (``course.check``)
import their limits and their words from here, so that what the check tells a student
before the deadline is what the feedback page says after grading, in the same words and
with the same numbers. Nothing here is hidden: the limits and the messages are the same
for every student, and no hidden input, reference value or test is ever named.

- ``LIMITS``: a cell's time, the notebook's time (the instructor's set-up cells have their
  own allowance and are not counted), the output a cell may print, and when a flood of
  output is stopped;
- ``KERNEL_THREADS``: the environment a graded kernel runs with (one core's worth of
  threads), which the check uses too, so that its times are the grader's;
- ``say(key, language, **fields)``: one message in English ("en") or Simplified Chinese
  ("zh_CN"), the languages a notebook may declare in ``metadata["course"]["language"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from course.i18n import LANGUAGES as COURSE_LANGUAGES
from course.i18n import SOURCE_LANGUAGE

MIB = 2**20
LANGUAGES = tuple(COURSE_LANGUAGES)  # the site's languages: a notebook has the same
DEFAULT_LANGUAGE = SOURCE_LANGUAGE


@dataclass(frozen=True)
class GradingLimits:
    """The limits every graded notebook runs under."""

    cell_seconds: float = 60  # one code cell of the student's
    notebook_seconds: float = 300  # all the student's cells (and the hidden checks)
    setup_seconds: float = 300  # each of the instructor's set-up cells, not counted above
    startup_seconds: float = 60  # the kernel's start, not counted above
    output_bytes: int = 1 * MIB  # the outputs of one cell; the rest is dropped
    flood_factor: int = 16  # a cell printing more than this many times the cap is stopped
    interrupt_grace_seconds: float = 5  # a kernel that ignores an interrupt is killed

    @property
    def flood_bytes(self) -> int:
        return self.flood_factor * self.output_bytes


LIMITS = GradingLimits()

#: TensorFlow, OpenMP and BLAS use one thread in a graded kernel (so N grading workers on
#: N cores never fight over cores); the check's kernel too, so its times are the grader's.
KERNEL_THREADS = {
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


def output_size(content: dict) -> int:
    """The bytes an output message counts against ``LIMITS.output_bytes``: its text,
    error and traceback, and every representation of displayed data."""
    import json

    size = 0
    for key in ("text", "evalue", "ename"):
        if isinstance(content.get(key), str):
            size += len(content[key])
    for line in content.get("traceback") or []:
        size += len(line) if isinstance(line, str) else 0
    for value in (content.get("data") or {}).values():
        size += len(value) if isinstance(value, str) else len(json.dumps(value))
    return size


def notebook_language(notebook) -> str:
    """The language a notebook declares (``metadata["course"]["language"]``), "en" when
    it declares none or one the course does not have."""
    meta = notebook.get("metadata") if isinstance(notebook, dict) else None
    course = meta.get("course") if isinstance(meta, dict) else None
    language = course.get("language") if isinstance(course, dict) else None
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def say(key: str, language: str = DEFAULT_LANGUAGE, **fields) -> str:
    """The message ``key`` in ``language`` (English when the language is unknown)."""
    words = WORDS.get(language, WORDS[DEFAULT_LANGUAGE])
    return words[key].format(**fields)


# Chinese terms follow book/glossary.md, and the Chinese exercises page for Jupyter's own
# words (笔记本 notebook, 单元 cell, 测试单元 test cell, 内核 kernel, 可见检查 visible checks).
WORDS = {
    "en": {
        # --- the grader's words: the feedback page and the results -------------------
        "part": "Part",
        "points": "Points",
        "result": "Result",
        "found": "What the checks found",
        "passed": "passed",
        "not_passed": "not passed",
        "by_hand": "graded by hand",
        "incomplete": "Your notebook could not be graded completely:",
        "grader_notes": "Notes from the grader",
        "cell_label": "cell '{grade_id}'",
        "code_cell_label": "code cell {number}",
        "visible_label": "the visible checks of '{grade_id}'",
        "cell_time": "cell time limit ({seconds:g} s) reached in {label}",
        "notebook_time": "notebook time limit ({seconds:g} s) reached in {label}",
        "notebook_time_before": "notebook time limit ({seconds:g} s) reached before {label}",
        "output_limit": "output limit ({bytes} bytes) exceeded in {label}",
        "visible_failed": "visible check failed: {error}",
        "not_run": "not run: {reason}",
        "raised": "{label} raised {error}",
        "kernel_stopped": "the kernel stopped in {label}: {error}",
        "message_hidden": ("{error} (its message is not shown: your code had run on "
                           "hidden inputs)"),
        "test_missing": "test cell '{grade_id}' is missing: the instructor's copy is used",
        "test_edited": "test cell '{grade_id}' was edited: the instructor's copy is used",
        "locked_edited": ("read-only cell '{grade_id}' was edited: the instructor's copy "
                          "is used"),
        "answer_missing": "answer cell '{grade_id}' is missing: graded as unanswered",
        "reordered": "cells were reordered: graded in the assignment's order",
        "extra_cells": ("{count} extra code cell(s) of the student kept next to their "
                        "answers"),
        # --- the feedback page's own words -------------------------------------------
        "feedback_for": "{assignment}: feedback for {student}",
        "feedback": "{assignment}: feedback",
        "student": "Student",
        "score": "Score",
        "manual_unreadable": ("Points graded by hand could not be read ({why}): the score "
                              "above counts the automatic checks only."),
        "pending_one": "{points} point is graded by hand and not included yet.",
        "pending_many": "{points} points are graded by hand and not included yet.",
        "unknown_reason": "unknown reason",
        "feedback_footer": ("Each part was checked by the visible tests you saw in the "
                            "notebook and by hidden tests on inputs you had not seen; the "
                            "hidden tests themselves are not shown. Graded {when}."),
        # --- the check's own words ---------------------------------------------------
        "check_title": "Check of {name}",
        "check_how": ("A copy of the notebook ran from the top in a fresh kernel, as the "
                      "grader will run it: {cell:g} s a cell, {notebook:g} s for all your "
                      "cells (set-up cells not counted), {output} bytes of output a cell."),
        "found_check": "What the check found",
        "passes_visible": "passes the visible checks",
        "not_answered": "not answered",
        "not_run_result": "not run",
        "stub_left": ("{label} still raises NotImplementedError: write your code where it "
                      "says # YOUR CODE HERE and delete the raise line"),
        "stub_called": ("the visible checks call code that still raises "
                        "NotImplementedError: write your code where it says # YOUR CODE "
                        "HERE and delete the raise line"),
        "text_stub_left": "it still says YOUR ANSWER HERE",
        "answered_by_hand": "answered; your instructor grades it",
        "kernel_died": "the kernel died (out of memory, or a crash)",
        "defined_later": "'{name}' is defined only further down, in {label}",
        "defined_nowhere": ("no cell of the notebook defines '{name}' (was the cell that "
                            "did deleted or changed?)"),
        "hidden_state": ("{part}: passed when you ran it, fails from a fresh start: it "
                         "depends on what your kernel held, not on the notebook"),
        "out_of_order": ("your saved notebook ran its cells out of order ({later} above "
                         "{earlier}): grading runs them top to bottom"),
        "no_record": ("this notebook lacks the course's record of its cells (was it copied "
                      "into a new notebook?): the check cannot tell whether a cell was "
                      "deleted; hand in the notebook you downloaded"),
        "wrong_name": ("the file is named '{name}'; your instructor expects '{expected}': "
                       "rename it before you hand it in"),
        "slow_cell": ("{label} took {seconds:.0f} s of the {limit:g} s a cell may take: on "
                      "a busier machine it may not finish"),
        "slow_notebook": ("your cells took {seconds:.0f} s of the {limit:g} s allowed, and "
                          "the hidden checks need time too"),
        "time_used": ("Your cells ran {seconds:.0f} s of the {limit:g} s allowed (set-up "
                      "cells not counted)."),
        "warnings": "Warnings",
        "verdict_clean": ("Nothing found that would cost points. Grading adds hidden "
                          "checks with other inputs: write the general rule."),
        "verdict_problems": ("{count} part(s) would lose points now ({points:g} of "
                             "{total:g} points): fix them, save, and check again."),
        "verdict_failure": ("What is named above would cost points: fix it, save, and "
                            "check again."),
        "unsaved": ("the last cell you ran is not in the saved file: save the notebook "
                    "(Ctrl+S) and run this cell again"),
        "no_file": ("The check cannot find this notebook's file here: run "
                    "python -m course.check NOTEBOOK.ipynb in a terminal."),
        "skipped": "Check my notebook: skipped (this copy is being checked).",
        "running": "Checking {name}: {done} of {total} cells run",
        "needs_course": ("The check needs the course package: pip install "
                         "git+{url}@{branch}"),
    },
    "zh_CN": {
        "part": "部分",
        "points": "分值",
        "result": "结果",
        "found": "检查发现",
        "passed": "通过",
        "not_passed": "未通过",
        "by_hand": "人工评分",
        "incomplete": "你的笔记本未能完整评分：",
        "grader_notes": "评分程序的说明",
        "cell_label": "单元 '{grade_id}'",
        "code_cell_label": "第 {number} 个代码单元",
        "visible_label": "'{grade_id}' 的可见检查",
        "cell_time": "{label} 达到单元时间上限（{seconds:g} 秒）",
        "notebook_time": "{label} 运行时达到笔记本时间上限（{seconds:g} 秒）",
        "notebook_time_before": "运行 {label} 之前已达到笔记本时间上限（{seconds:g} 秒）",
        "output_limit": "{label} 的输出超过上限（{bytes} 字节）",
        "visible_failed": "可见检查未通过：{error}",
        "not_run": "未运行：{reason}",
        "raised": "{label} 抛出 {error}",
        "kernel_stopped": "{label} 运行时内核停止了：{error}",
        "message_hidden": "{error}（不显示其信息：你的代码已在隐藏输入上运行过）",
        "test_missing": "测试单元 '{grade_id}' 缺失：评分时使用教师的原版",
        "test_edited": "测试单元 '{grade_id}' 被修改：评分时使用教师的原版",
        "locked_edited": "只读单元 '{grade_id}' 被修改：评分时使用教师的原版",
        "answer_missing": "答题单元 '{grade_id}' 缺失：按未作答评分",
        "reordered": "单元顺序被调整：按作业原来的顺序评分",
        "extra_cells": "保留了学生自己添加的 {count} 个代码单元，放在其答案旁边",
        "feedback_for": "{assignment}：{student} 的反馈",
        "feedback": "{assignment}：反馈",
        "student": "学生",
        "score": "得分",
        "manual_unreadable": "无法读取人工评分的分数（{why}）：上面的得分只包括自动检查。",
        "pending_one": "有 {points} 分由教师人工评分，尚未计入。",
        "pending_many": "有 {points} 分由教师人工评分，尚未计入。",
        "unknown_reason": "原因不明",
        "feedback_footer": ("每个部分都经过了你在笔记本中看到的可见测试，以及用你没见过的输入"
                            "运行的隐藏测试；隐藏测试本身不予显示。评分时间：{when}。"),
        "check_title": "检查 {name}",
        "check_how": ("笔记本的副本已在新的内核中从头运行，与评分时相同：每个单元 "
                      "{cell:g} 秒，你的全部单元共 {notebook:g} 秒（不含设置单元），"
                      "每个单元输出不超过 {output} 字节。"),
        "found_check": "检查发现",
        "passes_visible": "通过可见检查",
        "not_answered": "未作答",
        "not_run_result": "未运行",
        "stub_left": ("{label} 仍会抛出 NotImplementedError：请在 # YOUR CODE HERE 处写代码，"
                      "并删除 raise 那一行"),
        "stub_called": ("可见检查调用的代码仍会抛出 NotImplementedError：请在 # YOUR CODE HERE "
                        "处写代码，并删除 raise 那一行"),
        "text_stub_left": "仍然是 YOUR ANSWER HERE",
        "answered_by_hand": "已作答，由教师评分",
        "kernel_died": "内核意外退出（内存不足或崩溃）",
        "defined_later": "'{name}' 只在后面的 {label} 中定义",
        "defined_nowhere": ("笔记本中没有任何单元定义 '{name}'（定义它的单元是否被删除或"
                            "修改？）"),
        "hidden_state": ("{part}：你运行时通过，从头运行却失败：结果依赖于你的内核里残留的"
                         "状态，而不是笔记本本身"),
        "out_of_order": ("你保存的笔记本中单元是乱序运行的（{later} 在 {earlier} 之上）："
                         "评分时从上到下依次运行"),
        "no_record": ("这个笔记本缺少课程对其单元的记录（是否复制到了新笔记本中？）："
                      "本检查无法判断是否删除了单元；请提交你下载的那个笔记本"),
        "wrong_name": "文件名是 '{name}'；教师要求的文件名是 '{expected}'：提交前请改名",
        "slow_cell": ("{label} 用了 {seconds:.0f} 秒，单元上限为 {limit:g} 秒：在更忙的"
                      "机器上可能无法完成"),
        "slow_notebook": ("你的单元共用了 {seconds:.0f} 秒，上限为 {limit:g} 秒，"
                          "而隐藏检查也需要时间"),
        "time_used": ("你的单元共运行 {seconds:.0f} 秒，上限为 {limit:g} 秒"
                      "（不含设置单元）。"),
        "warnings": "警告",
        "verdict_clean": ("没有发现会扣分的问题。评分时还会用其他输入运行隐藏检查："
                          "请写出通用的规则。"),
        "verdict_problems": ("现在有 {count} 个部分会失分（共 {total:g} 分中的 {points:g} 分）："
                             "请改正、保存，然后再检查一次。"),
        "verdict_failure": "上面指出的问题会导致失分：请改正、保存，然后再检查一次。",
        "unsaved": ("你最后运行的单元不在保存的文件中：请保存笔记本（Ctrl+S），"
                    "再运行这个单元"),
        "no_file": ("在这里找不到这个笔记本的文件：请在终端中运行 "
                    "python -m course.check NOTEBOOK.ipynb。"),
        "skipped": "检查我的笔记本：已跳过（正在检查这个副本）。",
        "running": "正在检查 {name}：已运行 {done} / {total} 个单元",
        "needs_course": "本检查需要 course 包：pip install git+{url}@{branch}",
    },
}
