"""Tests for agentifui_config.fastapi while the database is gone: probes, requests, recovery."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from connection_support import Proxy, proxy_to
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text

from agentifui_config import (
    ConnectionManager,
    DatabaseConfig,
    MigrationState,
    MigrationStatus,
    load_settings,
)
from agentifui_config.fastapi import (
    PROBLEM_MEDIA_TYPE,
    SessionDep,
    add_exception_handlers,
    create_lifespan,
    health_router,
)

pytestmark = pytest.mark.asyncio

_LOGGER = "agentifui_config.fastapi"
# The test servers trust local connections, so a password is accepted and never checked:
# it is there to prove that it never shows up.
_PASSWORD = "pw-Visible-Only-To-Postgres-4f1c"


@contextlib.asynccontextmanager
async def _proxied(config: DatabaseConfig) -> AsyncIterator[tuple[Proxy, DatabaseConfig]]:
    """A proxy to *config*'s server and the configuration that goes through it."""
    async with proxy_to(config) as proxy:
        update = {"host": "127.0.0.1", "port": proxy.port, "password": SecretStr(_PASSWORD)}
        yield proxy, config.model_copy(update=update)


@contextlib.asynccontextmanager
async def _serving(
    config: DatabaseConfig, manager: ConnectionManager | None = None, **health: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An app on *config* with uncached health endpoints and a route that queries."""
    app = FastAPI(lifespan=create_lifespan(load_settings(database=config), manager=manager))
    app.include_router(health_router(cache_ttl=0.0, **health))
    add_exception_handlers(app)

    @app.get("/query")
    async def query(session: SessionDep) -> dict[str, int]:
        value = (await session.execute(text("SELECT 1 + :one"), {"one": 1})).scalar_one()
        return {"value": value}

    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


def _database(response: httpx.Response) -> dict[str, Any]:
    component: dict[str, Any] = response.json()["components"][0]
    assert component["name"] == "database"
    return component


class TestDatabaseStopped:
    async def test_live_stays_up_while_ready_goes_down_and_back(
        self, database_config: DatabaseConfig
    ) -> None:
        """While the database is gone live is 200, ready and the report 503; then all recover."""
        async with _proxied(database_config) as (proxy, config), _serving(config) as client:
            assert (await client.get("/health/ready")).status_code == 200
            proxy.refuse()
            live = await client.get("/health/live")
            ready = await client.get("/health/ready")
            report = await client.get("/health")
            await proxy.restore()
            recovered = await client.get("/health/ready")
        assert live.status_code == 200
        assert (ready.status_code, ready.json()["status"]) == (503, "unhealthy")
        assert (report.status_code, report.json()["status"]) == (503, "unhealthy")
        database = _database(report)
        assert database["details"]["connected"] is False
        assert database["details"]["errors"] == ["the database check failed"]
        assert "127.0.0.1" not in report.text
        assert recovered.status_code == 200

    async def test_migrations_are_unknown_while_the_database_is_gone(
        self, database_config: DatabaseConfig
    ) -> None:
        """The migrations component shares the database's status when it cannot be checked."""

        async def up_to_date(manager: ConnectionManager) -> MigrationStatus:
            return MigrationStatus(state=MigrationState.UP_TO_DATE)

        manager = ConnectionManager(migration_probe=up_to_date)
        async with _proxied(database_config) as (proxy, config), _serving(config, manager) as c:
            healthy = await c.get("/health")
            proxy.refuse()
            gone = await c.get("/health")
        assert healthy.json()["components"][1]["details"]["state"] == "up_to_date"
        assert gone.json()["components"][1] == {
            "name": "migrations",
            "status": "unhealthy",
            "latency_ms": None,
            "details": {},
        }

    async def test_shown_errors_never_hold_the_password(
        self, database_config: DatabaseConfig
    ) -> None:
        """With details shown, the report says why the database failed, without the password."""
        async with (
            _proxied(database_config) as (proxy, config),
            _serving(config, expose_details=True) as client,
        ):
            proxy.refuse()
            report = await client.get("/health")
        errors = _database(report)["details"]["errors"]
        assert len(errors) == 1
        assert errors[0]
        assert _PASSWORD not in report.text

    async def test_request_is_503_and_logged_then_recovers(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A query while the database is gone answers 503 problem details; once back, 200."""
        async with _proxied(database_config) as (proxy, config), _serving(config) as client:
            assert (await client.get("/query")).status_code == 200
            proxy.refuse()
            with caplog.at_level(logging.ERROR, _LOGGER):
                response = await client.get("/query?token=abc123")
            await proxy.restore()
            recovered = await client.get("/query")
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json() == {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "The database is unavailable; try again later.",
            "instance": "/query",
        }
        records = [r for r in caplog.records if r.name == _LOGGER]
        assert [getattr(r, "event_name", None) for r in records] == ["database_unavailable"]
        assert records[0].exc_info is not None
        assert _PASSWORD not in caplog.text
        assert recovered.json() == {"value": 2}
