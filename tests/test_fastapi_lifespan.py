"""Tests for create_lifespan of agentifui_config.fastapi: startup, the host's lifespan, shutdown."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import text

from agentifui_config import (
    ConfigurationError,
    ConnectionManager,
    DatabaseConfig,
    EnvironmentSettings,
    get_settings,
    load_settings,
)
from agentifui_config.connection import DatabaseUnavailableError
from agentifui_config.fastapi import (
    DATABASE_STATE,
    SETTINGS_STATE,
    create_lifespan,
    health_router,
)
from agentifui_config.migrations import MigrationError

_LOGGER = "agentifui_config.fastapi"
_MIGRATIONS = Path(__file__).parent / "migrations_sample"
_FAILING_REVISION = """
from alembic import op

revision = "f1"
down_revision = None


def upgrade() -> None:
    op.execute("SELECT 1 / 0")
"""


@pytest.fixture
def settings(database_config: DatabaseConfig) -> EnvironmentSettings:
    """Development settings for the run's database."""
    return load_settings(database=database_config)


@pytest.fixture
def bad_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An environment whose DB_PORT is refused, with the cached settings forgotten around it."""
    monkeypatch.setenv("DB_PORT", "not-a-port")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [getattr(r, "event_name", "") for r in caplog.records if r.name == _LOGGER]


def _manager(app: FastAPI) -> ConnectionManager:
    manager = getattr(app.state, DATABASE_STATE)
    assert isinstance(manager, ConnectionManager)
    return manager


async def _table_exists(manager: ConnectionManager, name: str) -> bool:
    async with manager.session() as session:
        found = await session.execute(text("SELECT to_regclass(:name)"), {"name": name})
        return found.scalar_one() is not None


@pytest.mark.asyncio
class TestStartup:
    async def test_settings_and_manager_live_on_app_state(
        self, settings: EnvironmentSettings
    ) -> None:
        """During the lifespan app.state holds the settings and an initialized manager."""
        app = FastAPI(lifespan=create_lifespan(settings))
        async with app.router.lifespan_context(app) as state:
            assert state is None
            assert getattr(app.state, SETTINGS_STATE) is settings
            manager = _manager(app)
            assert manager.is_initialized
            assert manager.config == settings.database
        assert not manager.is_initialized

    async def test_settings_are_loaded_at_startup(self, settings: EnvironmentSettings) -> None:
        """A settings function is called when the app starts, not when the lifespan is built."""
        calls: list[int] = []

        def load() -> EnvironmentSettings:
            calls.append(1)
            return settings

        app = FastAPI(lifespan=create_lifespan(load))
        assert calls == []
        async with app.router.lifespan_context(app):
            assert calls == [1]

    async def test_given_manager_is_initialized_and_disposed(
        self, settings: EnvironmentSettings
    ) -> None:
        """A manager passed in is the one stored, started and shut down."""
        manager = ConnectionManager(slow_threshold_ms=250)
        app = FastAPI(lifespan=create_lifespan(settings, manager=manager))
        async with app.router.lifespan_context(app):
            assert _manager(app) is manager
            assert manager.is_initialized
        assert not manager.is_initialized

    async def test_startup_is_logged(
        self, settings: EnvironmentSettings, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Startup and shutdown each log one line, with the URL's password masked."""
        app = FastAPI(lifespan=create_lifespan(settings))
        with caplog.at_level(logging.INFO, _LOGGER):
            async with app.router.lifespan_context(app):
                pass
        assert _events(caplog) == ["database_ready", "database_disposed"]


@pytest.mark.asyncio
class TestHostLifespan:
    async def test_host_lifespan_runs_inside_with_the_database(
        self, settings: EnvironmentSettings
    ) -> None:
        """The host's startup and shutdown code run while the database is available."""
        seen: list[tuple[str, bool]] = []

        @contextlib.asynccontextmanager
        async def host(app: FastAPI) -> AsyncIterator[None]:
            seen.append(("startup", _manager(app).is_initialized))
            yield
            seen.append(("shutdown", _manager(app).is_initialized))

        app = FastAPI(lifespan=create_lifespan(settings, lifespan=host))
        async with app.router.lifespan_context(app) as state:
            assert state is None
        assert seen == [("startup", True), ("shutdown", True)]

    async def test_host_state_is_passed_on(self, settings: EnvironmentSettings) -> None:
        """A state mapping yielded by the host's lifespan is yielded on to the server."""

        @contextlib.asynccontextmanager
        async def host(app: FastAPI) -> AsyncIterator[Mapping[str, Any]]:
            yield {"greeting": "hello"}

        app = FastAPI(lifespan=create_lifespan(settings, lifespan=host))
        async with app.router.lifespan_context(app) as state:
            assert state == {"greeting": "hello"}

    async def test_host_startup_failure_closes_the_pool(
        self, settings: EnvironmentSettings
    ) -> None:
        """When the host's startup fails, the pool opened before it is disposed."""
        manager = ConnectionManager()
        fail = True

        @contextlib.asynccontextmanager
        async def host(app: FastAPI) -> AsyncIterator[None]:
            if fail:
                raise RuntimeError("host startup failed")
            yield  # pragma: no cover - never reached

        app = FastAPI(lifespan=create_lifespan(settings, lifespan=host, manager=manager))
        with pytest.raises(RuntimeError, match="host startup failed"):
            async with app.router.lifespan_context(app):
                pass  # pragma: no cover - never reached
        assert not manager.is_initialized


@pytest.mark.asyncio
class TestStartupRefused:
    @pytest.mark.usefixtures("bad_environment")
    async def test_bad_configuration_stops_startup_with_the_report(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A refused environment stops the start with the report, logged once."""
        app = FastAPI(lifespan=create_lifespan())
        with (
            caplog.at_level(logging.ERROR, _LOGGER),
            pytest.raises(ConfigurationError, match="DB_PORT: expected a whole number"),
        ):
            async with app.router.lifespan_context(app):
                pass  # pragma: no cover - never reached
        assert _events(caplog) == ["configuration_refused"]
        assert "DB_PORT" in caplog.records[-1].variables  # type: ignore[attr-defined]
        assert "DB_PORT: expected a whole number" in caplog.text

    @pytest.mark.usefixtures("bad_environment")
    async def test_server_receives_the_report(self) -> None:
        """Through the ASGI lifespan protocol, the server is told startup failed and why."""
        app = FastAPI(lifespan=create_lifespan())
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> MutableMapping[str, Any]:
            return {"type": "lifespan.startup"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        with pytest.raises(ConfigurationError):
            await app(scope, receive, send)
        assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
        assert "DB_PORT: expected a whole number" in sent[0]["message"]

    async def test_unreachable_database_stops_startup(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A database that does not answer stops the start, naming where it was looked for."""
        nowhere = DatabaseConfig(host="127.0.0.1", port=1, password="pw-never-shown-8d2e")
        app = FastAPI(lifespan=create_lifespan(load_settings(database=nowhere)))
        with (
            caplog.at_level(logging.ERROR, _LOGGER),
            pytest.raises(DatabaseUnavailableError, match=r"127\.0\.0\.1:1"),
        ):
            async with app.router.lifespan_context(app):
                pass  # pragma: no cover - never reached
        assert _events(caplog) == ["database_unavailable"]
        assert "pw-never-shown-8d2e" not in caplog.text

    async def test_unreadable_migrations_stop_startup(
        self,
        settings: EnvironmentSettings,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A migrations path that holds no Alembic configuration stops the start."""
        app = FastAPI(lifespan=create_lifespan(settings, migrations=tmp_path / "missing"))
        with caplog.at_level(logging.ERROR, _LOGGER), pytest.raises(MigrationError):
            async with app.router.lifespan_context(app):
                pass  # pragma: no cover - never reached
        assert _events(caplog) == ["migrations_failed"]


class TestArguments:
    def test_run_migrations_needs_migrations(self) -> None:
        """Asking to run migrations without saying which is refused when the lifespan is built."""
        with pytest.raises(ConfigurationError, match="run_migrations: is set"):
            create_lifespan(run_migrations=True)


@pytest.mark.asyncio
class TestMigrations:
    async def test_run_migrations_upgrades_before_traffic(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """With run_migrations the schema is at head when the app starts, and it is ready."""
        lifespan = create_lifespan(
            load_settings(database=fresh_database), migrations=_MIGRATIONS, run_migrations=True
        )
        app = FastAPI(lifespan=lifespan)
        app.include_router(health_router())
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            assert await _table_exists(_manager(app), "items")
            response = await client.get("/health")
        assert response.status_code == 200
        migrations = response.json()["components"][1]
        assert migrations["name"] == "migrations"
        assert migrations["details"]["state"] == "up_to_date"

    async def test_failing_migration_stops_startup_and_closes_the_pool(
        self, fresh_database: DatabaseConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A revision that fails stops the start, is logged, and the pool is closed again."""
        (tmp_path / "versions").mkdir()
        (tmp_path / "env.py").write_text(
            "from agentifui_config.migrations import run_migrations\nrun_migrations()\n"
        )
        (tmp_path / "versions" / "f1_fails.py").write_text(_FAILING_REVISION)
        manager = ConnectionManager()
        lifespan = create_lifespan(
            load_settings(database=fresh_database),
            manager=manager,
            migrations=tmp_path,
            run_migrations=True,
        )
        app = FastAPI(lifespan=lifespan)
        with caplog.at_level(logging.ERROR, _LOGGER), pytest.raises(Exception, match="1 / 0"):
            async with app.router.lifespan_context(app):
                pass  # pragma: no cover - never reached
        assert not manager.is_initialized
        assert _events(caplog) == ["migrations_failed"]
        assert "division by zero" in caplog.text

    async def test_refused_upgrade_is_logged_with_its_report(
        self, fresh_database: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An upgrade Alembic refuses (two heads) stops the start with the migration report."""
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(_MIGRATIONS / "branched"))
        lifespan = create_lifespan(
            load_settings(database=fresh_database), migrations=config, run_migrations=True
        )
        app = FastAPI(lifespan=lifespan)
        with (
            caplog.at_level(logging.ERROR, _LOGGER),
            pytest.raises(MigrationError, match="Multiple head"),
        ):
            async with app.router.lifespan_context(app):
                pass  # pragma: no cover - never reached
        assert _events(caplog) == ["migrations_failed"]

    async def test_pending_migrations_keep_the_app_unready(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """Without run_migrations, an unmigrated database makes readiness 503."""
        lifespan = create_lifespan(load_settings(database=fresh_database), migrations=_MIGRATIONS)
        app = FastAPI(lifespan=lifespan)
        app.include_router(health_router())
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            response = await client.get("/health/ready")
        assert (response.status_code, response.json()["status"]) == (503, "unhealthy")
