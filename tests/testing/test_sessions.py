"""Tests for rolled_back_session: what it sends the server, and a dead connection replaced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from connection_support import admin_connection, managed
from sqlalchemy import text

from agentifui_config.testing.sessions import rolled_back_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from agentifui_config import ConnectionManager, DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

pytestmark = pytest.mark.asyncio

_PID = text("SELECT pg_backend_pid()")


@pytest_asyncio.fixture
async def manager(database_config: DatabaseConfig) -> AsyncIterator[ConnectionManager]:
    """A manager whose pool holds one connection, so every session gets the same one."""
    async with managed(database_config.model_copy(update={"pool_size": 1})) as manager:
        yield manager


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under *session*."""
    raw = await (await session.connection()).get_raw_connection()
    return raw.driver_connection


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
        self, manager: ConnectionManager, postgres_server: PostgresServer
    ) -> None:
        """A temporary table and a session-level advisory lock are gone after the block."""
        async with rolled_back_session(manager.engine) as session:
            await session.execute(text("CREATE TEMPORARY TABLE scratch (x int)"))
            await session.commit()
            await session.execute(text("SELECT pg_advisory_lock(4242)"))
        async with admin_connection(postgres_server) as admin:
            assert await admin.fetchval("SELECT pg_try_advisory_lock(4242)")
        async with rolled_back_session(manager.engine) as session:
            found = await session.scalar(text("SELECT to_regclass('pg_temp.scratch')"))
            assert found is None
