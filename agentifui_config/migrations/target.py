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
from agentifui_config.secrecy import scrub, scrub_config, url_secrets

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from agentifui_config.credentials import Credentials

__all__ = [
    "MigrationTarget",
    "database_url",
    "direct_target",
    "login_credentials",
    "open_connection",
    "scrubbed",
]

MigrationTarget: TypeAlias = ConnectionManager | DatabaseConfig | AsyncConnection
"""A database the migration helpers can run against."""


def _config_of(target: MigrationTarget) -> DatabaseConfig | None:
    if isinstance(target, ConnectionManager):
        return target.config
    return target if isinstance(target, DatabaseConfig) else None


@contextlib.asynccontextmanager
async def open_connection(
    target: MigrationTarget, *, own: bool = False, credentials: Credentials | None = None
) -> AsyncIterator[AsyncConnection]:
    """Yield a connection to *target*'s database; one opened here is closed on exit.

    Args:
        target: The database.
        own: For a manager, open a connection of its own rather than borrow
            one from its pool: ``env.py`` and migrations may change their
            session (``SET statement_timeout = 0``, ``SET ROLE``), which must
            not reach the requests the pool serves next. It logs in with the
            manager's :attr:`~agentifui_config.ConnectionManager.credentials`.
        credentials: For a configuration, the password provider to log in
            with (see :func:`login_credentials`).

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
        credentials = target.credentials
        target = config
    # A migration may run DDL for longer than any request should wait for an answer.
    engine = create_engine_for(
        target.model_copy(update={"command_timeout": None}),
        credentials=credentials,
        poolclass=NullPool,
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


def direct_target(target: MigrationTarget) -> tuple[MigrationTarget, bool]:
    """What the locked commands connect to, and whether their lock must be transaction-scoped.

    A configuration (or a manager's) with ``DB_MIGRATION_HOST`` or
    ``DB_MIGRATION_PORT`` gives its direct target, reached past the pooler,
    where the session lock holds. Without one, a configuration that goes
    through PgBouncer in transaction mode keeps its target but needs a
    transaction-scoped lock, which a pooler cannot strand.

    Returns:
        The target to connect to, and ``True`` for a transaction-scoped lock.
    """
    config = _config_of(target)
    if config is None:
        return target, False
    direct = config.migration_config
    if direct is not None:
        return direct, False
    return target, config.pgbouncer


def login_credentials(target: MigrationTarget, direct: MigrationTarget) -> Credentials | None:
    """The credentials to reach *direct*, the direct target of *target*, with.

    A manager's :attr:`~agentifui_config.ConnectionManager.credentials` when
    *direct* logs in as the manager's user with the manager's password
    (``DB_MIGRATION_HOST``/``_PORT``, or a ``MIGRATION_DATABASE_URL`` naming
    no other user or password); ``None`` otherwise: a migration role of its
    own logs in with its own password.
    """
    if not isinstance(target, ConnectionManager) or not isinstance(direct, DatabaseConfig):
        return None
    config = target.config
    if config is None or (direct.username, direct.password) != (config.username, config.password):
        return None
    return target.credentials
