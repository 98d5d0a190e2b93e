"""Tests for ConnectionManager's sessions: commit, rollback, cancellation and pool limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import AsyncGenerator, Coroutine
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy.exc
from connection_support import admin_connection, backend_states, eventually, managed, unique
from sqlalchemy import Column, MetaData, Table, Text, insert, select, text
from sqlalchemy.orm import Session

from agentifui_config import ConnectionManager, SSLMode

if TYPE_CHECKING:
    from sqlalchemy import Insert
    from sqlalchemy.ext.asyncio import AsyncSession

    from agentifui_config import DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

pytestmark = pytest.mark.asyncio

_SELECT_ONE = text("SELECT 1")


def _dependency(manager: ConnectionManager) -> AsyncGenerator[AsyncSession, None]:
    """``get_session()`` as FastAPI holds it: an async generator it drives by hand."""
    generator = manager.get_session()
    assert isinstance(generator, AsyncGenerator)
    return generator


async def _table(manager: ConnectionManager) -> Table:
    """A new table of text values in the run's database."""
    table = Table(f"t_{secrets.token_hex(4)}", MetaData(), Column("value", Text, nullable=False))
    async with manager.engine.begin() as connection:
        await connection.run_sync(table.metadata.create_all)
    return table


def _insert(table: Table, *values: str) -> Insert:
    return insert(table).values([{"value": value} for value in values])


async def _values(manager: ConnectionManager, table: Table) -> list[str]:
    """The table's values as another session sees them."""
    async with manager.session() as session:
        result = await session.execute(select(table.c.value).order_by(table.c.value))
        return list(result.scalars())


async def _terminate(server: PostgresServer, config: DatabaseConfig) -> None:
    """Kill, from an admin connection, every backend opened with *config*'s application name."""
    async with admin_connection(server) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND application_name = $2",
            config.database,
            config.application_name,
        )


def _event(record: logging.LogRecord) -> object:
    return getattr(record, "event_name", None)


class TestGetSession:
    async def test_commit_is_visible_elsewhere(self, database_config: DatabaseConfig) -> None:
        """A committed dependency session is visible from another session once it is finished."""
        async with managed(database_config) as manager:
            table = await _table(manager)
            dependency = _dependency(manager)
            session = await anext(dependency)
            await session.execute(_insert(table, "kept"))
            await session.commit()
            with pytest.raises(StopAsyncIteration):
                await anext(dependency)
            assert manager.connection_count == 0
            assert await _values(manager, table) == ["kept"]
            assert manager.get_metrics()["sessions_failed"] == 0

    async def test_thrown_error_rolls_back(self, database_config: DatabaseConfig) -> None:
        """An error thrown into the dependency rolls back, propagates and counts as failed."""
        async with managed(database_config) as manager:
            table = await _table(manager)
            dependency = _dependency(manager)
            session = await anext(dependency)
            await session.execute(_insert(table, "lost"))
            await session.flush()
            with pytest.raises(ValueError, match="handler failed"):
                await dependency.athrow(ValueError("handler failed"))
            assert manager.connection_count == 0
            assert await _values(manager, table) == []
            assert manager.get_metrics()["sessions_failed"] == 1

    async def test_aclose_gives_the_connection_back(self, database_config: DatabaseConfig) -> None:
        """Closing the dependency early rolls back what was not committed but is no failure."""
        async with managed(database_config) as manager:
            table = await _table(manager)
            dependency = _dependency(manager)
            session = await anext(dependency)
            await session.execute(_insert(table, "uncommitted"))
            assert manager.connection_count == 1
            await dependency.aclose()
            assert manager.connection_count == 0
            assert await _values(manager, table) == []
            metrics = manager.get_metrics()
            assert metrics["sessions_failed"] == 0
            assert metrics["sessions_opened"] == 2

    async def test_sessions_keep_attributes_after_commit(
        self, database_config: DatabaseConfig
    ) -> None:
        """Sessions are made with expire_on_commit=False, as an async handler needs."""
        async with managed(database_config) as manager:
            async with manager.session() as session:
                assert session.sync_session.expire_on_commit is False
            assert manager.session_factory.kw["expire_on_commit"] is False


class TestSessionContext:
    async def test_commit_is_visible_elsewhere(self, database_config: DatabaseConfig) -> None:
        """A session committed inside ``async with manager.session()`` is visible afterwards."""
        async with managed(database_config) as manager:
            table = await _table(manager)
            async with manager.session() as session:
                await session.execute(_insert(table, "a", "b"))
                await session.commit()
            assert await _values(manager, table) == ["a", "b"]

    async def test_raised_error_rolls_back(self, database_config: DatabaseConfig) -> None:
        """An exception inside the block rolls back: the rows are never seen by another session."""
        async with managed(database_config) as manager:
            table = await _table(manager)

            async def insert_then_fail() -> None:
                async with manager.session() as session:
                    await session.execute(_insert(table, "x"))
                    await session.flush()
                    assert await _values(manager, table) == []
                    raise RuntimeError("boom")

            with pytest.raises(RuntimeError, match="boom"):
                await insert_then_fail()
            assert await _values(manager, table) == []
            assert manager.connection_count == 0

    async def test_uncommitted_work_is_discarded(self, database_config: DatabaseConfig) -> None:
        """Leaving the block without commit discards the work: committing is the caller's job."""
        async with managed(database_config) as manager:
            table = await _table(manager)
            async with manager.session() as session:
                await session.execute(_insert(table, "x"))
            assert await _values(manager, table) == []

    async def test_session_options_reach_the_factory(self, database_config: DatabaseConfig) -> None:
        """``session_options`` pick the session class, so its own listeners apply."""

        class AppSession(Session):
            pass

        async with (
            managed(database_config, session_options={"sync_session_class": AppSession}) as manager,
            manager.session() as session,
        ):
            assert isinstance(session.sync_session, AppSession)
            assert session.sync_session.expire_on_commit is False

    async def test_only_a_session_holding_a_connection_is_closed_under_a_shield(
        self, database_config: DatabaseConfig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Closing an unused or committed session spawns no clean-up task; a queried one does."""
        async with managed(database_config) as manager:
            shielded = manager._shielded
            calls: list[object] = []

            async def spy(cleanup: Coroutine[Any, Any, None]) -> None:
                calls.append(cleanup)
                await shielded(cleanup)

            monkeypatch.setattr(manager, "_shielded", spy)
            async with manager.session():
                pass
            async with manager.session() as session:
                await session.execute(_SELECT_ONE)
                await session.commit()
            assert calls == []
            async with manager.session() as session:
                await session.execute(_SELECT_ONE)
            assert len(calls) == 1
            assert manager.connection_count == 0

    async def test_failures_are_counted_whether_or_not_a_connection_was_held(
        self, database_config: DatabaseConfig
    ) -> None:
        """An error or a cancellation in a block counts as a failed session, connected or not."""
        async with managed(database_config) as manager:

            async def fail(*, query: bool) -> None:
                async with manager.session() as session:
                    if query:
                        await session.execute(_SELECT_ONE)
                    raise RuntimeError("boom")

            for query in (False, True):
                with pytest.raises(RuntimeError, match="boom"):
                    await fail(query=query)

            async def idle() -> None:
                async with manager.session():
                    await asyncio.sleep(10)

            task = asyncio.create_task(idle())
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            metrics = manager.get_metrics()
            assert (metrics["sessions_opened"], metrics["sessions_failed"]) == (3, 3)
            assert manager.connection_count == 0


class TestDeadConnection:
    async def test_the_callers_error_is_kept(
        self,
        postgres_server: PostgresServer,
        database_config: DatabaseConfig,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """When the connection died under a failing session, the caller still sees its own error."""
        config = unique(database_config)
        caplog.set_level(logging.WARNING, logger="agentifui_config")
        async with managed(config) as manager:

            async def fail_on_a_dead_connection() -> None:
                async with manager.session() as session:
                    await session.execute(_SELECT_ONE)
                    await _terminate(postgres_server, config)
                    raise LookupError("the handler's own error")

            with pytest.raises(LookupError, match="the handler's own error"):
                await fail_on_a_dead_connection()
            assert manager.connection_count == 0
            logged = [r for r in caplog.records if _event(r) == "session_rollback_failed"]
            assert len(logged) == 1
            assert (
                logged[0]
                .getMessage()
                .startswith("rolling back a failed session failed, its connection is dropped: ")
            )
            async with manager.session() as session:
                assert (await session.execute(_SELECT_ONE)).scalar_one() == 1

    async def test_a_cancellation_is_kept(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """A task cancelled while its connection is dead ends cancelled, not with a driver error."""
        config = unique(database_config)
        async with managed(config) as manager:
            killed = asyncio.Event()

            async def hold_a_dead_connection() -> None:
                async with manager.session() as session:
                    await session.execute(_SELECT_ONE)
                    await _terminate(postgres_server, config)
                    killed.set()
                    await asyncio.Event().wait()

            task = asyncio.create_task(hold_a_dead_connection())
            await killed.wait()
            task.cancel()
            await asyncio.wait({task})
            assert task.cancelled()
            assert manager.connection_count == 0


class TestCancellation:
    async def test_cancelled_tasks_give_every_connection_back(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """1,000 sessions cancelled at random points leave no connection lent or mid-transaction."""
        # ssl disabled: with asyncpg's default "prefer", a cancel request cut short
        # leaves an unretrieved future inside asyncpg that asyncio logs as an error.
        config = unique(
            database_config,
            pool_size=2,
            max_overflow=0,
            pool_timeout=30,
            ssl_mode=SSLMode.DISABLE,
        )
        rng = random.Random(20240501)
        in_flight = asyncio.Semaphore(8)

        async def work(
            manager: ConnectionManager, pause: float, query: float, reached: list[str]
        ) -> None:
            async with manager.session() as session:
                reached.append("opened")
                await asyncio.sleep(pause)
                reached.append("checking out")  # waits for the pool, then runs pg_sleep
                await session.execute(text("SELECT pg_sleep(:s)"), {"s": query})
                reached.append("in transaction")  # a connection held, a transaction open
                await session.execute(_SELECT_ONE)
                await session.commit()
                reached.append("committed")

        async def one(manager: ConnectionManager) -> str:
            pause, query = rng.uniform(0, 0.003), rng.uniform(0, 0.003)
            # None: left to finish, which a task cancelled after a pause may not
            # reach on a busy machine.
            cancel_after = rng.choice((None, 0.0, rng.uniform(0, 0.005), rng.uniform(0.005, 0.05)))
            reached: list[str] = []
            async with in_flight:
                task = asyncio.create_task(work(manager, pause, query, reached))
                if cancel_after is not None:
                    await asyncio.sleep(cancel_after)
                    task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    return f"cancelled {reached[-1] if reached else 'before the session'}"
                return "finished"

        async with managed(config) as manager:
            outcomes = Counter(await asyncio.gather(*(one(manager) for _ in range(1000))))
            # Cancellations land while waiting for the pool and while holding a connection.
            assert outcomes["finished"] > 0
            assert outcomes["cancelled checking out"] > 0
            assert outcomes["cancelled in transaction"] > 0

            async def all_back() -> bool:
                return manager.connection_count == 0

            async def none_in_transaction() -> bool:
                states = await backend_states(postgres_server, config)
                return not any(state.startswith("idle in transaction") for state in states)

            assert await eventually(all_back)
            assert await eventually(none_in_transaction)
            assert manager.get_metrics()["sessions_opened"] == 1000
            async with manager.session() as session:
                assert (await session.execute(_SELECT_ONE)).scalar_one() == 1
                # The probe above does see our backends: this open transaction shows in it.
                assert "idle in transaction" in await backend_states(postgres_server, config)


class TestPoolExhaustion:
    async def test_waits_pool_timeout_then_fails(self, database_config: DatabaseConfig) -> None:
        """With every connection held the next query fails after about pool_timeout, not never."""
        config = database_config.model_copy(
            update={"pool_size": 2, "max_overflow": 0, "pool_timeout": 1}
        )
        async with managed(config) as manager, contextlib.AsyncExitStack() as held:
            first = await held.enter_async_context(manager.session())
            await first.execute(_SELECT_ONE)
            second = await held.enter_async_context(manager.session())
            await second.execute(_SELECT_ONE)
            assert manager.pool_status.saturated

            started = time.monotonic()
            with pytest.raises(sqlalchemy.exc.TimeoutError):
                async with manager.session() as third:
                    await third.execute(_SELECT_ONE)
            assert 0.8 <= time.monotonic() - started < 3.0
            assert manager.connection_count == 2

            await second.close()
            started = time.monotonic()
            async with manager.session() as fourth:
                assert (await fourth.execute(_SELECT_ONE)).scalar_one() == 1
            assert time.monotonic() - started < 0.8
            assert manager.get_metrics()["sessions_failed"] == 1
