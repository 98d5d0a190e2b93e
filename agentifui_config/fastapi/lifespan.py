"""The lifespan: settings and connection pool up before the first request, down after the last.

:func:`create_lifespan` builds the callable given to ``FastAPI(lifespan=...)``.
At startup it loads the settings, initializes a
:class:`~agentifui_config.connection.ConnectionManager` (and can upgrade the
migrations under their advisory lock), keeps both on ``app.state``, then enters
the host app's own lifespan; at shutdown it leaves the host's lifespan and
disposes the manager. A refused configuration or an unreachable database stops
the start with its report, logged and raised for the server to print.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from agentifui_config.connection import ConnectionManager
from agentifui_config.errors import AgentifuiError, ConfigurationError
from agentifui_config.fastapi.dependencies import DATABASE_STATE, SETTINGS_STATE
from agentifui_config.secrecy import scrub, settings_secrets
from agentifui_config.settings import EnvironmentSettings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agentifui_config.connection import MigrationProbe
    from agentifui_config.migrations import AlembicConfigSource

__all__ = ["AppLifespan", "SettingsSource", "create_lifespan", "resolve_settings"]

_LOG = logging.getLogger("agentifui_config.fastapi")

AppLifespan: TypeAlias = (
    "Callable[[FastAPI], contextlib.AbstractAsyncContextManager[Mapping[str, Any] | None]]"
)
"""A lifespan as FastAPI takes it: called with the app, an async context manager
that may yield a state mapping."""

SettingsSource: TypeAlias = "EnvironmentSettings | Callable[[], EnvironmentSettings] | None"
"""Settings, a function that loads them, the application's settings class (loaded
through :func:`agentifui_config.get_settings`, cached), or ``None`` for the library's."""


def resolve_settings(source: SettingsSource) -> EnvironmentSettings:
    """Return the settings *source* stands for, logging a refused configuration.

    Args:
        source: Settings, a function that loads them, or ``None`` for the
            process's cached :func:`~agentifui_config.get_settings`.

    Raises:
        ConfigurationError: The configuration is refused; the report is logged
            on ``agentifui_config.fastapi`` (``event_name="configuration_refused"``).
    """
    try:
        if source is None:
            return get_settings()
        if isinstance(source, type):
            return get_settings(source)
        return source if isinstance(source, EnvironmentSettings) else source()
    except ConfigurationError as exc:
        _refused("configuration_refused", "the configuration is refused", exc)
        raise


def create_lifespan(
    settings: SettingsSource = None,
    *,
    lifespan: AppLifespan | None = None,
    manager: ConnectionManager | None = None,
    migrations: AlembicConfigSource | None = None,
    run_migrations: bool = False,
    retry_for: float = 0.0,
    shutdown_grace: float = 10.0,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[Any]]:
    """Build the lifespan for ``FastAPI(lifespan=...)``.

    At startup, in order: the settings are loaded (a function or ``None`` is
    called now, not when the lifespan is built); the manager is initialized
    with ``settings.database``; with *run_migrations*, the database is upgraded
    to head under the migration lock; settings and manager are stored as
    ``app.state.agentifui_settings`` and ``app.state.agentifui_database``; then
    the host's *lifespan* is entered, so its startup code can already use the
    database. Its state mapping, if it yields one, is passed on to the server.
    At shutdown the host's lifespan exits first, then the manager is disposed.

    Args:
        settings: Settings, a function that loads them, or ``None`` for
            :func:`agentifui_config.get_settings`.
        lifespan: The host app's own lifespan, run inside this one.
        manager: The manager to initialize and dispose, for custom thresholds;
            a new ``ConnectionManager()`` by default.
        migrations: The Alembic configuration (``alembic.ini`` path, migration
            directory or ``Config``): the health endpoints then report the
            migration status, and readiness waits for it.
        run_migrations: Upgrade the database to head at startup; needs *migrations*.
        retry_for: Seconds to keep retrying while the database is still starting.
        shutdown_grace: Seconds to wait at shutdown for connections still lent out.

    Returns:
        A lifespan factory; each call with the app gives one startup-shutdown cycle.

    Raises:
        ConfigurationError: *run_migrations* without *migrations*, or at
            startup the configuration is refused.
        DatabaseError: At startup, the database cannot be used (unreachable,
            a refused login, no such database); logged before it propagates.
        MigrationError: At startup, the migrations cannot be read or fail;
            logged before it propagates.
    """
    if run_migrations and migrations is None:
        raise ConfigurationError(
            "is set, but there are no migrations to run",
            variable="run_migrations",
            remedy="pass migrations='alembic.ini' (or the migration directory) too",
        )

    @contextlib.asynccontextmanager
    async def agentifui_lifespan(app: FastAPI) -> AsyncIterator[Any]:
        """Start the database, run the host's lifespan inside, then close the database."""
        loaded = resolve_settings(settings)
        database = manager if manager is not None else ConnectionManager()
        await _start(database, loaded, retry_for, migrations, run_migrations=run_migrations)
        setattr(app.state, SETTINGS_STATE, loaded)
        setattr(app.state, DATABASE_STATE, database)
        try:
            if lifespan is None:
                yield None
            else:
                async with lifespan(app) as state:
                    yield state
        finally:
            await database.dispose(grace=shutdown_grace)
            _LOG.info("database connections closed", extra={"event_name": "database_disposed"})

    return agentifui_lifespan


async def _start(
    manager: ConnectionManager,
    settings: EnvironmentSettings,
    retry_for: float,
    migrations: AlembicConfigSource | None,
    *,
    run_migrations: bool,
) -> None:
    """Initialize *manager* and set up the migrations, logging why the start failed."""
    if migrations is not None and manager.migration_probe is None:
        try:
            manager.migration_probe = _probe(migrations)
        except AgentifuiError as exc:
            _refused("migrations_failed", "the migrations cannot be read", exc)
            raise
    try:
        await manager.initialize(settings.database, retry_for=retry_for)
    except AgentifuiError as exc:
        _refused("database_unavailable", "the database cannot be used", exc)
        raise
    if migrations is not None and run_migrations:
        await _migrate(manager, settings, migrations)
    _LOG.info(
        "database ready: %s",
        settings.database.masked_url,
        extra={"event_name": "database_ready", "environment": settings.environment.value},
    )


async def _migrate(
    manager: ConnectionManager, settings: EnvironmentSettings, migrations: AlembicConfigSource
) -> None:
    from agentifui_config.migrations import upgrade  # noqa: PLC0415 - loads Alembic

    try:
        await upgrade(manager, migrations)
    except BaseException as exc:
        await manager.dispose(grace=0)
        if isinstance(exc, Exception):
            _refused("migrations_failed", "the migrations failed", exc, settings)
        raise


def _probe(migrations: AlembicConfigSource) -> MigrationProbe:
    from agentifui_config.migrations import migration_probe  # noqa: PLC0415 - loads Alembic

    return migration_probe(migrations)


def _refused(
    event: str, what: str, exc: Exception, settings: EnvironmentSettings | None = None
) -> None:
    # No traceback: the server prints it once when the start fails; the log
    # line is for aggregators. A ConfigurationError's report never holds a
    # secret; any other error's text is scrubbed of the settings' secrets.
    if isinstance(exc, ConfigurationError):
        report, variables = str(exc), list(exc.variables)
    elif isinstance(exc, AgentifuiError):
        report, variables = str(exc), [exc.variable] if exc.variable else []
    else:
        report, variables = scrub(f"{type(exc).__name__}: {exc}", settings_secrets(settings)), []
    _LOG.error(
        "startup failed, %s:\n%s",
        what,
        report,
        extra={"event_name": event, "variables": variables},
    )
