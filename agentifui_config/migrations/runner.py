"""The ``env.py`` helper: one call that runs Alembic's migrations the way this library expects.

An ``env.py`` holding ``run_migrations(target_metadata)`` works three ways:

- handed a connection in ``config.attributes["connection"]`` (what ``upgrade()``
  and the other helpers do), it migrates on that connection and leaves the
  event loop, the lock and the commit to the caller;
- in offline mode (``alembic upgrade --sql``), it renders SQL for the URL of
  the library's settings (or the one the helper handed in) with literal values;
- run by the plain ``alembic`` command, it builds an async engine from the
  library's settings (``DB_*``, not ``sqlalchemy.url`` of the ini file), takes
  the migration lock and runs the migrations with ``asyncio.run()``.
"""

from __future__ import annotations

import asyncio
import logging.config
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from agentifui_config.migrations.lock import DEFAULT_LOCK_TIMEOUT, migration_lock
from agentifui_config.migrations.scripts import MigrationError
from agentifui_config.migrations.target import direct_target, open_connection
from agentifui_config.settings import load_settings

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import MetaData
    from sqlalchemy.engine import URL, Connection

    from agentifui_config.database import DatabaseConfig

__all__ = ["OFFLINE_URL_ATTRIBUTE", "run_migrations"]

OFFLINE_URL_ATTRIBUTE: Final = "agentifui_config.offline_url"
"""The ``Config.attributes`` key the helpers use to hand offline mode its database URL."""

# What Alembic's own templates pass in offline mode, so bound values render as literals.
_OFFLINE_OPTIONS: Final = {"literal_binds": True, "dialect_opts": {"paramstyle": "named"}}


def run_migrations(
    target_metadata: MetaData | None = None,
    *,
    database: DatabaseConfig | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    **options: Any,
) -> None:
    """Run the migrations of the current Alembic command; call it from ``env.py``.

    Args:
        target_metadata: The models' ``MetaData``, for ``alembic revision --autogenerate``.
        database: The database to migrate when no connection is handed in;
            by default ``load_settings().database``, read from ``DB_*``.
        lock_timeout: Seconds the ``alembic`` command waits for another
            process's migration lock (see ``upgrade()``).
        **options: More arguments for ``EnvironmentContext.configure()``
            (``version_table=``, ``include_schemas=``, ...); ``compare_type``
            is on unless given.

    Raises:
        MigrationError: The connection handed in is an ``AsyncConnection``;
            or no connection is handed in and an event loop is running already.
        ConfigurationError: No database is given and the settings are invalid.
    """
    from alembic import context  # noqa: PLC0415 - a proxy that exists only while env.py runs

    config = context.config
    options = {"target_metadata": target_metadata, "compare_type": True, **options}
    if context.is_offline_mode():
        url = config.attributes.get(OFFLINE_URL_ATTRIBUTE) or _database(database).sqlalchemy_url
        _run_offline(url, options)
        return
    connection = config.attributes.get("connection")
    if connection is None:
        _refuse_running_loop()
        _configure_logging(config)
        asyncio.run(_run_online(_database(database), lock_timeout, options))
        return
    if isinstance(connection, AsyncConnection):
        raise MigrationError(
            "config.attributes['connection'] holds an AsyncConnection; env.py runs synchronously",
            variable="connection",
            remedy="hand in the synchronous connection from within "
            "await connection.run_sync(...), or use agentifui_config.migrations.upgrade()",
        )
    _migrate(connection, options)


def _refuse_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop: asyncio.run() may start one
    raise MigrationError(
        "alembic.command was called inside a running event loop without a connection, "
        "so env.py cannot start a loop of its own to migrate",
        variable="env.py",
        remedy="await agentifui_config.migrations.upgrade(...) (or downgrade, stamp, current) "
        "instead: they hand env.py a connection",
    )


def _database(database: DatabaseConfig | None) -> DatabaseConfig:
    return database if database is not None else load_settings().database


def _run_offline(url: URL | str, options: dict[str, Any]) -> None:
    from alembic import context  # noqa: PLC0415 - see run_migrations()

    context.configure(url=url, **{**_OFFLINE_OPTIONS, **options})
    with context.begin_transaction():
        context.run_migrations()


def _migrate(connection: Connection, options: dict[str, Any]) -> None:
    from alembic import context  # noqa: PLC0415 - see run_migrations()

    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(
    database: DatabaseConfig, lock_timeout: float, options: dict[str, Any]
) -> None:
    target, transaction_scoped = direct_target(database)
    async with (
        open_connection(target) as connection,
        migration_lock(connection, timeout=lock_timeout, transaction_scoped=transaction_scoped),
    ):
        await connection.run_sync(_migrate, options)


def _configure_logging(config: Config) -> None:
    """Apply the ini file's logging sections, as Alembic's own env.py does for the command.

    Only here, where the ``alembic`` command runs env.py: a service that
    migrates at start-up keeps the logging it configured. Loggers that exist
    already stay enabled.
    """
    name = config.config_file_name
    if name is not None and config.file_config.has_section("loggers"):
        logging.config.fileConfig(name, disable_existing_loggers=False)
