"""Tests for the session dependencies of agentifui_config.fastapi, through the app on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, assert_type

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, HTTPException
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from agentifui_config import (
    ConnectionManager,
    DatabaseConfig,
    EnvironmentSettings,
    get_settings,
    load_settings,
)
from agentifui_config.fastapi import (
    DATABASE_STATE,
    ConnectionManagerDep,
    SessionDep,
    SettingsDep,
    TransactionDep,
    create_lifespan,
    setup,
)

pytestmark = pytest.mark.asyncio

_CLEANUP_WAIT = 5.0  # seconds a cancelled request's shielded clean-up gets to finish

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS fastapi_items (id serial PRIMARY KEY, name text NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS fastapi_parents (id int PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS fastapi_children (id serial PRIMARY KEY, parent_id int NOT NULL"
    " REFERENCES fastapi_parents (id) DEFERRABLE INITIALLY DEFERRED)",
)

_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_ASGI = Callable[[MutableMapping[str, Any], _Receive, _Send], Awaitable[None]]


@pytest_asyncio.fixture(scope="module")
async def schema(database_config: DatabaseConfig) -> DatabaseConfig:
    """The run's database with the tables these tests write to."""
    manager = ConnectionManager()
    await manager.initialize(database_config)
    try:
        async with manager.session() as session:
            for statement in _SCHEMA:
                await session.execute(text(statement))
            await session.commit()
    finally:
        await manager.dispose()
    return database_config


def _name() -> str:
    return f"item-{secrets.token_hex(6)}"


def _manager(app: FastAPI) -> ConnectionManager:
    manager = getattr(app.state, DATABASE_STATE)
    assert isinstance(manager, ConnectionManager)
    return manager


@contextlib.asynccontextmanager
async def _serving(app: FastAPI, asgi: _ASGI | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """Run *app*'s lifespan and yield a client that calls it (through *asgi* when given)."""
    transport = httpx.ASGITransport(app=asgi or app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


def _recording(app: FastAPI, starts: list[tuple[int, int]]) -> _ASGI:
    """Wrap *app* to record each response's status and the connections lent out as it starts."""

    async def recorded(scope: MutableMapping[str, Any], receive: _Receive, send: _Send) -> None:
        async def recording_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                starts.append((message["status"], _manager(app).connection_count))
            await send(message)

        await app(scope, receive, recording_send)

    return recorded


async def _stored(app: FastAPI, name: str) -> bool:
    async with _manager(app).session() as session:
        query = text("SELECT count(*) FROM fastapi_items WHERE name = :name")
        return bool((await session.execute(query, {"name": name})).scalar_one())


async def _until_released(manager: ConnectionManager) -> int:
    deadline = time.monotonic() + _CLEANUP_WAIT
    # Check-ins are pool events, not awaitables: a short poll bounds the wait.
    while manager.connection_count and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    return manager.connection_count


async def _until_checked_out(manager: ConnectionManager) -> None:
    deadline = time.monotonic() + _CLEANUP_WAIT
    while not manager.connection_count:
        assert time.monotonic() < deadline, "the handler never checked a connection out"
        await asyncio.sleep(0.01)


def _items_app(settings: EnvironmentSettings) -> FastAPI:
    """An app that writes items through both session dependencies."""
    app = FastAPI(lifespan=create_lifespan(settings))
    setup(app, settings)
    insert = text("INSERT INTO fastapi_items (name) VALUES (:name)")

    @app.post("/items/{name}")
    async def create(name: str, session: SessionDep) -> dict[str, str]:
        await session.execute(insert, {"name": name})
        await session.commit()
        return {"name": name}

    @app.post("/items/{name}/refused")
    async def create_then_refuse(name: str, session: SessionDep) -> None:
        await session.execute(insert, {"name": name})
        raise HTTPException(409, "refused")

    @app.post("/transactions/{name}")
    async def create_in_transaction(name: str, session: TransactionDep) -> dict[str, str]:
        await session.execute(insert, {"name": name})
        return {"name": name}

    @app.post("/transactions/{name}/crash")
    async def crash_in_transaction(name: str, session: TransactionDep) -> None:
        await session.execute(insert, {"name": name})
        raise RuntimeError("handler bug")

    @app.post("/orphans/{name}")
    async def orphan(name: str, session: TransactionDep) -> dict[str, str]:
        # The foreign key is deferred: the violation is found by COMMIT, after the handler.
        await session.execute(insert, {"name": name})
        await session.execute(text("INSERT INTO fastapi_children (parent_id) VALUES (-1)"))
        return {"name": name}

    @app.get("/untouched")
    async def untouched(session: SessionDep, manager: ConnectionManagerDep) -> dict[str, int]:
        assert_type(session, AsyncSession)
        return {"checked_out": manager.connection_count}

    @app.get("/transactions/untouched")
    async def untouched_transaction(
        session: TransactionDep, manager: ConnectionManagerDep
    ) -> dict[str, int]:
        return {"checked_out": manager.connection_count}

    @app.post("/transactions/{name}/self-committed")
    async def commit_in_transaction(name: str, session: TransactionDep) -> dict[str, str]:
        await session.execute(insert, {"name": name})
        await session.commit()
        return {"name": name}

    return app


@pytest.fixture
def app(schema: DatabaseConfig) -> FastAPI:
    """The items app on the run's database."""
    return _items_app(load_settings(database=schema))


class TestSessionDep:
    async def test_handler_commit_is_stored(self, app: FastAPI) -> None:
        """A handler that commits its session stores the row."""
        name = _name()
        async with _serving(app) as client:
            response = await client.post(f"/items/{name}")
            assert response.status_code == 200
            assert await _stored(app, name)

    async def test_failing_handler_is_rolled_back(self, app: FastAPI) -> None:
        """A handler that raises leaves nothing behind, and its connection goes back."""
        name = _name()
        async with _serving(app) as client:
            response = await client.post(f"/items/{name}/refused")
            assert response.status_code == 409
            assert not await _stored(app, name)
            assert _manager(app).connection_count == 0

    async def test_unused_session_checks_out_no_connection(self, app: FastAPI) -> None:
        """A handler that takes a session but never queries does not touch the pool."""
        async with _serving(app) as client:
            before = _manager(app).get_metrics()
            response = await client.get("/untouched")
            after = _manager(app).get_metrics()
        assert response.json() == {"checked_out": 0}
        assert after["sessions_opened"] == (before["sessions_opened"] or 0) + 1
        assert after["active_connections"] == before["active_connections"]

    async def test_connection_is_back_before_the_response_starts(self, app: FastAPI) -> None:
        """The session is closed when the handler returns, not after the client read the answer."""
        starts: list[tuple[int, int]] = []
        async with _serving(app, _recording(app, starts)) as client:
            await client.post(f"/items/{_name()}")
        assert starts == [(200, 0)]


class TestTransactionDep:
    async def test_success_is_committed(self, app: FastAPI) -> None:
        """A handler that returns normally has its writes committed without calling commit."""
        name = _name()
        async with _serving(app) as client:
            response = await client.post(f"/transactions/{name}")
            assert response.status_code == 200
            assert await _stored(app, name)

    async def test_unused_session_is_not_committed(self, app: FastAPI) -> None:
        """A handler that takes a transaction but never queries does not touch the pool."""
        async with _serving(app) as client:
            before = _manager(app).get_metrics()
            response = await client.get("/transactions/untouched")
            after = _manager(app).get_metrics()
        assert response.json() == {"checked_out": 0}
        assert after["active_connections"] == before["active_connections"]

    async def test_handler_may_commit_itself(self, app: FastAPI) -> None:
        """A handler that commits its transaction itself is not committed twice."""
        name = _name()
        async with _serving(app) as client:
            response = await client.post(f"/transactions/{name}/self-committed")
            assert response.status_code == 200
            assert await _stored(app, name)

    async def test_failure_is_rolled_back(self, app: FastAPI) -> None:
        """A handler that raises has its writes rolled back and answers 500."""
        name = _name()
        async with _serving(app) as client:
            response = await client.post(f"/transactions/{name}/crash")
            assert response.status_code == 500
            assert not await _stored(app, name)

    async def test_failed_commit_is_an_error_never_a_200(self, app: FastAPI) -> None:
        """A commit refused by the server answers 5xx before any 200 could start."""
        name = _name()
        starts: list[tuple[int, int]] = []
        async with _serving(app, _recording(app, starts)) as client:
            response = await client.post(f"/orphans/{name}")
            assert response.status_code == 500
            assert not await _stored(app, name)
        assert starts == [(500, 0)]


class TestPoolPressure:
    async def test_requests_wait_for_a_free_connection(self, schema: DatabaseConfig) -> None:
        """500 concurrent requests on a pool of 5 without overflow all succeed."""
        config = schema.model_copy(update={"pool_size": 5, "max_overflow": 0, "pool_timeout": 30})
        app = FastAPI(lifespan=create_lifespan(load_settings(database=config)))
        setup(app, load_settings(database=config))
        peak = 0

        @app.get("/work")
        async def work(session: SessionDep, manager: ConnectionManagerDep) -> dict[str, int]:
            nonlocal peak
            await session.execute(text("SELECT pg_sleep(0.002)"))
            peak = max(peak, manager.connection_count)
            return {"ok": 1}

        started = time.monotonic()
        async with _serving(app) as client:
            responses = await asyncio.gather(*(client.get("/work") for _ in range(500)))
            assert await _until_released(_manager(app)) == 0
        assert [r.status_code for r in responses] == [200] * 500
        assert peak == 5
        assert time.monotonic() - started < config.pool_timeout


class TestCancellation:
    @pytest.fixture
    def slow_app(self, schema: DatabaseConfig) -> FastAPI:
        """An app whose handlers hold a connection for a long time."""
        settings = load_settings(database=schema)
        app = FastAPI(lifespan=create_lifespan(settings))
        setup(app, settings)

        @app.get("/hold")
        async def hold(session: SessionDep) -> None:
            await session.execute(text("SELECT 1"))
            await asyncio.sleep(30)

        @app.get("/query")
        async def query(session: TransactionDep) -> None:
            await session.execute(text("SELECT pg_sleep(30)"))

        return app

    async def test_disconnected_client_gives_the_connection_back(self, slow_app: FastAPI) -> None:
        """A request whose client goes away mid-handler returns its connection to the pool."""
        async with _serving(slow_app) as client:
            manager = _manager(slow_app)
            request = asyncio.ensure_future(client.get("/hold"))
            await _until_checked_out(manager)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            assert await _until_released(manager) == 0

    async def test_timed_out_query_gives_the_connection_back(self, slow_app: FastAPI) -> None:
        """A request cancelled by a timeout in the middle of a query returns its connection."""
        async with _serving(slow_app) as client:
            manager = _manager(slow_app)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.get("/query"), timeout=0.5)
            assert await _until_released(manager) == 0
            response = await client.get("/health/ready")
            assert response.status_code == 200


class TestSettingsAndManager:
    async def test_dependencies_return_the_lifespan_objects(self, schema: DatabaseConfig) -> None:
        """SettingsDep and ConnectionManagerDep give the objects the lifespan stored."""
        settings = load_settings(database=schema)
        app = FastAPI(lifespan=create_lifespan(settings))
        seen: list[object] = []

        @app.get("/objects")
        async def objects(given: SettingsDep, manager: ConnectionManagerDep) -> None:
            assert_type(given, EnvironmentSettings)
            assert_type(manager, ConnectionManager)
            seen.extend([given, manager])

        async with _serving(app) as client:
            await client.get("/objects")
            assert seen == [settings, _manager(app)]

    async def test_settings_without_lifespan_are_the_process_settings(self) -> None:
        """Without the lifespan, SettingsDep falls back to the cached get_settings()."""
        app = FastAPI()
        seen: list[EnvironmentSettings] = []

        @app.get("/settings")
        async def read(given: SettingsDep) -> None:
            seen.append(given)

        async with _serving(app) as client:
            await client.get("/settings")
        assert seen == [get_settings()]
