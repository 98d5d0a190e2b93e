"""``create_app()``: the configuration service, wired to agentifui-config.

Serve it from the repository root, with the ``DB_*`` variables (and the rest,
see ``docs/configuration.md``) naming a database its migrations were applied to::

    alembic -c examples/config_service/migrations/alembic.ini upgrade head
    uvicorn --factory examples.config_service.app:create_app

What agentifui-config gives it: the settings, validated at start with every
problem reported at once (:func:`~agentifui_config.get_settings`); the
connection pool, opened before the first request and closed after the last
(:func:`~agentifui_config.fastapi.create_lifespan`); one session per request
(``SessionDep``, ``TransactionDep``); ``/health``, ``/health/ready`` and
``/health/live`` with the migration status; CORS from the settings; 503 problem
details when the database is away (:func:`~agentifui_config.fastapi.setup`);
and one redacted log format (:func:`~agentifui_config.logging.configure_logging`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI

from agentifui_config import Environment, EnvironmentSettings, get_settings
from agentifui_config.fastapi import create_lifespan, setup
from agentifui_config.logging import configure_logging
from examples.config_service.problems import add_problem_handlers
from examples.config_service.routers import api_router

__all__ = ["ALEMBIC_INI", "API_DOCS_FLAG", "create_app"]

ALEMBIC_INI: Final = Path(__file__).resolve().parent / "migrations" / "alembic.ini"
"""The service's Alembic configuration; its ``env.py`` reads the database from the settings."""

API_DOCS_FLAG: Final = "api_docs"
"""The feature flag that serves ``/docs`` and ``/openapi.json`` in production too."""


def create_app(
    settings: EnvironmentSettings | None = None,
    *,
    run_migrations: bool = False,
    retry_for: float = 30.0,
    configure_logs: bool = True,
) -> FastAPI:
    """Build the configuration service.

    Args:
        settings: The validated settings; by default the process's, read from
            the environment by :func:`agentifui_config.get_settings`.
        run_migrations: Upgrade the database to head at startup, under the
            migration lock, so replicas starting together migrate once. Without
            it a release step migrates, and ``/health/ready`` answers 503 until
            the schema is at head.
        retry_for: Seconds to keep trying at startup while the database is not
            up yet, as in a container orchestrator.
        configure_logs: Configure logging from the settings now, before the
            server starts the lifespan, so that the library's startup lines
            are formatted and redacted too; off for a host that does it itself.

    Returns:
        The application; its lifespan opens the connection pool.

    Raises:
        ConfigurationError: The settings are refused, with every finding in one report.
    """
    settings = get_settings() if settings is None else settings
    if configure_logs:
        configure_logging(settings)
    docs = settings.environment is not Environment.PRODUCTION or settings.is_enabled(API_DOCS_FLAG)
    app = FastAPI(
        title="config-service",
        summary="Applications and their named JSON configurations.",
        version="1.0.0",
        debug=settings.debug,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        lifespan=create_lifespan(
            settings, migrations=ALEMBIC_INI, run_migrations=run_migrations, retry_for=retry_for
        ),
    )
    # Health endpoints, CORS from CORS_*, and 503 problem details for database outages.
    setup(app, settings)
    add_problem_handlers(app)
    app.include_router(api_router)
    return app
