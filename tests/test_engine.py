"""Tests for the engine builder's pre-ping and its optional alive-bypass, on a real server."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
import sqlalchemy.exc
from connection_support import admin_connection, managed, unique
from sqlalchemy import text

if TYPE_CHECKING:
    from agentifui_config import ConnectionManager, DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

pytestmark = pytest.mark.asyncio

_SELECT_ONE = text("SELECT 1")


async def _query(manager: ConnectionManager) -> int:
    async with manager.session() as session:
        return int((await session.execute(_SELECT_ONE)).scalar_one())


async def _terminate(server: PostgresServer, config: DatabaseConfig) -> int:
    """Kill every backend opened with *config*'s application name; return how many."""
    async with admin_connection(server) as admin:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND application_name = $2",
            config.database,
            config.application_name,
        )
    return int(killed)


class TestPrePingBypass:
    async def test_off_by_default_a_terminated_backend_is_never_seen(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """Without the bypass, a connection killed right after its return is replaced unseen."""
        config = unique(database_config, pool_size=1, max_overflow=0)
        assert config.pool_pre_ping_bypass_ms == 0
        async with managed(config) as manager:
            assert await _query(manager) == 1
            assert await _terminate(postgres_server, config) == 1
            assert await _query(manager) == 1

    async def test_a_connection_returned_within_the_window_is_not_pinged(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """Within the window the connection is trusted: a kill there reaches the caller, once."""
        config = unique(database_config, pool_size=1, max_overflow=0, pool_pre_ping_bypass_ms=60e3)
        async with managed(config) as manager:
            assert await _query(manager) == 1
            assert await _terminate(postgres_server, config) == 1
            with pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
                await _query(manager)
            assert caught.value.connection_invalidated
            assert await _query(manager) == 1
            assert manager.connection_count == 0

    async def test_a_connection_idle_past_the_window_is_pinged(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """Once the window has passed the pre-ping runs again and replaces a dead connection."""
        config = unique(database_config, pool_size=1, max_overflow=0, pool_pre_ping_bypass_ms=50)
        async with managed(config) as manager:
            assert await _query(manager) == 1
            await asyncio.sleep(0.2)
            assert await _terminate(postgres_server, config) == 1
            assert await _query(manager) == 1
            assert manager.get_metrics()["connections_invalidated"] == 1
