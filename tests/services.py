"""Real servers for the task-queue tests: a ``redis-server``, a PostgreSQL 15 server
and a RabbitMQ node on free loopback ports, in temporary folders, stopped (and their folders
removed) whatever happens; and ``python -m autograder worker`` processes.

PostgreSQL refuses to run as root: as root, its folder belongs to Debian's
``postgres`` user and ``initdb``/``postgres`` run as that user (``setpriv``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RABBITMQ = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
REPO = Path(__file__).resolve().parent.parent


def missing() -> str | None:
    """Why these servers cannot start here, or None."""
    if not shutil.which("redis-server"):
        return "no redis-server (apt-get install redis-server)"
    if not (PG_BIN / "postgres").exists():
        return f"no PostgreSQL 15 in {PG_BIN} (apt-get install postgresql)"
    if not RABBITMQ.exists():
        return f"no {RABBITMQ} (apt-get install rabbitmq-server)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} in {timeout:g} s")


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, group=False, timeout=20.0) -> None:
    """Stop a process (or its whole group), politely first."""
    if proc.poll() is not None:
        return
    kill = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError):
        kill(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            kill(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def redis_server():
    """``redis://127.0.0.1:<port>`` of a fresh redis-server without persistence."""
    folder = tempfile.mkdtemp(prefix="test-redis-")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", folder],
                            stdout=open(Path(folder) / "log", "wb"), stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, "redis-server")
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def rabbitmq_server():
    """``amqp://guest:guest@127.0.0.1:<port>//`` of a fresh RabbitMQ node, with its own
    Erlang port mapper (epmd) on a free port, stopped afterwards."""
    folder = tempfile.mkdtemp(prefix="test-rabbitmq-")
    port, dist, epmd = free_port(), free_port(), free_port()
    env = dict(os.environ, HOME=folder, RABBITMQ_NODE_PORT=str(port),
               RABBITMQ_DIST_PORT=str(dist), ERL_EPMD_PORT=str(epmd),
               RABBITMQ_NODENAME=f"test{port}@localhost", RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
               RABBITMQ_MNESIA_BASE=f"{folder}/mnesia", RABBITMQ_LOG_BASE=f"{folder}/log",
               RABBITMQ_ENABLED_PLUGINS_FILE=f"{folder}/plugins")
    proc = subprocess.Popen([str(RABBITMQ)], env=env, start_new_session=True,
                            stdout=open(Path(folder) / "out", "wb"), stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, "rabbitmq-server", timeout=180)
        yield f"amqp://guest:guest@127.0.0.1:{port}//"
    finally:
        stop(proc, group=True, timeout=60)
        subprocess.run(["epmd", "-port", str(epmd), "-kill"], env=env, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _as_postgres_user(folder: str) -> list[str]:
    """The command prefix that runs PostgreSQL's programs as an unprivileged user."""
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam("postgres")
    os.chown(folder, user.pw_uid, user.pw_gid)
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
            "--clear-groups", "--"]


class PostgresURL(str):
    """A SQLAlchemy URL prefix of a running test server, which ``restart`` stops (fast
    shutdown: every connection cut) and starts again on the same port and data."""

    def restart(self, down: float = 0.0) -> None:
        self._stop()
        time.sleep(down)
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(self.command, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc, "postgres")

    def _stop(self) -> None:
        stop(self.proc, sig=signal.SIGINT)


@contextlib.contextmanager
def postgres_server():
    """A SQLAlchemy URL prefix ``postgresql+psycopg2://postgres@127.0.0.1:<port>/`` of a
    fresh cluster (trust authentication on loopback; fsync off: a throwaway server),
    with ``restart()``."""
    folder = tempfile.mkdtemp(prefix="test-postgres-")
    prefix = _as_postgres_user(folder)
    data, port = f"{folder}/data", free_port()
    subprocess.run([*prefix, str(PG_BIN / "initdb"), "-D", data, "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--no-sync"], check=True,
                   capture_output=True)
    url = PostgresURL(f"postgresql+psycopg2://postgres@127.0.0.1:{port}/")
    url.port, url.log = port, f"{folder}/server.log"
    url.command = [*prefix, str(PG_BIN / "postgres"), "-D", data, "-p", str(port), "-k",
                   folder, "-h", "127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"]
    url._start()
    try:
        yield url
    finally:
        url._stop()  # fast shutdown
        shutil.rmtree(folder, ignore_errors=True)


def create_database(server: str, name: str) -> str:
    """A new empty database on the server; its URL."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(server + "postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server + name


def start_worker(broker: str, db: str, log: Path, concurrency: int = 1,
                 visibility_timeout: float | None = None, env: dict | None = None,
                 options: tuple = (), cwd: Path = REPO):
    """``python -m autograder worker`` in its own process group (so a test can kill it
    whole, children included), its URLs in its environment as on a real machine.
    ``visibility_timeout``: None keeps the worker's default (longer than any grading),
    so that a slow grading on a busy machine is never handed to a second worker; only
    the tests of lost workers need a short one."""
    short = [] if visibility_timeout is None else ["--visibility-timeout",
                                                   str(visibility_timeout)]
    return subprocess.Popen(
        [sys.executable, "-m", "autograder", "worker", "--concurrency", str(concurrency),
         *short, *options],
        cwd=cwd, env=dict(os.environ, PYTHONUNBUFFERED="1", AUTOGRADER_BROKER=broker,
                          AUTOGRADER_DB=db, **(env or {})),
        stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
