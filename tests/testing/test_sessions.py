"""Tests for rolled_back_session: what it sends, what it leaves, a dead connection replaced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from connection_support import admin_connection, asyncpg_connection, managed
from sqlalchemy import event, text

from agentifui_config.testing.sessions import _STATE_UNDONE, rolled_back_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session, SessionTransaction

    from agentifui_config import ConnectionManager, DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

pytestmark = pytest.mark.asyncio

_PID = text("SELECT pg_backend_pid()")
_LOCK = text("SELECT pg_advisory_lock(4242)")


@pytest_asyncio.fixture
async def manager(database_config: DatabaseConfig) -> AsyncIterator[ConnectionManager]:
    """A manager whose pool holds one connection, so every session gets the same one."""
    async with managed(database_config.model_copy(update={"pool_size": 1})) as manager:
        yield manager


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under *session*."""
    raw = await (await session.connection()).get_raw_connection()
    return raw.driver_connection


async def _lock_is_free(manager: ConnectionManager) -> bool:
    """Whether another connection to the manager's database can take the test's advisory lock.

    Advisory locks are per database: the test's own, not the server's admin database.
    """
    assert manager.config is not None
    async with asyncpg_connection(manager.config) as other:
        free: bool = await other.fetchval("SELECT pg_try_advisory_lock(4242)")
        return free


async def _next_checkout_in_transaction(manager: ConnectionManager) -> bool:
    """Whether the pool's next connection is still inside a transaction on the server."""
    async with manager.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        in_transaction: bool = raw.driver_connection.is_in_transaction()  # type: ignore[union-attr]
        return in_transaction


def _failing_close(session: AsyncSession, error: BaseException) -> None:
    """Make the end of *session*'s transaction, on closing, raise *error*."""

    def fail(_session: Session, _transaction: SessionTransaction) -> None:
        raise error

    event.listen(session.sync_session, "after_transaction_end", fail)


class TestRolledBackSession:
    async def test_two_round_trips_besides_the_tests_own(self, manager: ConnectionManager) -> None:
        """A BEGIN in place of the ping, and one ROLLBACK that also releases advisory locks."""
        async with rolled_back_session(manager.engine) as session:
            await session.execute(_PID)  # prepares the statements the next session sends
            driver = await _driver(session)
        transport = driver._transport
        sent: list[bytes] = []
        write = transport.write

        def counted(data: bytes) -> None:
            sent.append(bytes(data))
            write(data)

        transport.write = counted
        try:
            async with rolled_back_session(manager.engine) as session:
                await session.execute(_PID)
        finally:
            del transport.write
        # BEGIN, the session's SAVEPOINT, its query, and the rollback with the unlock.
        assert len(sent) == 4
        assert sent[0] == b"Q\x00\x00\x00\nBEGIN\x00"  # a simple-protocol query
        assert b"ROLLBACK; SELECT pg_advisory_unlock_all()" in sent[-1]

    async def test_a_connection_dropped_while_idle_is_replaced(
        self, manager: ConnectionManager, postgres_server: PostgresServer
    ) -> None:
        """A backend terminated between two sessions costs the second nothing it can see."""
        async with rolled_back_session(manager.engine) as session:
            killed = await session.scalar(_PID)
        async with admin_connection(postgres_server) as admin:
            assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", killed)
        async with rolled_back_session(manager.engine) as session:
            assert await session.scalar(_PID) != killed
        assert manager.connection_count == 0

    async def test_nothing_survives_and_locks_are_released(
        self, manager: ConnectionManager
    ) -> None:
        """A temporary table and a session-level advisory lock are gone after the block."""
        async with rolled_back_session(manager.engine) as session:
            await session.execute(text("CREATE TEMPORARY TABLE scratch (x int)"))
            await session.commit()
            await session.execute(_LOCK)
        assert await _lock_is_free(manager)
        async with rolled_back_session(manager.engine) as session:
            found = await session.scalar(text("SELECT to_regclass('pg_temp.scratch')"))
            assert found is None

    @pytest.mark.parametrize("error", [RuntimeError("close failed"), asyncio.CancelledError()])
    async def test_an_end_that_fails_leaves_no_transaction_or_lock(
        self, manager: ConnectionManager, error: BaseException
    ) -> None:
        """A close that raises or is cancelled drops the connection: no transaction, no lock."""
        killed: list[int] = []

        async def failing_on_close() -> None:
            async with rolled_back_session(manager.engine) as session:
                killed.append(await session.scalar(_PID))
                await session.execute(_LOCK)
                _failing_close(session, error)

        with pytest.raises(type(error)):
            await failing_on_close()
        assert await _lock_is_free(manager)
        assert not await _next_checkout_in_transaction(manager)
        async with rolled_back_session(manager.engine) as session:
            assert await session.scalar(_PID) not in killed

    async def test_a_task_cancelled_in_teardown_leaves_no_transaction_or_lock(
        self, manager: ConnectionManager
    ) -> None:
        """A cancellation reaching the closing round trip drops the connection, as far as it got."""
        killed: list[int] = []

        async def cancelled_in_teardown() -> None:
            async with rolled_back_session(manager.engine) as session:
                killed.append(await session.scalar(_PID))
                await session.execute(_LOCK)
                task = asyncio.current_task()
                assert task is not None
                task.cancel()  # delivered at the block's first wait: its closing ROLLBACK

        with pytest.raises(asyncio.CancelledError):
            await asyncio.create_task(cancelled_in_teardown())
        assert await _lock_is_free(manager)
        assert not await _next_checkout_in_transaction(manager)
        async with rolled_back_session(manager.engine) as session:
            assert await session.scalar(_PID) not in killed  # whether the server ended it or not


class TestOtherDrivers:
    """The path of drivers other than asyncpg (psycopg), run here on asyncpg, which is installed."""

    @pytest.fixture(autouse=True)
    def other_driver(self, manager: ConnectionManager, monkeypatch: pytest.MonkeyPatch) -> None:
        """Have rolled_back_session take the manager's engine for one of another driver."""
        monkeypatch.setattr(manager.engine.dialect, "driver", "psycopg")

    async def test_locks_are_released_and_the_connection_marked_clean(
        self, manager: ConnectionManager
    ) -> None:
        """The rollback undoes the session state and the advisory locks are released after it."""
        undone: list[bool] = []

        def on_checkin(_dbapi_connection: Any, record: Any) -> None:
            undone.append(record.info.get(_STATE_UNDONE, False))

        event.listen(manager.engine.sync_engine.pool, "checkin", on_checkin)
        async with rolled_back_session(manager.engine) as session:
            await session.execute(text("CREATE TEMPORARY TABLE scratch (x int)"))
            await session.commit()
            await session.execute(_LOCK)
        assert undone == [True]
        assert await _lock_is_free(manager)
        async with rolled_back_session(manager.engine) as session:
            assert await session.scalar(text("SELECT to_regclass('pg_temp.scratch')")) is None
