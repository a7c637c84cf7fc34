"""Where the task queue's URLs come from, and what they imply.

A worker reads the broker and database URLs from the environment (``AUTOGRADER_BROKER``,
``AUTOGRADER_DB``) or from an environment file (``--env-file``, the file systemd's
``EnvironmentFile=`` reads), never from its command line, which every user of the
machine sees in ``ps``. The instructor's commands read them there too when ``--broker``
and ``--db`` are not given.

TLS is the URL's: ``rediss://`` (Redis over TLS, the server's certificate checked
against the system's authorities), ``amqps://`` for RabbitMQ, and ``?sslmode=require``
(or ``verify-full``) on a PostgreSQL URL.
"""

from __future__ import annotations

import os
import shlex
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import UsageError
from autograder.sandbox.limits import Limits

BROKER_ENV = "AUTOGRADER_BROKER"
DB_ENV = "AUTOGRADER_DB"


def read_env_file(path: str | os.PathLike) -> dict[str, str]:
    """``KEY=VALUE`` lines as systemd's ``EnvironmentFile=`` reads them: blank lines and
    ``#`` comments skipped, a value optionally quoted."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--env-file {path}: {error.strerror}") from None
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip().isidentifier():
            raise UsageError(f"--env-file {path}, line {number}: not NAME=VALUE")
        value = value.strip()
        if value[:1] in "'\"" and len(value) > 1:
            value = shlex.split(value)[0] if value else ""
        values[name.strip()] = value
    return values


def urls(env_file: str | None = None, broker: str | None = None, db: str | None = None,
         need_broker: bool = True) -> tuple[str | None, str]:
    """(broker, database) URLs: given, else from ``env_file``, else the environment;
    one line saying where to put them when one is missing."""
    found = dict(os.environ)
    if env_file:
        found.update(read_env_file(env_file))
    broker = broker or found.get(BROKER_ENV)
    db = db or found.get(DB_ENV)
    missing = [name for name, value in ((BROKER_ENV, broker if need_broker else "x"),
                                        (DB_ENV, db)) if not value]
    if missing:
        raise UsageError(f"no {' or '.join(missing)}: set it in the environment or in an "
                         "environment file (--env-file), as NAME=URL")
    return broker, db


def shown(url: str) -> str:
    """A broker or database URL with its password masked, for messages."""
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)


def broker_ssl(url: str):
    """Celery's ``broker_use_ssl`` for a TLS URL: the server's certificate required."""
    if url.startswith("rediss://"):
        return {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    if url.startswith("amqps://"):
        return {"cert_reqs": ssl.CERT_REQUIRED}
    return False


def patience_problem(broker: str, grading_limit: float, visibility_timeout: float,
                     consumer_timeout: float) -> str | None:
    """Why the broker may give a grading in progress to a second worker (or, RabbitMQ,
    close the worker's channel), or None: its patience must exceed the grading's hard
    time limit."""
    if broker.startswith("redis") and grading_limit > visibility_timeout:
        return (f"the visibility timeout ({visibility_timeout:g} s) is shorter than a "
                f"grading's time limit ({grading_limit:g} s): a longer grading goes to a "
                f"second worker as well (give --visibility-timeout {grading_limit + 600:g})")
    if broker.startswith("amqp") and grading_limit > consumer_timeout:
        return (f"RabbitMQ's consumer_timeout ({consumer_timeout:g} s) is shorter than a "
                f"grading's time limit ({grading_limit:g} s): RabbitMQ would close the "
                "worker's channel during a long grading. Raise consumer_timeout in "
                f"rabbitmq.conf to at least {int((grading_limit + 600) * 1000)} (ms) and "
                "tell the worker (--consumer-timeout)")
    return None


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker decides for itself: its database, whether it may grade without a
    sandbox, its maximum limits, how long the broker waits for an acknowledgement."""

    db: str
    unsandboxed: bool = False
    maxima: Limits = field(default_factory=Limits)
    visibility_timeout: float | None = None  # Redis
    consumer_timeout: float = 1800.0  # RabbitMQ's, as configured on the broker

    @property
    def sandbox(self) -> bool | None:
        """True: sandboxed only; None (``--unsandboxed``): when available."""
        return None if self.unsandboxed else True
