"""The ``env.py`` helper: one call that runs Alembic's migrations the way this library expects.

An ``env.py`` holding ``run_migrations(target_metadata)`` works three ways:

- handed a connection in ``config.attributes["connection"]`` (what ``upgrade()``
  and the other helpers do), it migrates on that connection and leaves the
  event loop, the lock and the commit to the caller; handed an engine there
  (what pytest-alembic does), it migrates on a connection of that engine and
  commits; an async engine or connection works where ``env.py`` can wait for
  it (see :func:`run_migrations`);
- in offline mode (``alembic upgrade --sql``), it renders SQL for the URL of
  the library's settings (or the one the helper handed in) with literal values;
- run by the plain ``alembic`` command, it builds an async engine from the
  library's settings (``DB_*``, not ``sqlalchemy.url`` of the ini file), takes
  the migration lock and runs the migrations with ``asyncio.run()``.
"""

from __future__ import annotations

import asyncio
import logging.config
import warnings
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentifui_config.errors import GeneratedSecretKeyWarning
from agentifui_config.migrations.lock import DEFAULT_LOCK_TIMEOUT, migration_lock
from agentifui_config.migrations.scripts import MigrationError
from agentifui_config.migrations.target import direct_target, open_connection
from agentifui_config.settings import EnvironmentSettings, load_settings

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import MetaData
    from sqlalchemy.engine import URL

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
    settings_class: type[EnvironmentSettings] | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    **options: Any,
) -> None:
    """Run the migrations of the current Alembic command; call it from ``env.py``.

    Args:
        target_metadata: The models' ``MetaData``, for ``alembic revision --autogenerate``.
        database: The database to migrate when no connection is handed in;
            by default ``load_settings().database``, read from ``DB_*``.
        settings_class: The application's settings class, whose ``DB_*`` (and
            ``.env`` file, when its ``model_config`` names one) give the database.
        lock_timeout: Seconds the ``alembic`` command waits for another
            process's migration lock (see ``upgrade()``).
        **options: More arguments for ``EnvironmentContext.configure()``
            (``version_table=``, ``include_schemas=``, ...); ``compare_type``
            is on unless given.

    ``config.attributes["connection"]`` may hold a ``Connection`` (used as it
    is: the caller commits), an ``Engine`` (a connection of it migrates and
    commits), or their async twins. An ``AsyncEngine`` is used from a loop of
    ``asyncio.run()``'s when no event loop is running, and its pool emptied
    afterwards, since those connections belong to that loop; inside
    ``AsyncConnection.run_sync()``, an async engine or connection is used
    through its synchronous side.

    Raises:
        MigrationError: The object handed in cannot be used here: an async
            one while an event loop runs outside ``run_sync()``, an
            ``AsyncConnection`` with no loop running (it belongs to another
            one), or something that is neither an engine nor a connection;
            no connection is handed in and an event loop is running already.
        ConfigurationError: No database is given and the settings are invalid.
    """
    from alembic import context  # noqa: PLC0415 - a proxy that exists only while env.py runs

    config = context.config
    options = {"target_metadata": target_metadata, "compare_type": True, **options}
    if context.is_offline_mode():
        url = (
            config.attributes.get(OFFLINE_URL_ATTRIBUTE)
            or _database(database, settings_class).sqlalchemy_url
        )
        _run_offline(url, options)
        return
    handed = config.attributes.get("connection")
    if handed is None:
        _refuse_running_loop()
        _configure_logging(config)
        asyncio.run(_run_online(_database(database, settings_class), lock_timeout, options))
        return
    _migrate_on(handed, options)


def _migrate_on(handed: object, options: dict[str, Any]) -> None:
    """Migrate on what ``config.attributes["connection"]`` holds: a connection or an engine."""
    if isinstance(handed, AsyncConnection | AsyncEngine) and _in_greenlet():
        # Inside run_sync(): the synchronous side awaits through the caller's loop.
        handed = (
            handed.sync_connection if isinstance(handed, AsyncConnection) else handed.sync_engine
        )
    if isinstance(handed, Connection):
        _migrate(handed, options)
    elif isinstance(handed, Engine):
        with handed.begin() as connection:
            _migrate(connection, options)
    elif isinstance(handed, AsyncEngine):
        _refuse_running_loop(handed)
        asyncio.run(_migrate_on_engine(handed, options))
    else:
        kind = type(handed).__name__
        article = "an" if kind[:1] in tuple("AEIOU") else "a"
        remedy = (
            "hand in the synchronous connection from within await connection.run_sync(...), "
            "or the AsyncEngine it came from"
            if isinstance(handed, AsyncConnection)
            else "hand in a SQLAlchemy Engine, Connection, AsyncEngine or AsyncConnection"
        )
        raise MigrationError(
            f"config.attributes['connection'] holds {article} {kind}, "
            "which env.py cannot migrate on from here",
            argument="connection",
            remedy=remedy,
        )


def _in_greenlet() -> bool:
    """Whether this code runs inside SQLAlchemy's ``run_sync()``/``greenlet_spawn()``."""
    try:
        from sqlalchemy.util.concurrency import in_greenlet  # noqa: PLC0415 - not public API
    except ImportError:  # pragma: no cover - SQLAlchemy releases without it
        return False
    return in_greenlet()


async def _migrate_on_engine(engine: AsyncEngine, options: dict[str, Any]) -> None:
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, options)
    finally:
        # The pool's connections belong to this loop, which asyncio.run() closes next.
        await engine.dispose()


def _refuse_running_loop(handed: AsyncEngine | None = None) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop: asyncio.run() may start one
    if handed is not None:
        raise MigrationError(
            "config.attributes['connection'] holds an AsyncEngine, and env.py runs inside a "
            "running event loop, where it cannot wait for it",
            argument="connection",
            remedy="run the Alembic command in await connection.run_sync(...), "
            "or await agentifui_config.migrations.upgrade(...) instead",
        )
    raise MigrationError(
        "alembic.command was called inside a running event loop without a connection, "
        "so env.py cannot start a loop of its own to migrate",
        remedy="await agentifui_config.migrations.upgrade(...) (or downgrade, stamp, current) "
        "instead: they hand env.py a connection",
    )


def _database(
    database: DatabaseConfig | None, settings_class: type[EnvironmentSettings] | None
) -> DatabaseConfig:
    if database is not None:
        return database
    with warnings.catch_warnings():
        # Migrations do not use SECRET_KEY: a key generated for development is no news here.
        warnings.simplefilter("ignore", GeneratedSecretKeyWarning)
        return load_settings(settings_class=settings_class).database


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
