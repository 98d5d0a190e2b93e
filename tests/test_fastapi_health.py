"""Tests for the health endpoints of agentifui_config.fastapi, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from connection_support import POOL_KEYS
from fastapi import FastAPI

from agentifui_config import (
    ConfigurationError,
    ConnectionManager,
    DatabaseConfig,
    EnvironmentSettings,
    MigrationState,
    MigrationStatus,
    load_settings,
)
from agentifui_config.fastapi import DATABASE_STATE, create_lifespan, health_router

_IDENTIFYING = {"host", "port", "username", "database", "driver", "version"}


@pytest.fixture
def settings(database_config: DatabaseConfig) -> EnvironmentSettings:
    """Development settings for the run's database."""
    return load_settings(database=database_config)


def _app(
    settings: EnvironmentSettings | None,
    manager: ConnectionManager | None = None,
    **health: Any,
) -> FastAPI:
    lifespan = create_lifespan(settings, manager=manager) if settings is not None else None
    app = FastAPI(lifespan=lifespan)
    app.include_router(health_router(**{"cache_ttl": 0.0, **health}))
    return app


@contextlib.asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@contextlib.asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), _client(app) as client:
        yield client


def _manager(app: FastAPI) -> ConnectionManager:
    manager = getattr(app.state, DATABASE_STATE)
    assert isinstance(manager, ConnectionManager)
    return manager


def _component(body: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in body["components"] if c["name"] == name)
    return found


def _probe(state: MigrationState, delay: float = 0.0) -> Any:
    async def probe(manager: ConnectionManager) -> MigrationStatus:
        await asyncio.sleep(delay)
        error = "cannot read 10.0.0.5" if state is MigrationState.ERROR else None
        return MigrationStatus(
            state=state, current_revisions=("a1",), head_revisions=("b2",), error=error
        )

    return probe


@pytest.mark.asyncio
class TestLive:
    async def test_live_answers_before_startup(self) -> None:
        """Without a started lifespan, live is 200 while ready and the report say starting."""
        async with _client(_app(None)) as client:
            live = await client.get("/health/live")
            ready = await client.get("/health/ready")
            report = await client.get("/health")
        assert (live.status_code, live.json()) == (200, {"status": "healthy"})
        assert (ready.status_code, ready.json()["status"]) == (503, "starting")
        assert (report.status_code, report.json()["status"]) == (503, "starting")
        assert live.headers["cache-control"] == "no-store"

    async def test_live_never_touches_the_database(self, settings: EnvironmentSettings) -> None:
        """Live probes run no health check and check out no connection."""
        app = _app(settings)
        async with _serving(app) as client:
            before = _manager(app).get_metrics()
            for _ in range(20):
                assert (await client.get("/health/live")).status_code == 200
            after = _manager(app).get_metrics()
        assert after["health_checks"] == before["health_checks"]
        assert after["sessions_opened"] == before["sessions_opened"]

    async def test_missing_lifespan_is_explained_when_details_are_shown(self) -> None:
        """With details shown, the report says the lifespan is missing and how to add it."""
        async with _client(_app(None, expose_details=True)) as client:
            body = (await client.get("/health")).json()
        errors = _component(body, "database")["details"]["errors"]
        assert errors == [
            f"no connection manager on app.state.{DATABASE_STATE}: "
            "create the app with FastAPI(lifespan=create_lifespan())"
        ]


@pytest.mark.asyncio
class TestReport:
    async def test_healthy_report_lists_the_database_with_pool_numbers(
        self, settings: EnvironmentSettings
    ) -> None:
        """A healthy database answers 200 with its latency and the pool's numbers."""
        async with _serving(_app(settings)) as client:
            response = await client.get("/health")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "healthy"
        assert [c["name"] for c in body["components"]] == ["database"]
        database = _component(body, "database")
        assert database["status"] == "healthy"
        assert database["latency_ms"] > 0
        assert database["details"].keys() >= POOL_KEYS
        assert database["details"]["connected"] is True
        assert database["details"]["errors"] == []

    async def test_identifying_details_are_hidden_by_default(
        self, settings: EnvironmentSettings
    ) -> None:
        """Without expose_details the report names no host, user, database or version."""
        async with _serving(_app(settings)) as client:
            response = await client.get("/health")
        details = _component(response.json(), "database")["details"]
        assert not _IDENTIFYING & details.keys()
        database = settings.database
        for hidden in (database.host, database.username, database.database, "PostgreSQL"):
            assert hidden not in response.text

    async def test_identifying_details_are_shown_when_asked(
        self, settings: EnvironmentSettings
    ) -> None:
        """With expose_details the report names host, port, user, database and version."""
        async with _serving(_app(settings, expose_details=True)) as client:
            response = await client.get("/health")
        details = _component(response.json(), "database")["details"]
        database = settings.database
        assert details["host"] == database.host
        assert details["port"] == database.port
        assert details["username"] == database.username
        assert details["database"] == database.database
        assert details["version"].startswith("PostgreSQL")
        assert "password" not in response.text

    async def test_slow_database_is_degraded_but_ready(self, settings: EnvironmentSettings) -> None:
        """A database slower than the threshold is degraded, which still takes traffic."""
        app = _app(settings, ConnectionManager(slow_threshold_ms=0))
        async with _serving(app) as client:
            report = await client.get("/health")
            ready = await client.get("/health/ready")
        assert (report.status_code, report.json()["status"]) == (200, "degraded")
        assert (ready.status_code, ready.json()["status"]) == (200, "degraded")
        assert _component(report.json(), "database")["details"]["warnings"]

    async def test_after_shutdown_ready_says_starting(self, settings: EnvironmentSettings) -> None:
        """Once the lifespan has closed the pool, ready answers 503 again."""
        app = _app(settings)
        async with _serving(app) as client:
            assert (await client.get("/health/ready")).status_code == 200
        async with _client(app) as client:
            response = await client.get("/health/ready")
        assert (response.status_code, response.json()["status"]) == (503, "starting")


@pytest.mark.asyncio
class TestMigrations:
    @pytest.mark.parametrize(
        ("state", "component", "http_status"),
        [
            (MigrationState.UP_TO_DATE, "healthy", 200),
            (MigrationState.PENDING, "unhealthy", 503),
            (MigrationState.UNKNOWN_REVISION, "unhealthy", 503),
            (MigrationState.ERROR, "unhealthy", 503),
        ],
    )
    async def test_readiness_follows_the_migration_state(
        self,
        settings: EnvironmentSettings,
        state: MigrationState,
        component: str,
        http_status: int,
    ) -> None:
        """Pending, unknown or unreadable migrations make the service unready."""
        app = _app(settings, ConnectionManager(migration_probe=_probe(state)))
        async with _serving(app) as client:
            report = await client.get("/health")
            ready = await client.get("/health/ready")
        migrations = _component(report.json(), "migrations")
        assert migrations["status"] == component
        assert migrations["details"]["state"] == state.value
        # The database itself answered: its own component is healthy, with no error.
        database = _component(report.json(), "database")
        assert (database["status"], database["details"]["errors"]) == ("healthy", [])
        assert report.json()["status"] == ready.json()["status"] == component
        assert ready.status_code == report.status_code == http_status
        assert "10.0.0.5" not in report.text

    async def test_shown_migration_error_says_why(self, settings: EnvironmentSettings) -> None:
        """With details shown, a migration status that could not be read says why."""
        manager = ConnectionManager(migration_probe=_probe(MigrationState.ERROR))
        async with _serving(_app(settings, manager, expose_details=True)) as client:
            report = await client.get("/health")
        assert _component(report.json(), "migrations")["details"]["error"] == (
            "cannot read 10.0.0.5"
        )


@pytest.mark.asyncio
class TestProbeStorms:
    async def test_concurrent_probes_share_one_check(self, settings: EnvironmentSettings) -> None:
        """A burst of probes runs one database check, and the answer is reused within the TTL."""
        app = _app(settings, cache_ttl=60.0)
        async with _serving(app) as client:
            before = _manager(app).get_metrics()["health_checks"] or 0
            responses = await asyncio.gather(
                *(client.get(p) for _ in range(100) for p in ("/health", "/health/ready"))
            )
            await client.get("/health")
            checks = (_manager(app).get_metrics()["health_checks"] or 0) - before
        assert {r.status_code for r in responses} == {200}
        assert checks == 1

    async def test_without_cache_each_probe_checks(self, settings: EnvironmentSettings) -> None:
        """With cache_ttl=0 each sequential probe runs a fresh check."""
        app = _app(settings)
        async with _serving(app) as client:
            before = _manager(app).get_metrics()["health_checks"] or 0
            for _ in range(3):
                await client.get("/health/ready")
            checks = (_manager(app).get_metrics()["health_checks"] or 0) - before
        assert checks == 3

    async def test_abandoned_probe_does_not_cancel_the_shared_check(
        self, settings: EnvironmentSettings
    ) -> None:
        """A probe whose client gives up leaves the check running for the others."""
        slow = ConnectionManager(migration_probe=_probe(MigrationState.UP_TO_DATE, delay=0.3))
        app = _app(settings, slow)
        async with _serving(app) as client:
            abandoned = asyncio.ensure_future(client.get("/health/ready"))
            waiting = asyncio.ensure_future(client.get("/health/ready"))
            await asyncio.sleep(0.05)
            abandoned.cancel()
            response = await waiting
            with contextlib.suppress(asyncio.CancelledError):
                await abandoned
        assert response.status_code == 200


class TestArguments:
    @pytest.mark.parametrize("prefix", ["health", "/health/", ""])
    def test_bad_prefix_is_refused(self, prefix: str) -> None:
        """A prefix without a leading slash, or with a trailing one, is refused."""
        with pytest.raises(ConfigurationError, match="is not a path prefix"):
            health_router(prefix=prefix)

    @pytest.mark.parametrize(("timeout", "ttl"), [(0.0, 1.0), (1.0, -1.0)])
    def test_bad_budget_is_refused(self, timeout: float, ttl: float) -> None:
        """A timeout that is not positive or a negative cache time is refused."""
        with pytest.raises(ConfigurationError, match="the timeout must be positive"):
            health_router(timeout=timeout, cache_ttl=ttl)

    def test_endpoints_are_in_the_schema_unless_hidden(self) -> None:
        """The endpoints are listed in OpenAPI, under another prefix when asked, or not at all."""
        shown = FastAPI()
        shown.include_router(health_router(prefix="/status"))
        hidden = FastAPI()
        hidden.include_router(health_router(include_in_schema=False))
        assert set(shown.openapi()["paths"]) == {"/status", "/status/live", "/status/ready"}
        assert hidden.openapi().get("paths", {}) == {}
