"""Tests for app_client and agentifui_app of agentifui_config.testing.plugin, on a FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from plugin_support import NOTES_APP, NOTES_MODELS, InnerSuite
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from agentifui_config import ConnectionManager
from agentifui_config.fastapi import (
    DATABASE_STATE,
    get_connection_manager,
    get_read_session,
    get_session,
    get_transactional_session,
)
from agentifui_config.testing.sessions import client_for, rolled_back_session

if TYPE_CHECKING:
    from agentifui_config.testing.postgres import PostgresServer


@pytest.fixture
def inner(
    pytester: pytest.Pytester, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> InnerSuite:
    """An inner project with the notes app, its models created with create_all."""
    suite = InnerSuite.on(pytester, monkeypatch, postgres_server)
    suite.ini("agentifui_metadata = notes_models:Base.metadata")
    suite.files(notes_models=NOTES_MODELS, notes_app=NOTES_APP)
    suite.pytester.makeconftest(
        "import pytest\n\n"
        "@pytest.fixture\n"
        "def agentifui_app():\n"
        "    from notes_app import app\n"
        "    return app\n"
    )
    return suite


_CLIENT = """
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from agentifui_config.fastapi import DATABASE_STATE, get_session
from notes_app import app
from notes_models import Note


@pytest.mark.asyncio
async def test_request_writes_what_the_test_sees(app_client, db_session):
    created = await app_client.post("/notes", json={"text": "hello"})
    assert created.status_code == 201
    assert (await db_session.scalars(select(Note.text))).all() == ["hello"]


@pytest.mark.asyncio
async def test_test_writes_what_the_request_sees(app_client, db_session):
    db_session.add(Note(text="seeded"))
    await db_session.flush()
    assert (await app_client.get("/notes")).json() == ["seeded"]


@pytest.mark.asyncio
async def test_handler_commit_does_not_survive(app_client, db_session):
    assert (await app_client.post("/notes/committed", json={"text": "c"})).status_code == 201
    assert (await app_client.get("/notes")).json() == ["c"]


@pytest.mark.asyncio
async def test_nothing_survived(app_client):
    assert (await app_client.get("/notes")).json() == []


@pytest.mark.asyncio
async def test_failed_request_is_rolled_back(app_client):
    await app_client.post("/notes", json={"text": "kept"})
    assert (await app_client.post("/notes/refused", json={"text": "lost"})).status_code == 409
    assert (await app_client.get("/notes")).json() == ["kept"]


@pytest.mark.asyncio
async def test_failed_request_keeps_what_the_test_wrote(app_client, db_session):
    db_session.add(Note(text="seeded"))
    await db_session.flush()
    assert (await app_client.post("/notes/refused", json={"text": "lost"})).status_code == 409
    assert (await db_session.scalars(select(Note.text))).all() == ["seeded"]


@pytest.mark.asyncio
async def test_failed_flush_keeps_what_the_test_wrote(app_client, db_session):
    db_session.add(Note(id=1, text="seeded"))
    await db_session.flush()
    with pytest.raises(IntegrityError):
        await app_client.post("/notes/by-id/1", json={"text": "duplicate"})
    assert (await db_session.scalars(select(Note.text))).all() == ["seeded"]


@pytest.mark.asyncio
async def test_uncommitted_request_work_is_discarded(app_client, db_session):
    assert (await app_client.post("/notes/uncommitted", json={"text": "u"})).status_code == 202
    assert (await db_session.scalars(select(Note.text))).all() == []


@pytest.mark.asyncio
async def test_health_sees_the_manager(app_client, connection_manager):
    response = await app_client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert getattr(app.state, DATABASE_STATE) is connection_manager


def test_overrides_are_removed_after_the_test():
    assert get_session not in app.dependency_overrides
    assert not hasattr(app.state, DATABASE_STATE)
"""


class TestAppClient:
    def test_requests_share_the_rolled_back_session(self, inner: InnerSuite) -> None:
        """Requests and test share one session; commits and failures behave; nothing survives."""
        inner.files(test_client=_CLIENT)
        inner.run().assert_outcomes(passed=10)

    def test_app_must_be_given(self, inner: InnerSuite) -> None:
        """Without an agentifui_app fixture, app_client fails saying how to give the app."""
        inner.pytester.makeconftest("")
        inner.files(
            test_client=(
                "import pytest\n\n@pytest.mark.asyncio\nasync def test_x(app_client):\n    pass\n"
            )
        )
        result = inner.run()
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*define a fixture named agentifui_app in conftest.py*"])


async def _handler() -> dict[str, str]:
    return {"ok": "yes"}


def _app() -> FastAPI:
    app = FastAPI()
    app.add_api_route("/", _handler)
    return app


class TestClientFor:
    @pytest.mark.asyncio
    async def test_restores_earlier_overrides_and_state(self) -> None:
        """Overrides and app.state the app had before are back after the client closes."""
        app = _app()

        async def earlier() -> AsyncIterator[AsyncSession]:
            yield AsyncSession()

        app.dependency_overrides[get_session] = earlier
        setattr(app.state, DATABASE_STATE, "earlier")
        manager = ConnectionManager()
        async with client_for(app, AsyncSession(), manager) as client:
            assert (await client.get("/")).json() == {"ok": "yes"}
            assert app.dependency_overrides[get_session] is not earlier
            assert app.dependency_overrides[get_connection_manager]() is manager
            assert getattr(app.state, DATABASE_STATE) is manager
        assert app.dependency_overrides == {get_session: earlier}
        assert getattr(app.state, DATABASE_STATE) == "earlier"

    @pytest.mark.asyncio
    async def test_read_sessions_see_the_test_rows(
        self, connection_manager: ConnectionManager
    ) -> None:
        """ReadSessionDep yields the test's session too: a replica would not see its rows."""
        app = _app()
        async with (
            rolled_back_session(connection_manager.engine) as session,
            client_for(app, session),
        ):
            request = app.dependency_overrides[get_read_session]()
            assert await request.__anext__() is session
            await request.aclose()

    @pytest.mark.asyncio
    async def test_without_manager_leaves_the_manager_alone(self) -> None:
        """Without a manager, get_connection_manager and app.state are not touched."""
        app = _app()
        async with client_for(app, AsyncSession()):
            assert get_connection_manager not in app.dependency_overrides
            assert not hasattr(app.state, DATABASE_STATE)

    @pytest.mark.asyncio
    async def test_overrides_undo_what_a_request_does_not_commit(
        self, connection_manager: ConnectionManager
    ) -> None:
        """Both stand-ins yield the one session; only what a request commits outlives it."""
        app = _app()
        count = text("SELECT count(*) FROM seen")
        async with rolled_back_session(connection_manager.engine) as session:
            await session.execute(text("CREATE TABLE seen (n int)"))
            await session.execute(text("INSERT INTO seen VALUES (0)"))  # the test's own row
            async with client_for(app, session):
                for dependency in (get_session, get_transactional_session):
                    for end in ("aclose", "athrow"):
                        request = app.dependency_overrides[dependency]()
                        assert await request.__anext__() is session
                        await session.execute(text("INSERT INTO seen VALUES (1)"))
                        if end == "aclose":
                            await request.aclose()
                        else:
                            with pytest.raises(RuntimeError, match="handler"):
                                await request.athrow(RuntimeError("handler"))
                        assert await session.scalar(count) == 1, (dependency, end)
                committed = app.dependency_overrides[get_transactional_session]()
                await committed.__anext__()
                await session.execute(text("INSERT INTO seen VALUES (2)"))
                with pytest.raises(StopAsyncIteration):
                    await committed.__anext__()
                assert await session.scalar(count) == 2
                handled = app.dependency_overrides[get_session]()
                await handled.__anext__()
                await session.execute(text("INSERT INTO seen VALUES (3)"))
                await session.commit()  # the handler's own commit
                await session.execute(text("INSERT INTO seen VALUES (4)"))
                with pytest.raises(StopAsyncIteration):
                    await handled.__anext__()
                assert await session.scalar(count) == 3
