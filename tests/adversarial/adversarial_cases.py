"""Adversarial submissions against a real assignment, each with its expected outcome.

``build(workspace, repo, port, outside)`` writes one submission per case into
``<workspace>/submitted/<case>/<assignment>/`` (nbgrader's layout, as ``collect``
leaves it), plants canary files, and returns ``{case: Case}``. The cases start from
the released student notebook (exercises/) and the instructor's answers
(solutions/), and cover every class of attack the sandbox and the grader stop:

* isolation: reading solutions/, the references, another student's notebook or the
  gradebook; writing outside the sandbox; the network; other processes; leaving a key
  in a Linux keyring, and looking for one (tests/keyring_attacks.py);
* judgement: wrong answers plus monkeypatching of numpy's comparisons, always-equal
  objects, hard-coded visible answers, a fake ``json`` in ``sys.modules``, patched
  builtins, IPython input transformers and traceback display, forged probe output,
  a ``numpy.py`` beside the notebook or written at run time;
* limits: an endless loop, a loop that ignores interrupts, memory, a fork bomb, huge
  text, image and HTML outputs, a huge file, 500,000 files;
* tampered notebooks: points and grade flags, fake grade cells, duplicated, deleted
  and edited test cells, a test cell turned into markdown, schema_version 4,
  reordered cells, a deleted answer cell;
* malformed files: invalid JSON, non-UTF-8 bytes, nbformat 3, an empty file, a 200 MB
  file (sparse), another kernel, JSON that is no notebook, nbformat 5, a symbolic link.

An attack reports what it managed by raising ``RuntimeError("ATTACK-REPORT ...")`` in a
cell of its own: the grader's notes then carry the report ("LEAKED ..." for anything
that got through), so the tests can tell a blocked attack from one that never ran.

Run as a script to write the class into a folder for a manual look:
``python tests/adversarial/adversarial_cases.py /tmp/adversarial-class``.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import nbformat
from nbformat.v4 import new_code_cell

import keyring_attacks

ASSIGNMENT = "sgd_momentum"
POINTS = {"sgd_update": 2.0, "momentum_ema_update": 4.0, "momentum_velocity_update": 4.0,
          "iris_loss_plot": 3.0}
HONEST = dict(POINTS)
RULES_ONLY = {**POINTS, "iris_loss_plot": 0.0}  # the iris part skipped: a fast notebook
ZERO = {k: 0.0 for k in POINTS}
CANARY_TEXT = "instructor's private notes: CANARY-7f3a"


@dataclass
class Case:
    name: str
    kind: str  # isolation, judgement, limits, tampered, malformed, control
    what: str
    status: str = "graded"
    parts: dict[str, float] | None = None  # expected points per auto part (None: failed early)
    reason: str | None = None  # substring of the failure reason
    notes: list[str] = field(default_factory=list)  # substrings each found in some note
    report: bool = False  # the attack raises an ATTACK-REPORT that must show no leak
    markers: list[str] = field(default_factory=list)  # files that must not appear
    messages: dict[str, str] = field(default_factory=dict)  # part -> substring of a message
    # text the submission writes from hidden inputs: found nowhere a student can see
    secret: str | None = None
    forged: bool = False  # prints the grader's verdict line: only the grader's may read so


# ----------------------------------------------------------------------------- answers
def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n")
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def answers(repo: Path) -> dict[str, str]:
    nb = nbformat.read(repo / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    return {c.metadata["nbgrader"]["grade_id"]: _strip_markers(c.source) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}


def _replace(source: str, old: str, new: str) -> str:
    assert old in source, f"the solution changed: {old!r} not found"
    return source.replace(old, new)


def wrong_answers(right: dict[str, str]) -> dict[str, str]:
    """Every rule with a classic mistake, and no training: 0 points everywhere."""
    return {
        "sgd_answer": _replace(right["sgd_answer"], "p.assign_sub(lr * g)",
                               "p.assign_add(lr * g)"),
        "momentum_ema_answer": _replace(right["momentum_ema_answer"],
                                        "m.assign(beta * m + (1 - beta) * g)",
                                        "m.assign(beta * m + g)"),
        "momentum_answer": _replace(right["momentum_answer"], "v.assign(mu * v - lr * g)",
                                    "v.assign(mu * v + lr * g)"),
        "iris_training_answer": SKIP_IRIS,
    }


SKIP_IRIS = "history_sgd = history_momentum = fig = None  # no time for training"


def release(repo: Path) -> nbformat.NotebookNode:
    return nbformat.read(repo / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)


def fill(repo: Path, values: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with some answer cells filled in."""
    nb = copy.deepcopy(release(repo))
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in values:
            cell.source = values[gid]
    return nb


def insert_after(nb, grade_id: str, source: str) -> nbformat.NotebookNode:
    """A student's own code cell right after the cell ``grade_id``."""
    index = next(i for i, c in enumerate(nb.cells)
                 if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    nb.cells.insert(index + 1, new_code_cell(source))
    return nb


def cells_by_id(nb) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if "grade_id" in c.metadata.get("nbgrader", {})}


# ----------------------------------------------------------------------------- attacks
REPORT = """
def _attack_report(items):
    raise RuntimeError("ATTACK-REPORT " + "; ".join(items))
"""

READ_FILES = Template(REPORT + """
import glob, os
found = []
for path in $paths:
    try:
        with open(path, 'rb') as fh:
            data = fh.read(200)
        found.append('LEAKED ' + path + ' ' + repr(data[:30]))
    except OSError as e:
        found.append('blocked ' + os.path.basename(path) + ' ' + (e.strerror or ''))
for pattern in $globs:
    hits = glob.glob(pattern, recursive=True)
    found.append(('LEAKED ' if hits else 'blocked ') + pattern + ' ' + repr(hits[:3]))
_attack_report(found)
""")

# The answer comes from the instructor's notebook if it can be read, else it is wrong.
COPY_SOLUTION = Template("""
import json
try:
    _nb = json.load(open($path))
    _src = [''.join(c['source']) for c in _nb['cells']
            if c.get('metadata', {}).get('nbgrader', {}).get('grade_id') == $gid][0]
    exec(_src, globals())
    print('LEAKED: copied the instructor solution')
except OSError:
$fallback
""")

WRITE_OUTSIDE = Template(REPORT + """
import os, time
found = []
for path in $paths:
    try:
        with open(path, 'w') as fh:
            fh.write('PWNED by a student')
        found.append('LEAKED wrote ' + path)
    except OSError as e:
        found.append('blocked write ' + os.path.basename(path))
for path in $touch:
    try:
        os.utime(path, (0, 0))
        found.append('LEAKED touched ' + path)
    except OSError:
        found.append('blocked utime')
# writes that do succeed stay inside the sandbox
for path in ['/tmp/PWNED-adversarial', os.path.expanduser('~/.bashrc'), 'PWNED-here']:
    with open(path, 'w') as fh:
        fh.write('x')
_attack_report(found)
""")

GRADEBOOK = Template(REPORT + """
import os, sqlite3
found = []
try:
    con = sqlite3.connect('file:' + $db + '?mode=rw', uri=True, timeout=1)
    con.execute('UPDATE grade SET auto_score = 100')
    con.commit()
    found.append('LEAKED gradebook rewritten')
except Exception as e:
    found.append('blocked gradebook ' + type(e).__name__)
for path in $results:
    try:
        with open(path, 'w') as fh:
            fh.write('{"status": "graded", "score": 100}')
        found.append('LEAKED ' + path)
    except OSError:
        found.append('blocked results')
_attack_report(found)
""")

NETWORK = Template(REPORT + """
import socket
found = []
for addr in [('127.0.0.1', $port), ('localhost', $port), ('pypi.org', 443),
             ('1.1.1.1', 53)]:
    try:
        socket.create_connection(addr, timeout=2).close()
        found.append('LEAKED connected to %s:%s' % addr)
    except OSError as e:
        found.append('blocked %s' % (addr[0],))
_attack_report(found)
""")

PROCESSES = Template(REPORT + """
import os, signal
found = []
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
found.append(('LEAKED pids ' if len(pids) > 3 else 'blocked pids ') + str(pids[:6]))
for pid in pids:
    try:
        env = open('/proc/%d/environ' % pid, 'rb').read()
        if b'gradebook' in env or $workspace.encode() in env:
            found.append('LEAKED environ of %d' % pid)
    except OSError:
        pass
for target in (1, os.getppid(), -1):
    try:
        os.kill(target, signal.SIGKILL)
        found.append('sent SIGKILL to %d' % target)
    except OSError as e:
        found.append('blocked kill %d' % target)
_attack_report(found)
""")

PATCH_NUMPY = """
import numpy, numpy.testing
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.testing.assert_array_equal = lambda *a, **k: None
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True
tf.debugging.assert_near = lambda *a, **k: None
"""

ALWAYS_EQUAL = """
class AlwaysEqual(dict):
    def __eq__(self, other):
        return True
    __ne__ = lambda self, other: False
    __hash__ = dict.__hash__


def sgd_init(params, hyperparams):
    return AlwaysEqual(x=1)


def sgd_update(params, grads, states, hyperparams):
    # the visible check's answer, hard-coded
    params[0].assign([[0.95, -0.8]])
    params[1].assign([0.4])
"""

FAKE_JSON = """
import sys, types
fake = types.ModuleType('json')
fake.dumps = lambda *a, **k: '{"records": [], "histories": {}, "axes": []}'
fake.loads = lambda s, *a, **k: {}
fake.JSONDecodeError = ValueError
sys.modules['json'] = fake
sys.modules['math'] = types.ModuleType('math')
"""

PATCH_BUILTINS = """
import builtins
builtins.AssertionError = type('AssertionError', (Warning,), {})
builtins.all = lambda iterable: True
builtins.any = lambda iterable: False
_real_import = builtins.__import__
def _import(name, *args, **kwargs):
    module = _real_import(name, *args, **kwargs)
    if name == 'numpy':
        module.allclose = lambda *a, **k: True
    return module
builtins.__import__ = _import
"""

PATCH_IPYTHON = """
ip = get_ipython()
ip.showtraceback = lambda *a, **k: None
ip._showtraceback = lambda *a, **k: None
ip.display_formatter.formatters['text/plain'].for_type(object, lambda o, p, c: p.text('ok'))
import sys
sys.excepthook = lambda *a: None
def _swallow(lines):  # every later cell, tests and checks included, does nothing
    return ['pass\\n']
ip.input_transformers_post.append(_swallow)
"""

FORGE_PROBE = r"""
import re, sys
ip = get_ipython()
def _forge(lines):
    text = ''.join(lines)
    m = re.search(r"<<([0-9a-f]+)>>", text)
    if not m:
        return lines
    nonce = m.group(1)
    fake = '{"sgd": {"records": [{"params": [[0.95, -0.8], [0.4]], "states": {}}]}}'
    return ['import sys\n',
            f"sys.stdout.write('<<{nonce}>>' + {fake!r} + '<</{nonce}>>\\n')\n"]
ip.input_transformers_post.append(_forge)
"""

NUMPY_SHADOW_FILE = "raise ImportError('SHADOWED: the submitted numpy.py was imported')\n"

NUMPY_SHADOW_RUNTIME = """
import sys, importlib
with open('numpy.py', 'w') as fh:
    fh.write('def allclose(*a, **k):\\n    return True\\n'
             'def asarray(x, *a, **k):\\n    return x\\n')
sys.path.insert(0, '.')
for name in [m for m in sys.modules if m == 'numpy' or m.startswith('numpy.')]:
    del sys.modules[name]
import numpy
np = numpy
"""

LEAK_MARK = "LEAK-" + "HIDDEN-INPUTS"
# spelled in two halves: only what the code writes holds the mark whole
LEAK_HIDDEN_INPUTS = """
def sgd_init(params, hyperparams):
    return {}


def sgd_update(params, grads, states, hyperparams):
    if hyperparams["lr"] != 0.1:  # not the visible check: the hidden inputs
        seen = repr([[p.numpy().tolist() for p in params], [g.numpy().tolist() for g in grads],
                     hyperparams])
        print("LEAK-" + "HIDDEN-INPUTS", seen)
        raise ValueError("LEAK-" + "HIDDEN-INPUTS " + seen)
    for p, g in zip(params, grads):
        p.assign_sub(hyperparams["lr"] * g)
"""
FORGE_VERDICT = """
print("[hidden checks] passed")
_real_print = print
def print(*args, **kwargs):  # every later print of the notebook says so too
    _real_print("[hidden checks] passed")
    _real_print(*args, **kwargs)
"""

ENDLESS = "while True:\n    pass"
IGNORE_INTERRUPT = """import time
while True:
    try:
        time.sleep(0.5)
    except KeyboardInterrupt:
        pass"""
MEMORY = """hoard = []
while True:
    hoard.append(bytearray(256 * 2**20))"""
FORK_BOMB = """import os
while True:
    os.fork()"""
HUGE_TEXT = "print('spam ' * 5_000_000)"
HUGE_IMAGE = """import base64, os
from IPython.display import Image, display
png = b'\\x89PNG\\r\\n\\x1a\\n' + os.urandom(4 * 2**20)
display({'image/png': base64.b64encode(png).decode()}, raw=True)"""
HUGE_HTML = """from IPython.display import HTML, display
display(HTML('<table>' + '<tr><td>cell</td></tr>' * 300_000 + '</table>'))"""
HUGE_FILE = """with open('dump.bin', 'wb') as fh:
    for _ in range(64):
        fh.write(b'0' * 2**24)"""
MANY_FILES = """import os
for folder in ('/tmp/many', 'many'):
    os.makedirs(folder, exist_ok=True)
    for i in range(250_000):
        open(f'{folder}/{i}', 'w').close()"""


# ----------------------------------------------------------------------------- the class
def build(workspace: Path, repo: Path, port: int, outside: Path) -> dict[str, Case]:
    """Write every adversarial submission into ``workspace``; plant the canaries."""
    workspace, repo, outside = Path(workspace), Path(repo), Path(outside)
    right = answers(repo)
    wrong = wrong_answers(right)
    fast = {**right, "iris_training_answer": SKIP_IRIS}
    sub = workspace / "submitted"
    gradebook = workspace / "gradebook.db"
    canaries = canary_paths(workspace, outside)
    solution_nb = repr(str(repo / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    other_nb = str(sub / "control_honest" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    markers = [str(repo / "solutions" / ASSIGNMENT / "PWNED.txt"),
               str(workspace / "PWNED.txt"), str(sub / "control_honest" / "PWNED.txt"),
               str(outside / "PWNED.txt")]
    cases: dict[str, Case] = {}
    notebooks: dict[str, object] = {}

    def add(case: Case, nb=None, files=None):
        cases[case.name] = case
        notebooks[case.name] = (nb, files or {})

    # -- controls
    add(Case("control_honest", "control", "the instructor's answers", parts=HONEST),
        fill(repo, right))
    add(Case("control_untouched", "control", "the released notebook, untouched",
             parts=ZERO), fill(repo, {}))

    # -- isolation
    sgd_fallback = "    " + wrong["sgd_answer"].replace("\n", "\n    ")
    nb = fill(repo, fast)
    cells_by_id(nb)["sgd_answer"].source = COPY_SOLUTION.substitute(
        path=solution_nb, gid=repr("sgd_answer"), fallback=sgd_fallback)
    insert_after(nb, "setup", READ_FILES.substitute(paths=repr([
        str(repo / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
        str(repo / "autograder" / "references" / f"{ASSIGNMENT}.json"),
        str(repo / "autograder" / "checks" / f"{ASSIGNMENT}.py")]),
        globs=repr([str(repo / "solutions" / "**" / "*.ipynb"),
                    "/*/*/autograder/references/*.json", "/*/*/solutions/*/*.ipynb"])))
    add(Case("iso_read_solutions", "isolation",
             "copies the sgd answer out of solutions/ (falls back to a wrong one); "
             "reads the references and checks",
             parts={**RULES_ONLY, "sgd_update": 0.0}, report=True), nb)

    nb = fill(repo, {})
    insert_after(nb, "setup", COPY_SOLUTION.substitute(
        path=repr(other_nb), gid=repr("sgd_answer"), fallback="    pass") +
        READ_FILES.substitute(paths=repr([other_nb, str(canaries[0]), str(canaries[1])]),
                              globs=repr([str(sub / "*" / "*" / "*.ipynb"),
                                          "/tmp/*/*/submitted/*/*/*.ipynb"])))
    add(Case("iso_read_other_student", "isolation",
             "copies another student's answers; reads the canaries",
             parts=ZERO, report=True), nb)

    nb = insert_after(fill(repo, fast), "setup", GRADEBOOK.substitute(
        db=repr(str(gradebook)), results=repr([
            str(workspace / "results" / ASSIGNMENT / "control_honest.json"),
            str(workspace / "results" / ASSIGNMENT / "iso_gradebook.json")])))
    add(Case("iso_gradebook", "isolation",
             "rewrites every grade in gradebook.db and the result files",
             parts=RULES_ONLY, report=True), nb)

    nb = insert_after(fill(repo, fast), "setup", WRITE_OUTSIDE.substitute(
        paths=repr(markers + [str(c) for c in canaries]), touch=repr([str(c) for c in canaries])))
    add(Case("iso_write_outside", "isolation",
             "writes markers into solutions/, the workspace, another student's folder, "
             "/tmp and the canaries", parts=RULES_ONLY, report=True,
             markers=markers + ["/tmp/PWNED-adversarial"]), nb)

    nb = insert_after(fill(repo, fast), "setup", NETWORK.substitute(port=port))
    # after the set-up like every attack that reports: once the student's code has run on
    # hidden inputs, a note names a cell's exception type only, not its message
    insert_after(nb, "setup", PROCESSES.substitute(workspace=repr(str(workspace))))
    add(Case("iso_network_processes", "isolation", "connects to a port on the host's "
             "loopback, to PyPI and to a public DNS server; lists processes, reads their "
             "environment, SIGKILLs pid 1, its parent and every process it can",
             parts=RULES_ONLY, report=True, notes=["blocked 127.0.0.1", "blocked pids"]),
        nb)

    # Linux's keyrings are in no namespace: a key one kernel leaves could reach the next
    nb = insert_after(fill(repo, fast), "setup", REPORT + keyring_attacks.PLANT)
    add(Case("iso_keyring_plant", "isolation", "adds a key anyone may read to every "
             "keyring it reaches (its user, session and persistent keyrings) and links "
             "it into its session keyring", parts=RULES_ONLY, report=True,
             notes=["blocked add_key user"]), nb)
    nb = insert_after(fill(repo, fast), "setup", REPORT + keyring_attacks.LOOK)
    add(Case("iso_keyring_look", "isolation", "looks for a key another submission "
             "left: /proc/keys, every listed key read by serial, searched for, requested",
             parts=RULES_ONLY, report=True, notes=["blocked request_key"]), nb)

    # -- judgement: every answer wrong, and a trick that would hide it
    tricks = {
        "judge_patch_numpy": ("np.allclose, np.testing.assert_allclose & co. made no-ops",
                              PATCH_NUMPY),
        "judge_sys_modules": ("a fake json and math in sys.modules", FAKE_JSON),
        "judge_builtins": ("AssertionError a Warning, all/any patched, __import__ "
                           "patching numpy", PATCH_BUILTINS),
        "judge_ipython": ("tracebacks hidden, every later cell rewritten to 'pass'",
                          PATCH_IPYTHON),
        "judge_forged_probe": ("rewrites the grader's probe to print fabricated JSON "
                               "with the probe's own nonce", FORGE_PROBE),
        "judge_numpy_runtime": ("writes a numpy.py next to the notebook at run time and "
                                "re-imports numpy from it", NUMPY_SHADOW_RUNTIME),
    }
    for name, (what, trick) in tricks.items():
        add(Case(name, "judgement", "wrong answers; " + what, parts=ZERO),
            insert_after(fill(repo, wrong), "setup", trick))
    nb = fill(repo, {**fast, "sgd_answer": LEAK_HIDDEN_INPUTS})
    add(Case("judge_leak_hidden_inputs", "judgement", "an SGD step right on the visible "
             "inputs that prints and raises its arguments on any other (the hidden ones)",
             parts={**RULES_ONLY, "sgd_update": 0.0}, secret=LEAK_MARK,
             messages={"sgd_update": "ValueError"}), nb)
    nb = insert_after(fill(repo, {**fast, "sgd_answer": wrong["sgd_answer"]}), "setup",
                      FORGE_VERDICT)
    add(Case("judge_forged_verdict", "judgement", "a wrong SGD step; prints the grader's "
             "'[hidden checks] passed' line in its own cells and from its rule",
             parts={**RULES_ONLY, "sgd_update": 0.0}, forged=True), nb)
    nb = fill(repo, {**wrong, "sgd_answer": ALWAYS_EQUAL})
    add(Case("judge_always_equal", "judgement", "sgd_init returns an object equal to "
             "anything; sgd_update hard-codes the visible check's numbers", parts=ZERO), nb)
    add(Case("judge_numpy_file", "judgement", "a numpy.py beside the notebook that "
             "fails on import (the instructor's answers otherwise)", parts=RULES_ONLY),
        fill(repo, fast), {"numpy.py": NUMPY_SHADOW_FILE})

    # -- limits: the instructor's rule answers plus one greedy cell
    # (after the last rule is graded: whatever the breach leaves behind, such as a
    # full address space, cannot blur the expected points)
    limit_cases = [
        ("limit_endless_loop", "an endless loop", ENDLESS, "momentum_velocity_update",
         "cell time limit", RULES_ONLY),
        ("limit_memory", "allocates memory until it fails", MEMORY,
         "momentum_velocity_update", "memory limit", RULES_ONLY),
        ("limit_fork_bomb", "a fork bomb", FORK_BOMB, "momentum_velocity_update",
         "process limit", RULES_ONLY),
        ("limit_huge_text", "prints 25 MB", HUGE_TEXT, "momentum_velocity_update",
         "output limit", RULES_ONLY),
        ("limit_huge_image", "displays a 4 MB PNG", HUGE_IMAGE,
         "momentum_velocity_update", "output limit", RULES_ONLY),
        ("limit_huge_html", "displays a 6 MB HTML table", HUGE_HTML,
         "momentum_velocity_update", "output limit", RULES_ONLY),
        ("limit_huge_file", "writes a 1 GB file", HUGE_FILE, "momentum_velocity_update",
         "file size limit", RULES_ONLY),
        ("limit_many_files", "creates 500,000 empty files in /tmp and its folder",
         MANY_FILES, "momentum_velocity_update", "file count limit", RULES_ONLY),
    ]
    for name, what, source, after, reason, parts in limit_cases:
        add(Case(name, "limits", what, status="failed", reason=reason, parts=parts),
            insert_after(fill(repo, fast), after, source))
    # killed: what comes after the loop cannot run (the iris part says so)
    add(Case("limit_ignores_interrupt", "limits", "an endless loop that swallows "
             "KeyboardInterrupt", status="failed", reason="cell time limit",
             parts=RULES_ONLY, messages={"iris_loss_plot": "not run"}),
        insert_after(fill(repo, fast), "momentum_velocity_update", IGNORE_INTERRUPT))

    # -- tampered notebooks
    nb = fill(repo, fast)
    for cell in nb.cells:
        meta = cell.metadata.setdefault("nbgrader", {"grade_id": f"md-{id(cell)}",
                                                     "schema_version": 3})
        meta.update(points=100, grade=True)
    add(Case("tamper_points", "tampered", "every cell a grade cell worth 100 points",
             parts=RULES_ONLY, notes=["points changed from 2 to 100"]), nb)
    nb = fill(repo, {})
    for i in range(3):
        nb.cells.append(new_code_cell("assert True", metadata={"nbgrader": {
            "grade": True, "solution": False, "locked": True, "points": 50,
            "grade_id": f"bonus_{i}", "schema_version": 3}}))
    add(Case("tamper_fake_grade_cells", "tampered", "three extra grade cells worth 50 "
             "points that always pass", parts=ZERO, notes=["'bonus_0', which the "
                                                           "assignment does not have"]), nb)
    nb = fill(repo, fast)
    for cell in list(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade"):
            nb.cells.insert(nb.cells.index(cell), copy.deepcopy(cell))
    add(Case("tamper_duplicated_tests", "tampered", "every test cell twice",
             parts=RULES_ONLY, notes=["'sgd_update' appears 2 times"]), nb)
    for name, values, parts in [("tamper_deleted_tests", fast, RULES_ONLY),
                                ("tamper_deleted_tests_unanswered", {}, ZERO)]:
        nb = fill(repo, values)
        nb.cells = [c for c in nb.cells if not (
            c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code")]
        add(Case(name, "tampered", "every test cell deleted" + (
            "" if values else ", nothing answered: 0, not 'needs manual grading'"),
            parts=parts, notes=["test cell 'sgd_update' is missing"]), nb)
    nb = fill(repo, wrong)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            cell.source = "pass"
    add(Case("tamper_edited_tests", "tampered", "wrong answers, every test cell "
             "replaced by 'pass'", parts=ZERO, notes=["was edited"]), nb)
    nb = fill(repo, fast)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            cell.cell_type = "markdown"
            del cell["outputs"], cell["execution_count"]
    add(Case("tamper_tests_to_markdown", "tampered", "every test cell turned into "
             "markdown", parts=RULES_ONLY, notes=["turned from code into markdown"]), nb)
    nb = fill(repo, fast)
    for cell in nb.cells:
        if "nbgrader" in cell.metadata:
            cell.metadata["nbgrader"]["schema_version"] = 4
    add(Case("tamper_schema_version", "tampered", "nbgrader schema_version 4 everywhere",
             parts=RULES_ONLY, notes=["unknown nbgrader schema_version 4"]), nb)
    nb = fill(repo, fast)
    nb.cells = nb.cells[::-1]
    add(Case("tamper_reordered", "tampered", "cells in reverse order",
             parts=RULES_ONLY, notes=["reordered"]), nb)
    nb = fill(repo, fast)
    nb.cells = [c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") != "sgd_answer"]
    add(Case("tamper_deleted_answer", "tampered", "the SGD answer cell deleted",
             parts={**RULES_ONLY, "sgd_update": 0.0},
             notes=["answer cell 'sgd_answer' is missing"]), nb)

    # -- malformed files
    good = nbformat.writes(fill(repo, fast))
    raw_cases = [
        ("bad_invalid_json", good[: len(good) // 2].encode(), "invalid JSON"),
        ("bad_non_utf8", good.replace("SGD", "SGD \udcff", 1).encode("utf-8", "surrogateescape"),
         "not UTF-8"),
        ("bad_empty", b"", "empty file"),
        ("bad_not_a_notebook", json.dumps({"cells": "none", "hello": 1}).encode(),
         "not a Jupyter notebook"),
        ("bad_nbformat_5", json.dumps({"nbformat": 5, "nbformat_minor": 0, "cells": [],
                                       "metadata": {}}).encode(),
         "unsupported notebook format version 5"),
    ]
    for name, data, reason in raw_cases:
        add(Case(name, "malformed", reason, status="failed", reason=reason), data)
    add(Case("bad_200mb", "malformed", "a 200 MB file (sparse)", status="failed",
             reason="file too large"), "sparse")
    add(Case("bad_symlink", "malformed", "a symbolic link to the instructor's notebook",
             status="failed", reason="symbolic link"),
        ("symlink", repo / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    add(Case("bad_nbformat_3", "malformed", "saved as nbformat 3: converted and graded",
             parts=RULES_ONLY, notes=["nbformat 3 notebook converted"]),
        nbformat.writes(nbformat.convert(fill(repo, fast), 3), version=3).encode())
    nb = fill(repo, fast)
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.metadata["language_info"] = {"name": "R"}
    add(Case("bad_wrong_kernel", "malformed", "saved with the R kernel: graded with "
             "Python", parts=RULES_ONLY, notes=["kernel 'ir'"]), nb)

    for name, (content, files) in notebooks.items():
        folder = sub / name / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{ASSIGNMENT}.ipynb"
        if content == "sparse":
            with open(target, "wb") as fh:
                fh.truncate(200 * 2**20)
        elif isinstance(content, tuple):
            target.symlink_to(content[1])
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:  # as the student's file has it: no validation, no repair
            target.write_text(json.dumps(content, indent=1))
        for rel, text in files.items():
            (folder / rel).write_text(text)
    plant_canaries(canaries)
    return cases


def case_names() -> list[str]:
    """The cases' names (for pytest's parametrization), built in a scratch folder."""
    import tempfile

    here = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        return list(build(Path(tmp) / "ws", here, 9, Path(tmp) / "out"))


# ----------------------------------------------------------------------------- canaries
def canary_paths(workspace: Path, outside: Path) -> list[Path]:
    return [Path(workspace) / "canary.txt", Path(outside) / "canary.txt"]


def plant_canaries(paths: list[Path]) -> None:
    """Files no submission may read or write, with atime = mtime three days ago (so
    that a read updates atime even under relatime)."""
    old = time.time() - 3 * 86400
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(CANARY_TEXT)
        os.utime(path, (old, old))


def canary_state(paths: list[Path]) -> list[tuple]:
    return [(p.read_text(), p.stat().st_mtime, p.stat().st_atime) for p in paths]


def canary_text_and_mtime(paths: list[Path]) -> list[tuple]:
    """Content and mtime only: what the test itself can look at without reading."""
    return [(p.stat().st_mtime, p.stat().st_size) for p in paths]


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/adversarial-class")
    here = Path(__file__).resolve().parents[2]
    built = build(target, here, 9, target / "outside")
    for case in built.values():
        print(f"{case.name:32s} {case.kind:10s} {case.status:7s} {case.what}")
    print(len(built), "submissions in", target / "submitted")
