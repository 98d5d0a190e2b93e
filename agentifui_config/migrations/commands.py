"""``upgrade()``, ``downgrade()``, ``stamp()`` and ``current()``: Alembic's commands, made safe.

Each command runs Alembic's own (``alembic.command``) on a connection handed to
``env.py`` through ``config.attributes["connection"]`` from within
``AsyncConnection.run_sync()``: they can be awaited in a running event loop
(a FastAPI lifespan), where Alembic's stock async ``env.py`` would call
``asyncio.run()`` and fail. The commands that write hold the migration lock,
and commit before releasing it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal, overload

from alembic import command
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from agentifui_config.connection import ConnectionManager
from agentifui_config.database import DatabaseConfig
from agentifui_config.migrations.lock import (
    DEFAULT_LOCK_TIMEOUT,
    MIGRATION_LOCK_KEY,
    migration_lock,
)
from agentifui_config.migrations.runner import OFFLINE_URL_ATTRIBUTE
from agentifui_config.migrations.scripts import (
    AlembicConfigSource,
    MigrationError,
    load_alembic_config,
    read_script_directory,
    with_attributes,
)
from agentifui_config.migrations.status import DEFAULT_VERSION_TABLE
from agentifui_config.migrations.target import (
    MigrationTarget,
    database_url,
    direct_target,
    login_credentials,
    open_connection,
)

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import URL, Connection
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["current", "downgrade", "stamp", "upgrade"]

_Command = Callable[..., Any]

# The revisions an upgrade may skip when the database already holds them.
_HEAD_REVISIONS: Final = frozenset({"head", "heads"})
_VERSIONS: Final = text(f"SELECT version_num FROM {DEFAULT_VERSION_TABLE}")  # noqa: S608 - a constant


@overload
async def upgrade(
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    revision: str = ...,
    *,
    sql: Literal[False] = ...,
    lock_timeout: float = ...,
    lock_key: int = ...,
) -> None: ...
@overload
async def upgrade(
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    revision: str = ...,
    *,
    sql: Literal[True],
    lock_timeout: float = ...,
    lock_key: int = ...,
) -> str: ...
async def upgrade(
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    revision: str = "head",
    *,
    sql: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_key: int = MIGRATION_LOCK_KEY,
) -> str | None:
    """Upgrade the database to *revision*, one replica at a time.

    Replicas that start together may all call it: the first takes the
    migration lock and migrates, the others wait for the lock, then find
    nothing left to do. An upgrade of a manager or configuration to ``head``
    first reads the version table without the lock, so replicas starting
    against a database at head cost one query each (on a connection borrowed
    from a manager's pool; a configuration's opens one). A transaction open
    on a connection passed in is committed first.

    A configuration with ``DB_MIGRATION_HOST``/``DB_MIGRATION_PORT`` is
    migrated at that direct target; without one, through PgBouncer in
    transaction mode (``DB_PGBOUNCER``), the lock is transaction-scoped.

    Args:
        target: A manager (whose configuration opens a connection of the
            upgrade's own, so nothing a migration sets reaches the pool), a
            configuration, or a connection from ``engine.connect()``.
        alembic_config: An ``alembic.ini`` path, a migration directory or a ``Config``.
        revision: The target revision; with *sql*, a ``from:to`` range unless
            the database is empty.
        sql: Render the SQL instead of running it (Alembic's offline
            ``--sql`` mode): no connection, no lock.
        lock_timeout: Seconds to wait for another process's migration.
        lock_key: The advisory lock key (see ``MIGRATION_LOCK_KEY``).

    Returns:
        The SQL with *sql*, else ``None``.

    Raises:
        MigrationLockTimeoutError: Another process kept migrating past *lock_timeout*.
        MigrationError: Alembic refused (an unknown revision, several heads for
            ``head``), or ``env.py`` ignored the connection handed to it.
    """
    return await _run(
        command.upgrade,
        target,
        alembic_config,
        revision,
        sql=sql,
        lock_timeout=lock_timeout,
        lock_key=lock_key,
    )


@overload
async def downgrade(
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    revision: str = ...,
    *,
    sql: Literal[False] = ...,
    lock_timeout: float = ...,
    lock_key: int = ...,
) -> None: ...
@overload
async def downgrade(
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    revision: str = ...,
    *,
    sql: Literal[True],
    lock_timeout: float = ...,
    lock_key: int = ...,
) -> str: ...
async def downgrade(
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    revision: str = "-1",
    *,
    sql: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_key: int = MIGRATION_LOCK_KEY,
) -> str | None:
    """Downgrade the database to *revision*, by default one step, under the migration lock.

    Arguments, result and errors are those of :func:`upgrade`; with *sql* the
    revision must be a ``from:to`` range.
    """
    return await _run(
        command.downgrade,
        target,
        alembic_config,
        revision,
        sql=sql,
        lock_timeout=lock_timeout,
        lock_key=lock_key,
    )


@overload
async def stamp(
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    revision: str = ...,
    *,
    sql: Literal[False] = ...,
    purge: bool = ...,
    lock_timeout: float = ...,
    lock_key: int = ...,
) -> None: ...
@overload
async def stamp(
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    revision: str = ...,
    *,
    sql: Literal[True],
    purge: bool = ...,
    lock_timeout: float = ...,
    lock_key: int = ...,
) -> str: ...
async def stamp(
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    revision: str = "head",
    *,
    sql: bool = False,
    purge: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_key: int = MIGRATION_LOCK_KEY,
) -> str | None:
    """Record *revision* in the version table without running any migration.

    For a database whose schema was created some other way. Arguments,
    result and errors are those of :func:`upgrade`.

    Args:
        target: A manager, a configuration, or a connection from ``engine.connect()``.
        alembic_config: An ``alembic.ini`` path, a migration directory or a ``Config``.
        revision: The revision to record.
        sql: Render the SQL instead of running it.
        purge: Empty the version table first, whatever it holds.
        lock_timeout: Seconds to wait for another process's migration.
        lock_key: The advisory lock key.
    """
    return await _run(
        command.stamp,
        target,
        alembic_config,
        revision,
        sql=sql,
        lock_timeout=lock_timeout,
        lock_key=lock_key,
        purge=purge,
    )


async def current(target: MigrationTarget, alembic_config: AlembicConfigSource) -> tuple[str, ...]:
    """Return the revisions the database is stamped with, as ``env.py`` configures Alembic.

    Unlike ``get_migration_status()`` this runs ``env.py``, so a version table
    it renames is found; it takes no lock and changes nothing.

    Returns:
        The revision ids, empty when none is applied; more than one only for a
        database with unmerged branches.

    Raises:
        MigrationError: Alembic refused, or ``env.py`` ignored the connection.
    """
    config = load_alembic_config(alembic_config)
    async with open_connection(target, own=True) as connection:
        return await connection.run_sync(_current, config)


def _current(connection: Connection, config: Config) -> tuple[str, ...]:
    found: list[str] = []

    def read(_heads: object, context: MigrationContext) -> list[Any]:
        found.extend(context.get_current_heads())
        return []

    script = ScriptDirectory.from_config(config)
    handed = with_attributes(config, connection=connection)
    with EnvironmentContext(handed, script, fn=read, dont_mutate=True):
        _alembic(script.run_env)
    return tuple(found)


async def _run(
    run: _Command,
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    revision: str,
    *,
    sql: bool,
    lock_timeout: float,
    lock_key: int,
    **options: Any,
) -> str | None:
    config = load_alembic_config(alembic_config)
    if sql:
        return _offline(run, config, revision, database_url(target), options)
    check = run is command.upgrade and revision in _HEAD_REVISIONS
    locked, transaction_scoped = direct_target(target)
    # A manager that migrates where it reads has an open pool: borrow rather than open.
    borrow = isinstance(target, ConnectionManager) and locked is target
    if check and borrow:
        async with open_connection(target) as pooled:
            if await _at_head(pooled, config, revision):
                return None
    credentials = login_credentials(target, locked)
    async with open_connection(locked, own=True, credentials=credentials) as connection:
        if (
            check
            and isinstance(locked, DatabaseConfig)
            and await _at_head(connection, config, revision)
        ):
            return None
        async with migration_lock(
            connection, timeout=lock_timeout, key=lock_key, transaction_scoped=transaction_scoped
        ):
            await connection.run_sync(_online, run, config, revision, options)
    return None


async def _at_head(connection: AsyncConnection, config: Config, revision: str) -> bool:
    """Whether an upgrade to *revision* (``head`` or ``heads``) has nothing to do, without the lock.

    One query reads the version table, and the heads come from the
    per-process script cache, so no Alembic environment is set up. Never on
    a connection the caller passed in, whose transaction a failed read would
    break. Any doubt (no version table, unreadable scripts, several heads for
    ``head``, an empty history) reads as not at head, and the locked upgrade decides.
    """
    try:
        heads = (await read_script_directory(config)).get_heads()
    except MigrationError:
        return False  # the locked upgrade runs Alembic, whose own error says what is wrong
    if len(heads) > 1 and revision == "head":
        return False  # Alembic refuses "head" with several heads: let it say so
    revisions = await _stamped(connection)
    return bool(revisions) and sorted(revisions) == sorted(heads)


async def _stamped(connection: AsyncConnection) -> list[str]:
    """The revisions in Alembic's default version table, by one query; none if it cannot be read.

    Unlike ``get_migration_status()``, which must not break a caller's
    transaction, it asks no catalog first: on the upgrade's own connection or
    one borrowed from a pool, a failed read (no version table yet) costs
    nothing but the rollback that ends every read here.
    """
    try:
        revisions = list(await connection.scalars(_VERSIONS))
    except ProgrammingError:
        revisions = []  # no version table, or no right to read it: the locked upgrade decides
    await connection.rollback()  # end the read; the lock begins afresh
    return revisions


def _online(
    connection: Connection, run: _Command, config: Config, revision: str, options: dict[str, Any]
) -> None:
    _alembic(run, with_attributes(config, connection=connection), revision, **options)


def _offline(
    run: _Command, config: Config, revision: str, url: URL, options: dict[str, Any]
) -> str:
    buffer = io.StringIO()
    handed = with_attributes(config, **{OFFLINE_URL_ATTRIBUTE: url})
    handed.output_buffer = buffer
    _alembic(run, handed, revision, sql=True, **options)
    return buffer.getvalue()


def _alembic(run: _Command, *args: Any, **kwargs: Any) -> None:
    """Call an Alembic function, turning its refusals into :class:`MigrationError`."""
    try:
        run(*args, **kwargs)
    except CommandError as exc:
        raise MigrationError(str(exc), remedy="see `alembic history` for the revisions") from exc
    except RuntimeError as exc:
        if "running event loop" not in str(exc):
            raise
        raise MigrationError(
            f"env.py started an event loop of its own ({exc}) instead of using the "
            "connection handed to it",
            remedy="call agentifui_config.migrations.run_migrations(target_metadata) in env.py, "
            "or use config.attributes['connection'] there when it is set",
        ) from exc
