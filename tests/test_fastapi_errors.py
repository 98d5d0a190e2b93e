"""Tests for the database error handlers of agentifui_config.fastapi: 503 problem details."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, MutableMapping
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy.exc
from fastapi import FastAPI
from sqlalchemy import text
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket

from agentifui_config import ConnectionManager, DatabaseConfig, load_settings
from agentifui_config.fastapi import (
    DATABASE_STATE,
    PROBLEM_MEDIA_TYPE,
    SessionDep,
    add_exception_handlers,
    create_lifespan,
    setup,
)

if TYPE_CHECKING:
    from starlette.requests import Request

pytestmark = pytest.mark.asyncio

_PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}
_LOGGER = "agentifui_config.fastapi"


@contextlib.asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


def _app(config: DatabaseConfig) -> FastAPI:
    settings = load_settings(database=config)
    app = FastAPI(lifespan=create_lifespan(settings))
    setup(app, settings)

    @app.get("/query")
    async def query(session: SessionDep) -> dict[str, int]:
        value = (await session.execute(text("SELECT 1 + :one"), {"one": 1})).scalar_one()
        return {"value": value}

    @app.get("/hold")
    async def hold(session: SessionDep) -> None:
        await session.execute(text("SELECT 1"))
        await asyncio.sleep(30)

    @app.get("/slow")
    async def slow(session: SessionDep) -> None:
        await session.execute(text("SELECT pg_sleep(5)"))

    @app.get("/timeout")
    async def timeout(session: SessionDep) -> None:
        await session.execute(text("SELECT 1"))
        async with asyncio.timeout(0.01):  # around a call to another service
            await asyncio.sleep(1)

    @app.get("/raise/{sqlstate}")
    async def raise_sqlstate(session: SessionDep, sqlstate: str) -> None:
        # The server itself answers with the SQLSTATE, through asyncpg and SQLAlchemy.
        await session.execute(
            text(f"DO $$ BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = '{sqlstate}'; END $$")
        )

    @app.get("/terminate")
    async def terminate(session: SessionDep) -> None:
        await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    @app.get("/divide")
    async def divide(session: SessionDep) -> None:
        await session.execute(text("SELECT * FROM (VALUES (1)) AS t (x) WHERE 1 / 0 = 1"))

    return app


def _assert_problem(response: httpx.Response, path: str, detail: str) -> dict[str, Any]:
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert set(body) == _PROBLEM_KEYS
    assert body["type"] == "about:blank"
    assert body["title"] == "Service Unavailable"
    assert body["status"] == 503
    assert body["instance"] == path
    assert detail in body["detail"]
    for leak in ("SELECT", "pg_sleep", "127.0.0.1", "postgres", "[SQL", "parameters"):
        assert leak not in response.text
    return body


def _events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [getattr(r, "event_name", "") for r in caplog.records if r.name == _LOGGER]


class TestNoDatabase:
    async def test_no_lifespan_is_503(self, caplog: pytest.LogCaptureFixture) -> None:
        """A session asked of an app without the lifespan answers 503 and logs why."""
        app = FastAPI()
        add_exception_handlers(app)

        @app.get("/query")
        async def query(session: SessionDep) -> None:
            raise AssertionError("unreachable")

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with caplog.at_level(logging.ERROR, _LOGGER):
                response = await client.get("/query")
        _assert_problem(response, "/query", "database is unavailable")
        assert "FastAPI(lifespan=create_lifespan())" in caplog.text


class TestTimeouts:
    async def test_exhausted_pool_is_503(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A request that finds no free connection within the pool timeout answers 503."""
        config = database_config.model_copy(
            update={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2}
        )
        app = _app(config)
        async with _serving(app) as client:
            manager: ConnectionManager = getattr(app.state, DATABASE_STATE)
            holder = asyncio.ensure_future(client.get("/hold"))
            deadline = time.monotonic() + 5
            while not manager.connection_count and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            with caplog.at_level(logging.WARNING, _LOGGER):
                response = await client.get("/query")
            holder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await holder
        _assert_problem(response, "/query", "No database connection became free")
        assert _events(caplog) == ["database_pool_exhausted"]

    @pytest.mark.parametrize("setting", ["statement_timeout", "command_timeout"])
    async def test_database_timeout_is_503(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture, setting: str
    ) -> None:
        """A statement the server cancels, or the driver's own command timeout, answers 503."""
        app = _app(database_config.model_copy(update={setting: 0.1}))
        async with _serving(app) as client:
            with caplog.at_level(logging.WARNING, _LOGGER):
                response = await client.get("/slow")
        _assert_problem(response, "/slow", "did not answer in time")
        assert _events(caplog) == ["database_timeout"]

    async def test_timeout_of_the_app_itself_is_left_to_it(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The app's own asyncio.timeout, even in a handler with a session, is no database 503."""
        async with _serving(_app(database_config)) as client:
            with caplog.at_level(logging.WARNING, _LOGGER):
                response = await client.get("/timeout")
        assert response.status_code == 500
        assert "did not answer in time" not in response.text
        assert _events(caplog) == []

    async def test_retry_after_is_sent_when_asked(self) -> None:
        """add_exception_handlers(retry_after=...) adds the Retry-After header."""
        app = FastAPI()
        add_exception_handlers(app, retry_after=3)

        @app.get("/pool")
        async def pool() -> None:
            raise sqlalchemy.exc.TimeoutError("QueuePool limit reached")

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/pool")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "3"


class TestSqlstates:
    @pytest.mark.parametrize(
        ("sqlstate", "status"),
        [
            ("08006", 503),  # connection_failure
            ("53300", 503),  # too_many_connections
            ("57P01", 503),  # admin_shutdown
            ("57P03", 503),  # cannot_connect_now
            ("57014", 503),  # query_canceled
            ("23505", 500),  # unique_violation: the application's to handle
            ("40001", 500),  # serialization_failure: the application's to retry
            ("P0001", 500),  # raise_exception
        ],
    )
    async def test_sqlstate_decides(
        self, database_config: DatabaseConfig, sqlstate: str, status: int
    ) -> None:
        """A server error is a 503 only when its SQLSTATE says the server cannot serve now."""
        async with _serving(_app(database_config)) as client:
            response = await client.get(f"/raise/{sqlstate}")
        assert response.status_code == status
        assert "refused" not in response.text

    async def test_terminated_connection_is_503(self, database_config: DatabaseConfig) -> None:
        """A connection the server closes in the middle of a request answers 503."""
        async with _serving(_app(database_config)) as client:
            response = await client.get("/terminate")
        _assert_problem(response, "/terminate", "The database is unavailable")


class TestOtherErrors:
    async def test_sql_errors_are_left_to_the_app(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A database error that is not about availability stays a plain 500."""
        async with _serving(_app(database_config)) as client:
            with caplog.at_level(logging.WARNING, _LOGGER):
                response = await client.get("/divide")
        assert response.status_code == 500
        assert response.headers["content-type"] != PROBLEM_MEDIA_TYPE
        assert "SELECT" not in response.text
        assert _events(caplog) == []

    async def test_connection_errors_of_the_app_itself_are_left_to_it(self) -> None:
        """An OSError that did not come from the database driver stays a plain 500."""
        app = FastAPI()
        add_exception_handlers(app)

        @app.get("/upstream")
        async def upstream() -> None:
            raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.9', 443)")

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/upstream")
        assert response.status_code == 500
        assert "10.0.0.9" not in response.text

    async def test_app_handler_for_a_subclass_wins(self) -> None:
        """An app's own handler for a more specific exception takes precedence."""
        app = FastAPI()
        add_exception_handlers(app)

        class Upstream(TimeoutError):
            pass

        async def teapot(request: Request, exc: Exception) -> Response:
            return PlainTextResponse("mine", 418)

        app.add_exception_handler(Upstream, teapot)

        @app.get("/upstream")
        async def upstream() -> None:
            raise Upstream

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/upstream")
        assert response.status_code == 418

    @pytest.mark.parametrize("kind", ["async", "sync"])
    async def test_app_handler_for_a_base_class_still_gets_the_rest(
        self, database_config: DatabaseConfig, kind: str
    ) -> None:
        """The app's handler for SQLAlchemyError answers a unique violation; an outage stays 503."""
        app = _app(database_config)

        async def conflict(request: Request, exc: Exception) -> Response:
            return PlainTextResponse(type(exc).__name__, 409)

        def conflict_sync(request: Request, exc: Exception) -> Response:
            return PlainTextResponse(type(exc).__name__, 409)

        handler = conflict if kind == "async" else conflict_sync
        app.add_exception_handler(sqlalchemy.exc.SQLAlchemyError, handler)

        @app.get("/duplicate")
        async def duplicate(session: SessionDep) -> None:
            await session.execute(text("CREATE TEMPORARY TABLE once (id int PRIMARY KEY)"))
            await session.execute(text("INSERT INTO once VALUES (1), (1)"))

        @app.get("/pool")
        async def pool() -> None:
            raise sqlalchemy.exc.TimeoutError("QueuePool limit reached")

        async with _serving(app) as client:
            response = await client.get("/duplicate")
            assert (response.status_code, response.text) == (409, "IntegrityError")
            _assert_problem(await client.get("/pool"), "/pool", "No database connection")

    async def test_app_handler_registered_before_is_kept(self) -> None:
        """add_exception_handlers() does not replace a handler the app already has."""
        app = FastAPI()

        async def teapot(request: Request, exc: Exception) -> Response:
            return PlainTextResponse("mine", 418)

        app.add_exception_handler(OSError, teapot)
        add_exception_handlers(app)

        @app.get("/refused")
        async def refused() -> None:
            raise ConnectionRefusedError

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/refused")
        assert response.status_code == 418
        assert app.exception_handlers[OSError] is teapot

    async def test_websocket_is_closed_try_again_later(self) -> None:
        """On a WebSocket the handler closes the socket with code 1013 instead of answering."""
        app = FastAPI()
        add_exception_handlers(app)
        handler = app.exception_handlers[sqlalchemy.exc.TimeoutError]
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> MutableMapping[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
        websocket = WebSocket(scope, receive, send)
        pool_timeout = sqlalchemy.exc.TimeoutError()
        assert await handler(websocket, pool_timeout) is None  # type: ignore[arg-type,misc]
        assert sent == [{"type": "websocket.close", "code": 1013, "reason": "database unavailable"}]
