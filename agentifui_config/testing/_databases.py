"""What a test run does on its server's admin database: read the version, create and drop databases.

Every database created here is named ``agentifui_test_<hex>`` (or another name
with that prefix), and only databases named so are ever dropped: nothing else
on a developer's server is touched. The functions are synchronous; each runs
asyncpg on a private event loop in a worker thread
(:func:`~agentifui_config.testing._loop.run_coroutine`). They are re-exported
by :mod:`agentifui_config.testing.postgres`, where they are documented.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import asyncpg
from sqlalchemy.dialects.postgresql.base import PGDialect

from agentifui_config.errors import ConfigurationError
from agentifui_config.testing._loop import run_coroutine

if TYPE_CHECKING:
    from agentifui_config.database import DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

__all__ = [
    "DATABASE_PREFIX",
    "create_database",
    "drop_database",
    "server_version",
    "temporary_database",
]

DATABASE_PREFIX: Final = "agentifui_test_"
"""The prefix of every database created here; only databases named so are ever dropped."""

_MAX_IDENTIFIER_BYTES: Final = 63  # PostgreSQL silently truncates longer names
_COMMAND_TIMEOUT: Final = 60.0  # seconds for CREATE/DROP DATABASE

# SQLAlchemy quotes identifiers for PostgreSQL (doubling embedded quotes); its
# dialect constructor carries no annotations.
_PREPARER: Final = PGDialect().identifier_preparer  # type: ignore[no-untyped-call]


def create_database(
    server: PostgresServer, name: str | None = None, *, template: str | None = None
) -> DatabaseConfig:
    """Create an empty database on *server* and return its configuration.

    The database is copied from ``template0``, so it holds no tables even when
    the server's ``template1`` does, unless *template* names another one.

    Args:
        server: The server to create it on.
        name: Its name, which must start with ``agentifui_test_``; by default
            ``agentifui_test_`` and 12 random hex digits.
        template: The database to copy, schema and rows, instead of ``template0``;
            nobody may be connected to it meanwhile.

    Returns:
        The admin configuration with the database replaced by the new one.

    Raises:
        ConfigurationError: *name* does not start with the prefix or is too long.
        asyncpg.PostgresError: The server refused, for example because the name is
            taken or the template is in use.
    """
    name = _database_name(name)
    source = _quote(template) if template is not None else "template0"
    statement = f"CREATE DATABASE {_quote(name)} TEMPLATE {source}"
    run_coroutine(lambda: _execute(server.admin, statement))
    return server.admin.model_copy(update={"database": name})


def drop_database(server: PostgresServer, name: str) -> None:
    """Drop a database created by :func:`create_database`, disconnecting its clients.

    Dropping a database that no longer exists is not an error.

    Raises:
        ConfigurationError: *name* does not start with ``agentifui_test_``: only
            databases created here are ever dropped.
    """
    _check_name(name)
    statement = f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)"
    run_coroutine(lambda: _execute(server.admin, statement))


@contextlib.contextmanager
def temporary_database(server: PostgresServer, name: str | None = None) -> Iterator[DatabaseConfig]:
    """Create a database as :func:`create_database` and drop it on exit.

    It is not dropped when the embedded server is stopped at exit: the whole
    server directory goes away with :meth:`PostgresServer.close`.
    """
    config = create_database(server, name)
    try:
        yield config
    finally:
        if server.is_running:
            drop_database(server, config.database)


async def server_version(config: DatabaseConfig) -> int:
    """The major version of the PostgreSQL server *config* reaches (``16`` for 16.4).

    Raises:
        OSError: The server cannot be reached.
        asyncpg.PostgresError: The server refused the connection.
    """
    connection = await _connect(config)
    try:
        return connection.get_server_version().major
    finally:
        await connection.close(timeout=_COMMAND_TIMEOUT)


def _database_name(name: str | None) -> str:
    if name is None:
        return DATABASE_PREFIX + secrets.token_hex(6)
    _check_name(name)
    if len(name.encode()) > _MAX_IDENTIFIER_BYTES or "\x00" in name:
        raise ConfigurationError(
            f"database name {name!r} is not a PostgreSQL identifier",
            variable="name",
            remedy=f"use at most {_MAX_IDENTIFIER_BYTES} bytes and no NUL character",
        )
    return name


def _check_name(name: str) -> None:
    if not name.startswith(DATABASE_PREFIX):
        raise ConfigurationError(
            f"database name {name!r} does not start with {DATABASE_PREFIX!r}",
            variable="name",
            remedy="only databases created for tests are created or dropped here; "
            f"start the name with {DATABASE_PREFIX!r}",
        )


def _quote(name: str) -> str:
    return _PREPARER.quote_identifier(name)


async def _connect(config: DatabaseConfig) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=config.host,
        port=config.port,
        user=config.username,
        password=config.password.get_secret_value() or None,
        database=config.database,
        ssl=config.ssl_mode.value if config.ssl_mode else None,
        timeout=config.connect_timeout,
        command_timeout=_COMMAND_TIMEOUT,
    )


async def _execute(config: DatabaseConfig, statement: str) -> None:
    connection = await _connect(config)
    try:
        await connection.execute(statement)
    finally:
        await connection.close(timeout=_COMMAND_TIMEOUT)
