"""What the migration helpers run against: a manager, a configuration or a connection.

A :class:`~agentifui_config.connection.ConnectionManager` lends a connection
from its pool (or, for the commands, gives its configuration for a connection
of their own); a :class:`~agentifui_config.DatabaseConfig` gets a connection of
its own, closed afterwards; an ``AsyncConnection`` is used as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from agentifui_config.connection import ConnectionManager
from agentifui_config.database import DatabaseConfig
from agentifui_config.engine import create_engine_for
from agentifui_config.migrations.scripts import MigrationError
from agentifui_config.secrecy import scrub, scrub_config, url_secrets

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = ["MigrationTarget", "database_url", "open_connection", "refuse_pgbouncer", "scrubbed"]

MigrationTarget: TypeAlias = ConnectionManager | DatabaseConfig | AsyncConnection
"""A database the migration helpers can run against."""


def _config_of(target: MigrationTarget) -> DatabaseConfig | None:
    if isinstance(target, ConnectionManager):
        return target.config
    return target if isinstance(target, DatabaseConfig) else None


@contextlib.asynccontextmanager
async def open_connection(
    target: MigrationTarget, *, own: bool = False
) -> AsyncIterator[AsyncConnection]:
    """Yield a connection to *target*'s database; one opened here is closed on exit.

    Args:
        target: The database.
        own: For a manager, open a connection of its own rather than borrow
            one from its pool: ``env.py`` and migrations may change their
            session (``SET statement_timeout = 0``, ``SET ROLE``), which must
            not reach the requests the pool serves next.

    Raises:
        ManagerStateError: *target* is a manager that is not initialized.
    """
    if isinstance(target, AsyncConnection):
        yield target
        return
    if isinstance(target, ConnectionManager):
        engine = target.engine  # raises before initialize
        config = target.config
        if not own or config is None:
            async with engine.connect() as connection:
                yield connection
            return
        target = config
    # A migration may run DDL for longer than any request should wait for an answer.
    engine = create_engine_for(
        target.model_copy(update={"command_timeout": None}), poolclass=NullPool
    )
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


def database_url(target: MigrationTarget) -> URL:
    """The URL of *target*'s database, for offline SQL that names no live connection.

    Raises:
        ManagerStateError: *target* is a manager that is not initialized.
    """
    if isinstance(target, AsyncConnection | ConnectionManager):
        return target.engine.url
    return target.sqlalchemy_url


def scrubbed(text: str, target: MigrationTarget) -> str:
    """*text* with *target*'s password and secret options masked, for errors and health reports."""
    if isinstance(target, AsyncConnection):
        return scrub(text, url_secrets(target.engine.url.render_as_string(hide_password=False)))
    return scrub_config(text, _config_of(target))


def refuse_pgbouncer(target: MigrationTarget) -> None:
    """Refuse to migrate through PgBouncer in transaction mode.

    The migration lock is a session-level advisory lock: PgBouncer hands each
    transaction to any server connection, so the lock would be taken on one
    server session and released (or re-taken by another replica) on another.

    Raises:
        MigrationError: *target*'s configuration says connections go through PgBouncer.
    """
    config = _config_of(target)
    if config is not None and config.pgbouncer:
        raise MigrationError(
            "migrations cannot run through PgBouncer in transaction mode: "
            "the migration lock needs a server session of its own",
            variable="DB_PGBOUNCER",
            remedy="run migrations with a DatabaseConfig that reaches PostgreSQL directly "
            "(DB_PGBOUNCER=false and the server's own host and port)",
        )
