"""Tests for the engine builder's pre-ping and its optional alive-bypass, on a real server."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
import sqlalchemy.exc
from connection_support import managed, terminate_backends, unique
from sqlalchemy import text

from agentifui_config import DatabaseConfig

if TYPE_CHECKING:
    from agentifui_config import ConnectionManager
    from agentifui_config.testing.postgres import PostgresServer

pytestmark = pytest.mark.asyncio

_SELECT_ONE = text("SELECT 1")


async def _query(manager: ConnectionManager) -> int:
    async with manager.session() as session:
        return int((await session.execute(_SELECT_ONE)).scalar_one())


class TestPrePingBypass:
    @pytest.mark.parametrize("bypass_ms", [0, 50])
    async def test_a_pinged_connection_killed_is_replaced_unseen(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig, bypass_ms: float
    ) -> None:
        """Off (the default), or past its window, the ping replaces a killed connection."""
        config = unique(
            database_config, pool_size=1, max_overflow=0, pool_pre_ping_bypass_ms=bypass_ms
        )
        assert DatabaseConfig().pool_pre_ping_bypass_ms == 0
        async with managed(config) as manager:
            assert await _query(manager) == 1
            await asyncio.sleep(0.2)
            assert await terminate_backends(postgres_server, config) == 1
            assert await _query(manager) == 1
            assert manager.get_metrics()["connections_invalidated"] == 1

    async def test_a_connection_returned_within_the_window_is_not_pinged(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """Within the window the connection is trusted: a kill there reaches the caller, once."""
        config = unique(database_config, pool_size=1, max_overflow=0, pool_pre_ping_bypass_ms=60e3)
        async with managed(config) as manager:
            assert await _query(manager) == 1
            assert await terminate_backends(postgres_server, config) == 1
            with pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
                await _query(manager)
            assert caught.value.connection_invalidated
            assert await _query(manager) == 1
            assert manager.connection_count == 0
