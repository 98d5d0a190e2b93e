"""Wiring the integration into an app: CORS from the settings, and :func:`setup` for the rest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.middleware.cors import CORSMiddleware

from agentifui_config.environment import Environment
from agentifui_config.fastapi.callers import CallerKey, add_caller_key
from agentifui_config.fastapi.health import health_router
from agentifui_config.fastapi.lifespan import SettingsSource, resolve_settings
from agentifui_config.fastapi.problems import add_exception_handlers

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agentifui_config.settings import EnvironmentSettings

__all__ = ["configure_cors", "setup"]


def configure_cors(
    app: FastAPI,
    settings: SettingsSource = None,
    *,
    expose_headers: Sequence[str] = (),
    max_age: int = 600,
) -> None:
    """Install Starlette's ``CORSMiddleware`` with the validated CORS settings.

    ``CORS_ORIGINS``, ``CORS_ALLOW_CREDENTIALS``, ``CORS_ALLOW_METHODS`` and
    ``CORS_ALLOW_HEADERS`` were checked when the settings were loaded (no ``*``
    origin with credentials, none at all in production), so they are passed as
    they are. Call it before the app starts: middleware cannot be added later.

    Args:
        app: The application.
        settings: Settings, a function that loads them, or ``None`` for
            :func:`agentifui_config.get_settings`.
        expose_headers: Response headers the browser may show to scripts.
        max_age: Seconds browsers may cache a preflight answer.

    Raises:
        ConfigurationError: The settings are refused (logged, see :func:`create_lifespan`).
    """
    cors = resolve_settings(settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=cors.cors_origins,
        allow_credentials=cors.cors_allow_credentials,
        allow_methods=cors.cors_allow_methods,
        allow_headers=cors.cors_allow_headers,
        expose_headers=expose_headers,
        max_age=max_age,
    )


def setup(
    app: FastAPI,
    settings: SettingsSource = None,
    *,
    health_prefix: str | None = "/health",
    cors: bool = True,
    exception_handlers: bool = True,
    expose_details: bool | None = None,
    caller_key: CallerKey | None = None,
) -> None:
    """Add the health endpoints, CORS and the database error handlers to *app*.

    It does not add the lifespan, which FastAPI takes only when the app is
    created: create the app with ``FastAPI(lifespan=create_lifespan())``, and
    give both the same *settings* (by default both use :func:`get_settings`).

    Args:
        app: The application.
        settings: Settings, a function that loads them, or ``None`` for
            :func:`agentifui_config.get_settings`; read now, for CORS and for
            the default of *expose_details*.
        health_prefix: Where the health endpoints live; ``None`` for none. For
            other health options include :func:`health_router` yourself.
        cors: Install ``CORSMiddleware`` from the settings (:func:`configure_cors`).
        exception_handlers: Answer database failures with 503 problem details
            (:func:`add_exception_handlers`).
        expose_details: Show host, user, database name, server version and error
            texts in ``/health``; by default everywhere but production.
        caller_key: Names the caller of a request (a user id, a session cookie),
            to key read-your-writes by: for ``DB_READ_YOUR_WRITES_SECONDS``
            after a caller committed, its reads go to the primary
            (:func:`add_caller_key`).

    Raises:
        ConfigurationError: The settings are refused (logged).
    """
    loaded: EnvironmentSettings = resolve_settings(settings)
    if health_prefix is not None:
        if expose_details is None:
            expose_details = loaded.environment is not Environment.PRODUCTION
        app.include_router(health_router(prefix=health_prefix, expose_details=expose_details))
    if cors:
        configure_cors(app, loaded)
    if exception_handlers:
        add_exception_handlers(app)
    if caller_key is not None:
        add_caller_key(app, caller_key)
