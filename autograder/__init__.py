"""Grading tools of the course, in layers; a module imports only from its own layer or
the ones below (``tests/test_architecture.py`` checks it):

cli            ``python -m autograder`` (cli.py): parses arguments, prints a
               ``UsageError`` as one line; nothing imports it.
orchestration  one command each: grading.py (grade a class: what to grade, the pool,
               results, gradebook), collect.py, feedback.py, export.py, report.py
               (pages.py renders their templates/), scheduler.py (the worker pool),
               taskqueue.py (the task queue's workers: Celery) and queued.py (grade
               through it), progress.py; and the instructor's tools release.py (``make exercises``),
               references.py (expected outputs of the hidden tests), demo.py.
grading        grade one submission: grade_one.py (the assignment, the result),
               grade_cells.py (the notebook's run in its kernel, the probes and
               judges), checks/ (one probe + judge per graded test cell),
               fingerprint.py (which files decide a grade), verdicts.py,
               gradebook.py (nbgrader's database), jobstore.py (the task queue's
               jobs and results tables beside it).
kernel         sandbox/: the kernel that runs student code, with its limits, in
               parts: limits.py, confinement.py (bubblewrap), kernel.py (the kernel
               handle and its notebook clock), cell.py (one cell run), processes.py,
               zygote.py (warm kernels forked from a worker's sandboxed zygote, whose
               in-sandbox program is zygote_program.py).
notebook       cells.py (nbgrader's cells: tests, answers, hidden blocks, stubs),
               intake.py (reading a submission), assemble.py (the notebook that runs),
               workspace.py (the instructor's files), config.py (nbgrader's
               configuration, nbgrader_config.py), errors.py.
"""
