"""Parallel grading: worker processes, one submission at a time each.

Each worker is ``python -m autograder.pool RUN`` (the run, ``grading/run.py``, as JSON)
and talks to the main process in JSON lines (no pickle): the main process sends a
``Submission``, the worker answers ``{"id", "result"}`` (a ``Result``). A worker grades
through one ``grading.grader.Grader``, which forks each submission's kernel from the
worker's sandboxed zygote (warm kernels, sandbox/zygote.py) or starts a fresh one. The
main process alone writes results and the gradebook.

A worker that crashes or stops answering costs one submission (recorded as failed,
retried on the next run) and is replaced; the batch goes on. Workers die with the main
process (Linux ``PR_SET_PDEATHSIG``, and end of input everywhere), and kernels die
with their worker (ipykernel's parent poller; a zygote and its kernels through the
parent-death signal on their bubblewrap and ``--die-with-parent``).

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies (a
kernel's memory blow-up taking the worker with it, a kill by the time limit), the whole
executor becomes ``BrokenProcessPool`` and every pending submission fails with it; it
cannot kill one stuck task either. Here a dead or silent worker costs its one submission
and is replaced. Workers are fresh processes (no fork of the grader), and the protocol
is JSON lines, so no pickled object crosses between grader and worker.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from autograder.grading.result import Result
from autograder.grading.run import Run, Submission
from course.grading_terms import KERNEL_THREADS

# Each kernel gets one core's worth of threads: N workers on N cores then never fight
# over cores (TensorFlow otherwise sizes its pools by the machine, for each kernel).
# The course's setting, which the student's check uses too.
KERNEL_THREAD_ENV = dict(KERNEL_THREADS)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


# ----------------------------------------------------------------------------- pool
@dataclass
class _Worker:
    number: int
    proc: subprocess.Popen
    task: Submission | None = None
    started: float = 0.0
    log: Path | None = None
    exited: bool = False


@dataclass
class PoolConfig:
    """The pool's workers: the run they grade (sent as JSON on their command line), how
    many, when one is stuck, where they log, what their environment adds."""

    run: Run
    workers: int
    task_timeout: float  # wall time after which a silent worker is killed
    log_dir: Path
    env: dict = field(default_factory=dict)


def _set_parent_death_signal() -> None:
    """Linux: die with the parent even if it is killed with SIGKILL."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class Pool:
    def __init__(self, config: PoolConfig):
        self.config = config
        self.events: queue.Queue = queue.Queue()
        self.workers: list[_Worker] = []
        self._spawned = 0

    def _spawn(self) -> _Worker:
        self._spawned += 1
        number = self._spawned
        log = self.config.log_dir / f"worker-{number}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **self.config.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.pool", json.dumps(self.config.run.to_json())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(log, "wb"),
            env=env, text=True, encoding="utf-8", bufsize=1,
            start_new_session=True,  # Ctrl-C reaches the main process only
        )
        worker = _Worker(number, proc, log=log)
        threading.Thread(target=self._read, args=(worker,), daemon=True).start()
        self.workers.append(worker)
        return worker

    def _read(self, worker: _Worker) -> None:
        for line in worker.proc.stdout:
            try:
                self.events.put((worker, json.loads(line)))
            except json.JSONDecodeError:
                continue
        worker.proc.wait()
        self.events.put((worker, None))

    def _send(self, worker: _Worker, task: Submission) -> None:
        worker.task, worker.started = task, time.monotonic()
        try:
            worker.proc.stdin.write(json.dumps(task.to_json()) + "\n")
            worker.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # its reader thread reports the exit

    def _kill(self, worker: _Worker) -> None:
        worker.exited = True
        try:
            os.killpg(worker.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def start(self, n: int) -> None:
        """Start ``n`` workers now: they load Python and the assignments while the main
        process prepares the gradebook."""
        while len([w for w in self.workers if not w.exited]) < n:
            self._spawn()

    def run(self, tasks: list[Submission], on_result: Callable[[Submission, Result], None],
            tick: Callable[[], None] = lambda: None,
            saved: Callable[[], None] = lambda: None) -> None:
        """Grade every submission; ``on_result(submission, result)`` runs in this
        thread. (``saved``, the task queue's, is not needed here: this pool keeps
        nothing that a result's file would replace.)"""
        pending = deque(tasks)
        self.start(min(self.config.workers, len(pending)))
        for worker in self.workers:
            if pending and not worker.exited and worker.task is None:
                self._send(worker, pending.popleft())
        try:
            while any(w.task for w in self.workers):
                try:
                    worker, msg = self.events.get(timeout=0.5)
                except queue.Empty:
                    self._enforce_timeouts(pending, on_result)
                    tick()
                    continue
                if msg is None:  # the worker's process ended
                    worker.exited = True
                    if worker.task is not None:
                        task, worker.task = worker.task, None
                        on_result(task, Result.failure(
                            f"the grading worker crashed (exit code "
                            f"{worker.proc.returncode}); see {worker.log}", final=False))
                        if pending:
                            self._send(self._spawn(), pending.popleft())
                    continue
                if "fatal" in msg:
                    raise RuntimeError(f"a grading worker could not start: {msg['fatal']}"
                                       f" (log: {worker.log})")
                if "result" in msg and worker.task and msg.get("id") == worker.task.id:
                    task, worker.task = worker.task, None
                    on_result(task, Result.from_json(msg["result"]))
                    if pending:
                        self._send(worker, pending.popleft())
                tick()
        except BaseException:
            self.shutdown(kill=True)
            raise
        self.shutdown()

    def _enforce_timeouts(self, pending: deque, on_result) -> None:
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.task and not worker.exited and \
                    now - worker.started > self.config.task_timeout:
                task, worker.task = worker.task, None
                self._kill(worker)
                on_result(task, Result.failure(
                    f"stopped by the grader after {self.config.task_timeout:g} s "
                    "without a result (notebook time limit)"))
                if pending:
                    self._send(self._spawn(), pending.popleft())

    def shutdown(self, kill: bool = False) -> None:
        """Let idle workers end (end of input), or kill them all at once."""
        if kill:
            for worker in self.workers:
                if not worker.exited:
                    self._kill(worker)
            return
        for worker in self.workers:
            if worker.exited:
                continue
            try:
                worker.proc.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + 5
        for worker in self.workers:
            if worker.exited:
                continue
            try:
                worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._kill(worker)


# ----------------------------------------------------------------------------- worker
def worker_main(run: Run) -> int:
    """Grade submissions read from stdin, one JSON line each, until end of input."""
    _set_parent_death_signal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Keep the protocol channel clean: anything printed by libraries goes to the log.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    try:
        from autograder.grading.grader import Grader

        grader = Grader(run)
    except Exception as err:  # noqa: BLE001 - report, then stop
        channel.write(json.dumps({"fatal": f"{type(err).__name__}: {err}"}) + "\n")
        return 2
    try:
        for line in sys.stdin:
            submission = Submission.from_json(json.loads(line))
            result = grader.grade(submission)
            channel.write(json.dumps({"id": submission.id, "result": result.to_json()})
                          + "\n")
    finally:
        grader.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a grading worker (started by grade)")
    parser.add_argument("run", help="JSON: assignments, limits, sandbox, kernels")
    args = parser.parse_args(argv)
    return worker_main(Run.from_json(json.loads(args.run)))


if __name__ == "__main__":
    sys.exit(main())
