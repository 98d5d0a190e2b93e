"""The service's wiring: health endpoints, CORS, the API docs switch and the real lifespan."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from agentifui_config import DatabaseConfig
from agentifui_config.logging import reset_logging
from examples.config_service.app import create_app
from examples.config_service.tests.support import ALLOWED_ORIGIN, APPLICATIONS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI

    from agentifui_config import EnvironmentSettings
    from agentifui_config.testing.fixtures import SettingsFactory

pytestmark = pytest.mark.asyncio


# Values production accepts, for tests only.
_PRODUCTION_PASSWORD = "x7-Kq!long"  # noqa: S105
_PRODUCTION_SECRET_KEY = "production-grade-secret-key-4f8e2a9c7d1b"  # noqa: S105


@pytest.fixture
def production_settings(make_settings: SettingsFactory) -> EnvironmentSettings:
    """Settings production accepts; no database is reached with them."""
    return make_settings(
        environment="production",
        database=DatabaseConfig(
            host="db.internal",
            username="config_service",
            password=_PRODUCTION_PASSWORD,
            database="configs",
        ),
        secret_key=_PRODUCTION_SECRET_KEY,
        cors_origins=["https://config.example.com"],
        cors_allow_credentials=False,
    )


@pytest.fixture
def reset_logs() -> Iterator[None]:
    """Undo the logging configuration ``create_app()`` installs."""
    yield
    reset_logging()


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


class TestHealth:
    """agentifui-config's health endpoints, on the service."""

    async def test_health_reports_the_database(self, app_client: httpx.AsyncClient) -> None:
        """``/health`` answers 200 with a healthy database component."""
        response = await app_client.get("/health")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "healthy"
        database = next(c for c in body["components"] if c["name"] == "database")
        assert database["status"] == "healthy"
        assert database["details"]["connected"] is True

    @pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
    async def test_probes_answer(self, app_client: httpx.AsyncClient, path: str) -> None:
        """The liveness and readiness probes answer 200, never cached."""
        response = await app_client.get(path)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"


class TestCors:
    """CORS, from the settings."""

    async def test_allowed_origin_passes_the_preflight(self, app_client: httpx.AsyncClient) -> None:
        """A preflight from the configured origin is allowed, and says so."""
        response = await app_client.options(
            APPLICATIONS,
            headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN

    async def test_other_origin_is_refused(self, app_client: httpx.AsyncClient) -> None:
        """A preflight from an origin not in CORS_ORIGINS gets no allow-origin header."""
        response = await app_client.options(
            APPLICATIONS,
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers


class TestApiDocs:
    """/docs and /openapi.json, switched by environment and feature flag."""

    async def test_served_in_development(self, app_client: httpx.AsyncClient) -> None:
        """Outside production ``/docs`` and the OpenAPI schema, with ULID ids as strings, are up."""
        assert (await app_client.get("/docs")).status_code == 200
        schema = (await app_client.get("/openapi.json")).json()
        assert f"{APPLICATIONS}/{{application_id}}" in schema["paths"]
        ulid = schema["components"]["schemas"]["ApplicationOut"]["properties"]["id"]
        assert (ulid["type"], ulid["format"]) == ("string", "ulid")

    @pytest.mark.usefixtures("reset_logs")
    async def test_hidden_in_production(self, production_settings: EnvironmentSettings) -> None:
        """In production ``/docs`` and ``/openapi.json`` are not served."""
        async with _client(create_app(production_settings)) as client:
            assert (await client.get("/docs")).status_code == 404
            assert (await client.get("/openapi.json")).status_code == 404

    @pytest.mark.usefixtures("reset_logs")
    async def test_flag_serves_them_in_production(
        self, production_settings: EnvironmentSettings
    ) -> None:
        """``FEATURE_FLAGS=api_docs`` serves the API docs in production too."""
        settings = production_settings.model_copy(update={"feature_flags": {"api_docs": True}})
        async with _client(create_app(settings)) as client:
            assert (await client.get("/docs")).status_code == 200


@pytest.mark.usefixtures("reset_logs")
async def test_lifespan_reports_migrations_at_head(
    migrated_database: DatabaseConfig, settings: EnvironmentSettings
) -> None:
    """Started for real on the migrated database, the service is ready, migrations at head."""
    app = create_app(settings.model_copy(update={"database": migrated_database}))
    async with app.router.lifespan_context(app), _client(app) as client:
        health = (await client.get("/health")).json()
        listing = await client.get(APPLICATIONS)
    migrations = next(c for c in health["components"] if c["name"] == "migrations")
    assert (health["status"], migrations["details"]["state"]) == ("healthy", "up_to_date")
    assert listing.status_code == 200
