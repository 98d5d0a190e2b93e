"""Tests for the one-round-trip pre-ping, on a real server."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from connection_support import managed, terminate_backends, unique
from pgbouncer_support import running_pgbouncer
from sqlalchemy import text

from agentifui_config.engine import create_engine_for

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

pytestmark = pytest.mark.asyncio

_SELECT_ONE = text("SELECT 1")


class TestPing:
    async def test_a_checkout_pings_with_one_statement(
        self, database_config: DatabaseConfig
    ) -> None:
        """A pooled connection is pinged by one SELECT 1: no transaction opened and rolled back."""
        engine = create_engine_for(database_config.model_copy(update={"pool_size": 1}))
        sent: list[str] = []

        def log(record: Any) -> None:
            sent.append(record.query)

        try:
            async with engine.connect() as connection:
                raw = await connection.get_raw_connection()
                raw.driver_connection.add_query_logger(log)  # type: ignore[union-attr]
            sent.clear()
            async with engine.connect():
                pass  # the checkout alone: its ping
            assert sent == ["SELECT 1"]
        finally:
            await engine.dispose()

    async def test_a_killed_connection_is_replaced_within_a_transaction_too(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """The ping finds a terminated backend, and the session's own work runs on a new one."""
        config = unique(database_config, pool_size=1, max_overflow=0)
        async with managed(config) as manager:
            for _ in range(2):
                async with manager.session() as session, session.begin():
                    assert (await session.execute(_SELECT_ONE)).scalar_one() == 1
                await asyncio.sleep(0.1)
                assert await terminate_backends(postgres_server, config) == 1
            async with manager.session() as session:
                assert (await session.execute(_SELECT_ONE)).scalar_one() == 1
            assert manager.get_metrics()["connections_invalidated"] == 2

    async def test_sessions_through_pgbouncer_in_transaction_mode(
        self, database_config: DatabaseConfig
    ) -> None:
        """Behind PgBouncer the one-statement ping needs no transaction, and sessions go on."""
        with running_pgbouncer(database_config) as pooled:
            async with managed(pooled.model_copy(update={"pool_size": 2})) as manager:
                for _ in range(20):
                    async with manager.session() as session, session.begin():
                        assert (await session.execute(_SELECT_ONE)).scalar_one() == 1
                assert manager.get_metrics()["connections_invalidated"] == 0
