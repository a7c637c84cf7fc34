"""The map of the grader: every module of ``autograder``, its role, and its layer.

Layers run from the top (the command line) to the bottom (plain files). A module
imports only from its own layer or the layers below it, and there is no import cycle;
``tests/grader/test_architecture.py`` reads this map and fails when a module is missing from
it, listed but gone, or imports upwards. A new module gets its line here.
"""

from __future__ import annotations

#: {layer: (what the layer does, {module: what the module does})}, top to bottom.
LAYERS: dict[str, tuple[str, dict[str, str]]] = {
    "entry": ("the command line; nothing imports it", {
        "autograder.__main__": "python -m autograder: runs commands.cli",
        "autograder.commands.cli": "parses the arguments of every command, prints a "
                                   "UsageError as one line",
    }),
    "commands": ("one command each: what it reads, what it runs, what it writes", {
        "autograder.commands": "the commands of python -m autograder",
        "autograder.commands.grade": "grade: what needs grading, the pool or the queue, "
                                     "each result saved and recorded, the table",
        "autograder.commands.collect": "collect: submissions (a folder, an LMS zip) into "
                                       "nbgrader's submitted/ layout",
        "autograder.commands.export": "export: grades as CSV, one column per part",
        "autograder.commands.release": "release: the student notebooks (exercises/) from "
                                       "solutions/ with nbgrader",
        "autograder.commands.references": "references: the hidden tests' expected outputs "
                                          "and the solutions' hidden blocks",
        "autograder.commands.demo": "demo: a synthetic class with the grade each student "
                                    "deserves",
        "autograder.commands.progress": "the progress bar with ETA of a long command",
        "autograder.commands.recording": "results into the gradebook in batches, and "
                                         "the log of those recorded already",
        "autograder.commands.status": "status: the task queue's jobs per assignment, "
                                      "its workers and dead letters",
        "autograder.pages": "the HTML pages: feedback for students, a report for the "
                            "instructor",
        "autograder.pages.feedback": "feedback: one HTML page per student",
        "autograder.pages.report": "report: one HTML page with plots for the instructor",
        "autograder.pages.render": "renders the pages' Jinja2 templates (pages/templates/)",
        "autograder.pages.messages_i18n": "the hidden checks' messages in the student's "
                                          "language: templates, catalogue, matching",
    }),
    "workers": ("who grades: processes on this machine or the task queue's workers", {
        "autograder.pool": "the local pool: worker processes, one submission each at a "
                           "time, over JSON lines",
        "autograder.queue": "grading through a task queue (Celery) on many machines",
        "autograder.queue.instructor": "the instructor's side: queue each submission, "
                                       "collect the results the workers store",
        "autograder.queue.worker": "the worker's side: the Celery app, its task, "
                                   "python -m autograder worker",
        "autograder.queue.message": "one submission on the queue: the task's JSON "
                                    "arguments, data only",
        "autograder.queue.selfcheck": "a worker's checks before it consumes: sandbox, "
                                      "lock, assignments, a known submission",
    }),
    "records": ("where results are kept", {
        "autograder.gradebook": "nbgrader's gradebook: one writer, manual grades kept",
        "autograder.queue.tables": "the task queue's notebooks, jobs, results and "
                                   "workers tables, beside the gradebook",
        "autograder.queue.storage": "PostgreSQL's settings for the queue's tables: "
                                    "executemany in pages, lz4-compressed notebooks",
        "autograder.queue.claims": "a worker's writes: claim a job, store its result or "
                                   "a dead letter, hand it back",
        "autograder.queue.settings": "the task queue's URLs (environment, env file), "
                                     "TLS, the broker's patience, a worker's settings",
    }),
    "grading": ("grade one submission: its run, its checks, its verdicts", {
        "autograder.grading": "grading one submission",
        "autograder.grading.run": "Run: what every submission of a run is graded with; "
                                  "Submission: one to grade",
        "autograder.grading.result": "Result and its Parts: what grading gives, saved "
                                     "and read back",
        "autograder.grading.grader": "what a worker holds between submissions: "
                                     "assignments, limits, warm kernels",
        "autograder.grading.submission": "grade one notebook into a result; never raises",
        "autograder.grading.notebook_run": "run the notebook cell by cell in its kernel, "
                                           "probe and judge each test cell",
        "autograder.grading.assignment": "an assignment: notebook, checks, references, "
                                         "fingerprint",
        "autograder.grading.fingerprint": "which checks files decide an assignment's grades",
        "autograder.grading.stopwatch": "CPU and wall seconds of each step of a grading, "
                                        "for the result's profile",
        "autograder.grading.probes": "a probe's cell for the kernel, and its value read "
                                     "back",
        "autograder.grading.verdicts": "what the grader says, and what student text may "
                                       "appear with it",
        "autograder.checks": "the hidden checks: Check, Mistake, the assignments",
        "autograder.checks.probe": "Probe: a kernel-side function and its hidden inputs, "
                                   "shipped as the code it needs",
        "autograder.checks.hidden_blocks": "a test cell's hidden block: probe, judge, "
                                           "reference, for plain nbgrader",
        "autograder.checks.kit": "judge helpers shared by every check (copied into "
                                 "hidden blocks)",
        "autograder.checks.rules": "update-rule parts: hidden inputs, the probe, the "
                                   "Keras twin",
        "autograder.checks.figures": "'train and plot' parts: probe and judge",
        "autograder.checks.models": "Keras model parts: shared judges",
        "autograder.checks.iris": "hidden iris inputs of the Keras assignments",
        "autograder.checks.notebook": "run a solution's cells in this process "
                                      "(references, tests)",
        "autograder.checks.instructor_rules": "the graded update rules' own "
                                              "implementations, never published",
        "autograder.checks.sgd_momentum": "checks of the sgd_momentum assignment",
        "autograder.checks.adaptive": "checks of the adaptive assignment",
        "autograder.checks.adam": "checks of the adam assignment",
        "autograder.checks.keras_six_steps": "checks of the keras_six_steps assignment",
        "autograder.checks.subclass_cnn": "checks of the subclass_cnn assignment",
    }),
    "kernel": ("the kernel that runs student code, sandboxed, with its limits", {
        "autograder.sandbox": "start a kernel, run a cell; sandbox or not",
        "autograder.sandbox.limits": "the kernel's limits and a cell's result",
        "autograder.sandbox.confinement": "bubblewrap: whether it works, its command, the "
                                          "kernel's environment",
        "autograder.sandbox.kernel_entry": "what every kernel runs first, in its sandbox: "
                                           "its folders, the one privilege drop",
        "autograder.sandbox.uids": "kernel user ids: one per kernel, never given twice",
        "autograder.sandbox.kernel": "one kernel: its start, handle and notebook clock",
        "autograder.sandbox.cell": "one cell run: outputs, time and output limits",
        "autograder.sandbox.processes": "the kernel's processes: their memory, killing "
                                        "them",
        "autograder.sandbox.zygote": "warm kernels forked from a worker's sandboxed zygote",
        "autograder.sandbox.zygote_program": "the zygote's program, inside the sandbox",
    }),
    "notebook": ("notebooks: nbgrader's cells, a submission read, the notebook that runs", {
        "autograder.notebook": "notebooks as nbgrader and the grader see them",
        "autograder.notebook.nbgrader_cells": "nbgrader's cells: tests, answers, hidden "
                                              "blocks, stubs",
        "autograder.notebook.intake": "read a submitted notebook safely, or reject it in "
                                      "one line",
        "autograder.notebook.assemble": "the notebook that runs: the instructor's cells, "
                                        "the student's answers",
    }),
    "base": ("files, settings and the one error type", {
        "autograder": "the grading tools (this map: autograder/layers.py)",
        "autograder.layers": "this map",
        "autograder.errors": "UsageError: what the command line prints as one line",
        "autograder.workspace": "the instructor's workspace: its folders and files",
        "autograder.nbgrader_config": "nbgrader's configuration file for the course",
        "autograder.nbgrader_settings": "that configuration read in Python: course id, "
                                        "nbgrader on PATH",
    }),
    "kernel side": ("code that runs in the student's kernel: the probes; it imports "
                    "nothing of the grader but itself", {
        "autograder.checks.in_kernel": "the probes, and the rules their modules keep",
        "autograder.checks.in_kernel.names": "the student's names, through the "
                                             "notebook's namespace",
        "autograder.checks.in_kernel.emit": "a probe's value out of the kernel, as JSON",
        "autograder.checks.in_kernel.rules": "update-rule parts: the student's rule on "
                                             "hidden inputs",
        "autograder.checks.in_kernel.adam": "Adam's moments and bias correction",
        "autograder.checks.in_kernel.figures": "'train and plot' parts: histories, "
                                               "reruns, the figure",
        "autograder.checks.in_kernel.keras_models": "what the Keras probes share: "
                                                    "layers, fits, iris, models",
        "autograder.checks.in_kernel.keras_six_steps": "the keras_six_steps parts",
        "autograder.checks.in_kernel.subclass_cnn": "the subclass_cnn parts",
    }),
}
ORDER = list(LAYERS)


def layer_of(module: str) -> str | None:
    """The layer of a module, or None when the map does not list it."""
    for layer, (_, modules) in LAYERS.items():
        if module in modules:
            return layer
    return None
