"""Tests for app_client and agentifui_app of agentifui_config.testing.plugin, on a FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from plugin_support import NOTES_APP, NOTES_MODELS, InnerSuite
from sqlalchemy.ext.asyncio import AsyncSession

from agentifui_config import ConnectionManager
from agentifui_config.fastapi import (
    DATABASE_STATE,
    get_connection_manager,
    get_session,
    get_transactional_session,
)
from agentifui_config.testing.sessions import client_for

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
        inner.run().assert_outcomes(passed=7)

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
    async def test_without_manager_leaves_the_manager_alone(self) -> None:
        """Without a manager, get_connection_manager and app.state are not touched."""
        app = _app()
        async with client_for(app, AsyncSession()):
            assert get_connection_manager not in app.dependency_overrides
            assert not hasattr(app.state, DATABASE_STATE)

    @pytest.mark.asyncio
    async def test_overrides_yield_the_session_and_roll_back_on_error(self) -> None:
        """Both stand-ins yield the one session; an error rolls it back, a close does not."""
        app, session = _app(), AsyncSession()
        rollbacks = []

        async def rollback() -> None:
            rollbacks.append(1)

        session.rollback = rollback  # type: ignore[method-assign]
        async with client_for(app, session):
            for dependency in (get_session, get_transactional_session):
                closed = app.dependency_overrides[dependency]()
                assert await closed.__anext__() is session
                await closed.aclose()
                failed = app.dependency_overrides[dependency]()
                await failed.__anext__()
                with pytest.raises(RuntimeError, match="handler"):
                    await failed.athrow(RuntimeError("handler"))
            finished = app.dependency_overrides[get_transactional_session]()
            await finished.__anext__()
            with pytest.raises(StopAsyncIteration):
                await finished.__anext__()  # nothing begun: nothing to commit
        assert rollbacks == [1, 1]
