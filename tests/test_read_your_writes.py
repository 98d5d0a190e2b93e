"""Tests for read-your-writes keyed by the caller: ``DB_READ_YOUR_WRITES_SECONDS``.

They run against the primary and two streaming standbys the suite starts once
(the ``replication`` fixture of ``conftest``).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Final

import httpx
import pytest
from connection_support import managed
from fastapi import FastAPI, Request
from replication_support import Cluster, read_from, replicas_config
from sqlalchemy import text

from agentifui_config import ConnectionManager, load_settings
from agentifui_config.connection import ManagerStateError
from agentifui_config.fastapi import (
    DATABASE_STATE,
    ReadSessionDep,
    TransactionDep,
    add_caller_key,
    setup,
)
from agentifui_config.recent_writes import RecentWrites

pytestmark = pytest.mark.asyncio(loop_scope="session")

_WINDOW: Final = 10.0
"""DB_READ_YOUR_WRITES_SECONDS of the window tests, on a clock they move themselves."""


class _Clock:
    """A monotonic clock that stands still until the test moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    """The clock of the read-your-writes windows of the managers started from now on."""
    clock = _Clock()
    made = functools.partial(RecentWrites, clock=clock)
    monkeypatch.setattr("agentifui_config.replicas.RecentWrites", made)
    return clock


async def _commit_as(manager: ConnectionManager, key: str) -> None:
    """Commit a transaction as caller *key*, in a task of its own."""

    async def commit() -> None:
        with manager.caller(key):
            async with manager.session() as session:
                await session.execute(text("SELECT 1"))
                await session.commit()

    await asyncio.create_task(commit())


class TestReadYourWritesWindow:
    async def test_caller_reads_from_the_primary_within_the_window(
        self, replication: Cluster, clock: _Clock
    ) -> None:
        """After a caller committed, its reads elsewhere go to the primary until the window ends."""
        primary = (replication.primary.port, False)
        config = replicas_config(replication, read_your_writes_seconds=_WINDOW)
        async with managed(config) as manager:
            await _commit_as(manager, "alice")
            own = await asyncio.create_task(read_from(manager, "alice"))

            async def in_context() -> tuple[int, bool]:
                with manager.caller("alice"):
                    return await read_from(manager)

            own_in_context = await asyncio.create_task(in_context())
            other = await asyncio.create_task(read_from(manager, "bob"))
            nobody = await asyncio.create_task(read_from(manager))
            clock.now = _WINDOW - 0.01
            last = await asyncio.create_task(read_from(manager, "alice"))
            clock.now = _WINDOW + 0.01
            after = await asyncio.create_task(read_from(manager, "alice"))
        assert (own, own_in_context, last) == (primary, primary, primary)
        assert other[1] is True
        assert nobody[1] is True
        assert after[1] is True

    async def test_off_by_default(self, replication: Cluster) -> None:
        """Without DB_READ_YOUR_WRITES_SECONDS, a caller's later reads go to the replicas."""
        async with managed(replicas_config(replication)) as manager:
            await _commit_as(manager, "alice")
            assert (await asyncio.create_task(read_from(manager, "alice")))[1] is True

    async def test_requests_keyed_by_the_app(self, replication: Cluster) -> None:
        """A request that committed sends its caller's next requests' reads to the primary."""
        app = FastAPI()
        add_caller_key(app, lambda request: request.headers.get("x-user"))

        @app.post("/rows")
        async def add(writes: TransactionDep) -> None:
            await writes.execute(text("SELECT 1"))

        @app.get("/port")
        async def where(reads: ReadSessionDep) -> int:
            return int((await reads.execute(text("SELECT inet_server_port()"))).scalar_one())

        standbys = {node.port for node in replication.standbys}
        async with managed(replicas_config(replication, read_your_writes_seconds=5.0)) as manager:
            setattr(app.state, DATABASE_STATE, manager)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                alice, bob = {"x-user": "alice"}, {"x-user": "bob"}
                posted = await asyncio.create_task(client.post("/rows", headers=alice))
                own = await asyncio.create_task(client.get("/port", headers=alice))
                other = await asyncio.create_task(client.get("/port", headers=bob))
                nobody = await asyncio.create_task(client.get("/port"))
        assert posted.status_code == 200
        assert own.json() == replication.primary.port
        assert other.json() in standbys
        assert nobody.json() in standbys

    @pytest.mark.parametrize(
        ("replicas", "window", "asked"),
        [(False, 5.0, []), (True, 0.0, []), (True, 5.0, ["/port", "/port"])],
    )
    async def test_caller_asked_only_where_it_counts(
        self, replication: Cluster, replicas: bool, window: float, asked: list[str]
    ) -> None:
        """The app's caller_key is called only with replicas and a read-your-writes window."""
        called: list[str] = []

        def caller_of(request: Request) -> str | None:
            called.append(request.url.path)
            return "alice"

        app = FastAPI()
        add_caller_key(app, caller_of)

        @app.get("/port")
        async def where(reads: ReadSessionDep) -> int:
            return int((await reads.execute(text("SELECT inet_server_port()"))).scalar_one())

        hosts = {} if replicas else {"read_hosts": ""}
        config = replicas_config(replication, read_your_writes_seconds=window, **hosts)
        async with managed(config) as manager:
            assert manager.read_router is not None
            assert manager.read_router.keys_by_caller is (replicas and window > 0)
            setattr(app.state, DATABASE_STATE, manager)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                answers = [await client.get("/port") for _ in range(2)]
        assert {a.status_code for a in answers} == {200}
        assert called == asked

    async def test_caller_before_initialize(self) -> None:
        """Acting for a caller needs an initialized manager."""
        manager = ConnectionManager()
        with pytest.raises(ManagerStateError, match="is not initialized"), manager.caller("alice"):
            pass


class TestSetup:
    async def test_setup_installs_the_caller_key(self, clean_env: pytest.MonkeyPatch) -> None:
        """setup(caller_key=...) installs the same middleware as add_caller_key()."""

        def caller_of(request: Request) -> str | None:
            return request.cookies.get("session")

        app = FastAPI()
        setup(app, load_settings(), health_prefix=None, cors=False, caller_key=caller_of)
        keys = [m.kwargs.get("caller_key") for m in app.user_middleware]
        assert keys == [caller_of]

    async def test_requests_pass_without_a_manager(self) -> None:
        """Without the lifespan's manager, requests are served as they are; the key is not asked."""
        asked: list[str] = []

        def caller_of(request: Request) -> str | None:
            asked.append(request.url.path)
            return "alice"

        app = FastAPI()
        add_caller_key(app, caller_of)

        @app.get("/ping")
        async def ping() -> str:
            return "pong"

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get("/ping")
        assert (answer.status_code, answer.json(), asked) == (200, "pong", [])
