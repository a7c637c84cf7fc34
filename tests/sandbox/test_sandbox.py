"""autograder.sandbox: what a kernel can see, write and use, and how it is stopped.

Kernels here run plain Python (no TensorFlow): each starts in about a second. The
sandboxed tests need bubblewrap (Linux; .ci/run installs it) and are skipped, with
the reason, where it is missing.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.sandbox import Limits, run_cell, start_kernel

REPO = Path(__file__).resolve().parents[2]
needs_bwrap = pytest.mark.skipif(not sandbox.sandbox_available(),
                                 reason=f"no sandbox here: {sandbox.sandbox_status()}")
# Every test here starts kernels (a few seconds each); those that need bubblewrap skip
# without it.
pytestmark = pytest.mark.slow
QUICK = Limits(cell_timeout=3, notebook_timeout=60, memory_bytes=2 * 2**30,
               max_output_bytes=10_000, max_processes=16, max_file_bytes=2**20)


def text(result):
    return "".join(o.get("text", "") for o in result.outputs
                   if o["output_type"] == "stream")


def test_contract_defaults():
    limits = Limits()
    assert (limits.cell_timeout, limits.notebook_timeout, limits.memory_bytes,
            limits.max_output_bytes, limits.max_processes) == (60, 300, 4 * 2**30,
                                                               2**20, 64)


# ------------------------------------------------------------------ the sandbox
@pytest.fixture(scope="module")
def boxed(tmp_path_factory):
    """One sandboxed kernel shared by the isolation checks (they do not disturb it)."""
    if not sandbox.sandbox_available():
        pytest.skip(f"no sandbox here: {sandbox.sandbox_status()}")
    workdir = tmp_path_factory.mktemp("boxed")
    (workdir / "data.txt").write_text("mine")
    with start_kernel(workdir, QUICK, sandbox=True) as client:
        yield client, workdir


def test_sandboxed_kernel_sees_its_folder_only(boxed):
    client, workdir = boxed
    res = run_cell(client, "import os\nprint(os.getcwd(), os.environ['HOME'], "
                           "open('data.txt').read(), os.getuid() != 0)")
    assert res.error is None
    assert text(res) == "/submission /submission mine True\n"
    secrets = [REPO / "solutions", REPO / "autograder" / "references",
               REPO / "autograder", REPO / ".git", workdir.parent, Path("/root/.ssh"),
               Path("/etc/shadow"), Path("/home")]
    res = run_cell(client, f"print([os.path.exists(p) for p in {[str(p) for p in secrets]!r}])")
    assert text(res) == f"{[False] * len(secrets)}\n"
    res = run_cell(client, "import course, numpy\ntry:\n    import autograder.checks\n"
                           "except ImportError:\n    print('no autograder')")
    assert text(res) == "no autograder\n"


def test_sandboxed_kernel_writes_only_its_folder(boxed, tmp_path):
    client, workdir = boxed
    canary = tmp_path / "canary.txt"
    res = run_cell(client, f"""
import os
blocked = []
for path in ['/usr/pwned', '{REPO}/pwned', '/etc/pwned', '/submission/../pwned']:
    try:
        open(path, 'w').write('x')
    except OSError as e:
        blocked.append(e.errno)
open('/tmp/scratch', 'w').write('private tmp')
open('written.txt', 'w').write('ok')
print(len(blocked), open('written.txt').read())""")
    assert text(res) == "4 ok\n"
    # as root, the kernel writes into memory of its own that holds a copy of its folder
    # (kernel_entry.py); else into the folder itself
    assert (workdir / "written.txt").exists() == (os.geteuid() != 0)
    assert not (REPO / "pwned").exists() and not Path("/tmp/scratch").exists()
    assert not canary.exists()


def test_sandboxed_kernel_has_no_network(boxed):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    accepted = []

    def accept():
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    port = server.getsockname()[1]
    client, _ = boxed
    res = run_cell(client, f"""
import socket
for addr in [('127.0.0.1', {port}), ('pypi.org', 443), ('8.8.8.8', 53)]:
    try:
        socket.create_connection(addr, timeout=2)
        print('connected', addr)
    except OSError as e:
        print('blocked')""")
    thread = threading.Thread(target=accept)
    thread.start()
    thread.join()
    server.close()
    assert text(res) == "blocked\nblocked\nblocked\n"
    assert accepted == []


def test_process_memory_and_file_limits(boxed):
    client, _ = boxed
    res = run_cell(client, "import os, time\nfor _ in range(200):\n"
                           "    if os.fork() == 0:\n        time.sleep(60)\n"
                           "        os._exit(0)")
    if os.geteuid() == 0:  # the kernel has a uid of its own: RLIMIT_NPROC applies
        assert res.limit == "processes", res.error
        assert "process limit of 16" in res.error
    # the cell's processes did not outlive it, and the kernel has room again
    res = run_cell(client, "print(sorted(int(p) for p in os.listdir('/proc') "
                           "if p.isdigit()))\nimport threading\n"
                           "t = [threading.Thread(target=time.sleep, args=(0.1,)) "
                           "for _ in range(4)]\n[x.start() for x in t]; print('ok')")
    assert text(res) == "[1, 2]\nok\n", res.error
    res = run_cell(client, "x = bytearray(3 * 2**30)")
    assert res.limit == "memory" and "memory limit of 2 GiB" in res.error
    res = run_cell(client, "open('big.bin', 'wb').write(b'0' * 2**21)")
    assert res.limit == "file size", res.error


BACKGROUND_BOMBS = {
    "bash": "import subprocess, time\n"
            "subprocess.Popen(['bash', '-c', 'b() { b | b & }; b'])\ntime.sleep(0.5)",
    "python": "import os, time\nif os.fork() == 0:\n    while True:\n        try:\n"
              "            os.fork()\n        except OSError:\n            time.sleep(0.01)\n"
              "time.sleep(0.5)",
}


@pytest.mark.sandbox
@pytest.mark.parametrize("bomb", sorted(BACKGROUND_BOMBS))
def test_a_background_fork_bomb_is_a_process_limit_breach(bomb, tmp_path):
    """The kernel's own fork never fails, its children's do: still the process limit
    (before, such a cell ended as if nothing had happened)."""
    if not sandbox.sandbox_available():
        pytest.skip(sandbox.sandbox_status())
    if os.geteuid() != 0:
        pytest.skip("the process limit needs a grader running as root (own uid per kernel)")
    with start_kernel(tmp_path, QUICK, sandbox=True) as client:
        res = run_cell(client, BACKGROUND_BOMBS[bomb])
        assert res.limit == "processes" and "process limit of 16" in res.error, res
        assert text(run_cell(client, "print('alive')")) == "alive\n"


def test_memory_of_all_processes_together_is_limited(tmp_path):
    """RLIMIT_AS is per process; forked children are counted together by run_cell."""
    if not sandbox.sandbox_available():
        pytest.skip(sandbox.sandbox_status())
    limits = Limits(cell_timeout=20, memory_bytes=768 * 2**20)
    with start_kernel(tmp_path, limits, sandbox=True) as client:
        res = run_cell(client, "import os, time\nfor i in range(4):\n"
                               "    if os.fork() == 0:\n"
                               "        x = b'1' * (200 * 2**20)\n"
                               "        time.sleep(60)\n"
                               "time.sleep(30)")
        assert res.limit == "memory" and res.kernel_dead, res.error
        assert "used" in res.error and "together, over the memory limit of 768 MiB" \
            in res.error


def test_notebook_deadline_kills_the_kernel(tmp_path):
    limits = Limits(cell_timeout=10, notebook_timeout=2)
    with start_kernel(tmp_path, limits, sandbox=sandbox.sandbox_available()) as client:
        assert run_cell(client, "import time\ntime.sleep(1)").error is None
        res = run_cell(client, "time.sleep(5)")
        assert res.timed_out and res.limit == "notebook time" and res.kernel_dead
        assert "notebook time limit of 2 s" in res.error


def test_kernel_killed_when_it_ignores_the_interrupt(tmp_path):
    if not sandbox.sandbox_available():
        pytest.skip(sandbox.sandbox_status())
    with start_kernel(tmp_path, QUICK, sandbox=True) as client:
        launcher = client.launcher_pid()
        started = time.monotonic()
        res = run_cell(client, "import time\nwhile True:\n    try:\n        time.sleep(1)\n"
                               "    except KeyboardInterrupt:\n        pass")
        assert res.timed_out and res.kernel_dead and res.limit == "time"
        assert "ignored the interrupt and was killed" in res.error
        assert time.monotonic() - started < 3 + 5 + 3
        later = run_cell(client, "print(1)")
        assert later.kernel_dead and later.error.startswith("kernel is not running")
        runtime = Path(client.connection_file).parent
    assert not Path(f"/proc/{launcher}").exists()
    assert not runtime.exists()  # connection file and sockets removed
    assert tmp_path.stat().st_uid == os.geteuid()  # handed back to the grader


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie (an orphan's zombie may wait for an
    init that reaps slowly)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:].split()[0] != b"Z"


@pytest.mark.parametrize("sandboxed", [False, pytest.param(True, marks=needs_bwrap)],
                         ids=["plain", "sandboxed"])
def test_kernel_dies_with_a_killed_grader(sandboxed, tmp_path):
    """SIGKILL the grader mid-cell: its kernel (and sandbox) must not live on."""
    code = (
        "import sys\nfrom pathlib import Path\nfrom autograder import sandbox\n"
        "from autograder.sandbox.processes import descendants\n"
        f"with sandbox.start_kernel(Path({str(tmp_path)!r}), sandbox.Limits(), "
        f"sandbox={sandboxed}) as kc:\n"
        "    pids = descendants(kc.launcher_pid())\n"
        "    print(kc.launcher_pid(), *pids, flush=True)\n"
        "    sandbox.run_cell(kc, 'import time; time.sleep(60)')\n")
    grader = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True,
                              env=dict(os.environ, AUTOGRADER_SANDBOX_WARNED="1"))
    pids = [int(p) for p in grader.stdout.readline().split()]
    assert pids and all(alive(p) for p in pids)
    time.sleep(0.5)
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids)


# ------------------------------------------------------------------ both modes
@pytest.fixture(params=[False, pytest.param(True, marks=needs_bwrap)],
                ids=["plain", "sandboxed"])
def kernel(request, tmp_path):
    with start_kernel(tmp_path, QUICK, sandbox=request.param) as client:
        yield client


def test_cells_outputs_errors_and_timeouts(kernel):
    res = run_cell(kernel, "x = 6 * 7\nx")
    assert res.error is None and res.outputs[0]["data"]["text/plain"] == "42"
    res = run_cell(kernel, "1 / 0")
    assert res.error == "ZeroDivisionError: division by zero" and res.limit is None
    res = run_cell(kernel, "while True:\n    pass")
    assert res.timed_out and res.limit == "time" and not res.kernel_dead
    res = run_cell(kernel, "print(x)")  # interrupted, alive, state kept
    assert text(res) == "42\n"


def test_output_limit_counts_text_images_and_html(kernel):
    res = run_cell(kernel, "print('a' * 50_000)")
    assert res.truncated and res.limit == "output"
    assert res.outputs[0]["text"] == "a" * 10_000
    res = run_cell(kernel, "from IPython.display import HTML, Image, display\n"
                           "display(HTML('<p>' + 'x' * 20_000 + '</p>'))")
    assert res.truncated and len(res.outputs) == 1  # only the grader's note
    png = ("iVBORw0KGgo" + "A" * 30_000)
    res = run_cell(kernel, f"display({{'image/png': '{png}'}}, raw=True)")
    assert res.truncated
    res = run_cell(kernel, "while True:\n    print('z' * 1000)")
    assert res.truncated and res.limit == "output" and "interrupted" in res.error
    # one message over MAX_MESSAGE_BYTES never reaches the grader's memory
    res = run_cell(kernel, "print('y' * (40 * 2**20))")
    assert res.truncated and "a single output over 16 MiB" in res.error
    assert text(run_cell(kernel, "print('still here')")) == "still here\n"


def test_hidden_traceback_still_counts_as_an_error(kernel):
    run_cell(kernel, "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
                     "ip._showtraceback = lambda *a, **k: None")
    res = run_cell(kernel, "assert 1 == 2, 'nope'")
    assert res.error == "AssertionError: nope"


def test_kernel_death_is_reported(kernel):
    res = run_cell(kernel, "import os\nos._exit(3)")
    assert res.kernel_dead and "kernel died" in res.error
    assert run_cell(kernel, "1").kernel_dead


def test_unsandboxed_warning_is_printed_once(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AUTOGRADER_SANDBOX_WARNED", raising=False)
    sandbox.warn_unsandboxed("testing")
    sandbox.warn_unsandboxed("testing")
    err = capsys.readouterr().err
    assert err.count("UNSANDBOXED (testing)") == 1
    assert os.environ["AUTOGRADER_SANDBOX_WARNED"] == "1"


def test_missing_sandbox_is_an_error_when_required(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "_available", (False, "no bwrap on PATH"))
    with pytest.raises(RuntimeError, match="no bwrap on PATH"):
        with start_kernel(tmp_path, QUICK, sandbox=True):
            pass
