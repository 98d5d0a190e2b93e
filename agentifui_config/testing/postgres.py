"""PostgreSQL servers and throwaway databases for test runs, independent of pytest.

A test run gets its server from ``AGENTIFUI_TEST_DATABASE_URL`` when that is
set (any ``postgresql://`` URL; its database is the admin database new
databases are created from), or else starts a throwaway PostgreSQL in a
temporary directory, and removes it at the end: from the ``pgserver`` package
(extra ``embedded``, Python 3.11 and 3.12) when it is installed, or else from
the machine's own PostgreSQL server binaries (``initdb``, ``pg_ctl``), on any
Python. On that server it creates databases named ``agentifui_test_<hex>``, and
drops only databases named so: nothing else on a developer's server is touched.

Example:
    >>> with postgres_server() as server, temporary_database(server) as config:  # doctest: +SKIP
    ...     engine = create_async_engine(config.sqlalchemy_url)

The functions are synchronous, for fixtures that run at session start; each
runs asyncpg on a private event loop in a worker thread, so it works whether or
not the calling thread has an event loop running.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final, Self

import asyncpg
from pydantic import SecretStr  # noqa: TC002 - pydantic reads annotations at run time
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentifui_config.database import DatabaseConfig
from agentifui_config.errors import ConfigurationError
from agentifui_config.failures import DatabaseUnavailableError
from agentifui_config.secrecy import scrub_config
from agentifui_config.testing._databases import (
    DATABASE_PREFIX,
    create_database,
    drop_database,
    server_version,
    temporary_database,
)
from agentifui_config.testing._embedded import (
    EmbeddedPostgres,
    EmbeddedStartError,
    NoEmbeddedServerError,
    StopMode,
)
from agentifui_config.testing._loop import run_coroutine

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "DATABASE_PREFIX",
    "URL_VARIABLE",
    "PostgresServer",
    "PostgresUnavailableError",
    "StopMode",
    "create_database",
    "drop_database",
    "postgres_server",
    "start_server",
    "temporary_database",
]

URL_VARIABLE: Final = "AGENTIFUI_TEST_DATABASE_URL"
"""The environment variable naming the PostgreSQL server tests run against."""

# What starts a throwaway server, and where each way works.
_THROWAWAY: Final = (
    "pip install 'agentifui-config[embedded]' (pgserver, on Python 3.11 and 3.12), "
    "or install PostgreSQL's server binaries initdb and pg_ctl (any Python; "
    "found through pg_config, PATH or /usr/lib/postgresql/*/bin)"
)
_REMEDY: Final = (
    f"set {URL_VARIABLE}=postgresql://user@host:5432/postgres to use a server you run, "
    f"or, to start a throwaway one, {_THROWAWAY}"
)
_URL_REMEDY: Final = (
    "start that server or correct the URL, or unset the variable and, to start a throwaway "
    f"server, {_THROWAWAY}"
)
_MIN_SERVER_VERSION: Final = 13  # DROP DATABASE ... WITH (FORCE)


class PostgresUnavailableError(DatabaseUnavailableError):
    """No PostgreSQL server can be provided; the message says how to get one.

    Its ``variable`` is ``AGENTIFUI_TEST_DATABASE_URL``, the one to set or correct.
    """


class _RunEnvironment(BaseSettings):
    """The test-run variables, read from the environment only (no ``.env`` file)."""

    model_config = SettingsConfigDict(env_prefix="AGENTIFUI_TEST_", extra="ignore")

    database_url: SecretStr | None = None


class PostgresServer:
    """A PostgreSQL server tests create their databases on.

    Built from the admin database's configuration for a server someone else
    runs; :func:`start_server` also builds the embedded kind, which this object
    owns and can :meth:`stop` and :meth:`start`. ``repr()`` masks the password.

    Args:
        admin: How to reach the database new databases are created from.
    """

    __slots__ = ("_admin", "_embedded")

    def __init__(self, admin: DatabaseConfig) -> None:
        self._admin = admin
        self._embedded: EmbeddedPostgres | None = None

    @classmethod
    def _owning(cls, embedded: EmbeddedPostgres) -> Self:
        server = cls(DatabaseConfig(host="127.0.0.1", port=embedded.port, username="postgres"))
        server._embedded = embedded
        return server

    @property
    def admin(self) -> DatabaseConfig:
        """The configuration of the admin database (``postgres`` on the embedded server)."""
        return self._admin

    @property
    def admin_url(self) -> URL:
        """The admin database's URL, password included (its ``repr()`` masks it)."""
        return self._admin.sqlalchemy_url

    @property
    def embedded(self) -> bool:
        """Whether this is a throwaway server started here rather than one named by URL."""
        return self._embedded is not None

    @property
    def data_dir(self) -> Path | None:
        """The embedded server's data directory (its log is ``log`` in it), else ``None``."""
        return self._embedded.pgdata if self._embedded else None

    @property
    def socket_dir(self) -> Path | None:
        """The directory of the embedded server's unix socket, else ``None``."""
        return self._embedded.socket_dir if self._embedded else None

    @property
    def is_running(self) -> bool:
        """Whether the embedded server is running; always true for a server not owned here."""
        return self._embedded.running if self._embedded else True

    def stop(self, *, mode: StopMode = "fast") -> None:
        """Stop the embedded server, keeping its data, address and port for :meth:`start`.

        Args:
            mode: ``"fast"`` for a clean shutdown, ``"immediate"`` for a crash-like abort.

        Raises:
            PostgresUnavailableError: The server is not embedded, so not ours to stop.
            subprocess.CalledProcessError: ``pg_ctl`` failed; the server log is in
                :attr:`data_dir`.
        """
        self._owned("stop").stop(mode)

    def start(self) -> None:
        """Start the stopped embedded server again, on the same port and data.

        Raises:
            PostgresUnavailableError: The server is not embedded, so not ours to start.
            subprocess.CalledProcessError: ``pg_ctl`` failed (for example the
                port was taken meanwhile); the server log is in :attr:`data_dir`.
        """
        self._owned("start").start()

    def close(self) -> None:
        """Stop the embedded server and remove its directory; nothing for a server not owned."""
        if self._embedded is not None:
            self._embedded.close()

    def _owned(self, action: str) -> EmbeddedPostgres:
        if self._embedded is None:
            raise PostgresUnavailableError(
                f"names a server not started here, so {action}() cannot control it",
                variable=URL_VARIABLE,
                remedy="skip when not server.embedded, or unset it and, to run this against a "
                f"throwaway embedded server, {_THROWAWAY}",
            )
        return self._embedded

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresServer({self._admin.masked_url!r}, embedded={self.embedded})"


def start_server() -> PostgresServer:
    """Provide the PostgreSQL server for a test run; the caller must ``close()`` it.

    ``AGENTIFUI_TEST_DATABASE_URL`` wins when set and not empty; otherwise a
    throwaway server starts in a temporary directory, from ``pgserver`` or else
    from the machine's PostgreSQL server binaries, listening on a free port of
    127.0.0.1 and on a unix socket.

    Raises:
        PostgresUnavailableError: The URL is malformed or its server cannot be
            reached, or, without the URL, neither pgserver nor the server
            binaries are there or the server failed to start, or the server is
            older than PostgreSQL 13; the message never shows a password.
    """
    url = _RunEnvironment().database_url
    if url is not None and url.get_secret_value().strip():
        server = PostgresServer(_config_from_url(url.get_secret_value()))
    else:
        server = PostgresServer._owning(_start_embedded())
    try:
        _check_server(server)
    except BaseException:
        server.close()
        raise
    return server


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Provide the PostgreSQL server for a test run, as :func:`start_server`, closed on exit.

    Raises:
        PostgresUnavailableError: No server can be provided; see :func:`start_server`.
    """
    with start_server() as server:
        yield server


def _config_from_url(url: str) -> DatabaseConfig:
    """The configuration a test URL names; a bad URL is one more way of having no server."""
    try:
        return DatabaseConfig.from_url(url)
    except ConfigurationError as exc:
        first = exc.errors[0]
        raise PostgresUnavailableError(
            "; ".join(f.message for f in exc.errors), variable=URL_VARIABLE, remedy=first.remedy
        ) from None


def _check_server(server: PostgresServer) -> None:
    admin = server.admin
    if server.embedded:
        where, remedy = f"is not set, and the embedded server at {admin.masked_url}", _REMEDY
    else:
        where, remedy = f"names {admin.masked_url}, which", _URL_REMEDY
    try:
        version = run_coroutine(lambda: server_version(admin))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = scrub_config(str(exc) or type(exc).__name__, admin)
        raise PostgresUnavailableError(
            f"{where} cannot be reached: {reason}", variable=URL_VARIABLE, remedy=remedy
        ) from None
    if version < _MIN_SERVER_VERSION:
        raise PostgresUnavailableError(
            f"{where} runs PostgreSQL {version}; tests need {_MIN_SERVER_VERSION} or newer",
            variable=URL_VARIABLE,
            remedy=remedy,
        )


def _start_embedded() -> EmbeddedPostgres:
    try:
        return EmbeddedPostgres.start_new()
    except NoEmbeddedServerError as exc:
        raise PostgresUnavailableError(
            f"is not set, {exc}",
            variable=URL_VARIABLE,
            remedy=_REMEDY,
        ) from None
    except EmbeddedStartError as exc:
        raise PostgresUnavailableError(
            f"is not set, and the embedded PostgreSQL failed to start: {exc}",
            variable=URL_VARIABLE,
            remedy=_REMEDY,
        ) from exc
