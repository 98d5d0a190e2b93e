"""Tests for ConnectionManager across a restart of the embedded PostgreSQL server.

The restart stops the session's shared server, so it lives in a module of its
own and always starts the server again, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TYPE_CHECKING

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from agentifui_config import ConnectionManager, HealthStatus, SSLMode

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

pytestmark = pytest.mark.asyncio

_SELECT_ONE = text("SELECT 1")


class TestServerRestart:
    async def test_unhealthy_while_down_then_healthy_without_reinitialize(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """While the server is down health is UNHEALTHY; once it is back everything works again."""
        if not postgres_server.embedded:
            pytest.skip(
                "the server named by AGENTIFUI_TEST_DATABASE_URL is not this run's to restart; "
                "unset it to run this against the embedded server"
            )
        config = database_config.model_copy(
            update={
                "application_name": f"agentifui-test-{secrets.token_hex(4)}",
                "ssl_mode": SSLMode.DISABLE,
                "connect_timeout": 2,
            }
        )
        manager = ConnectionManager()
        await manager.initialize(config)
        try:
            engine = manager.engine
            assert (await manager.health_check()).status is HealthStatus.HEALTHY
            try:
                await asyncio.to_thread(postgres_server.stop)
                started = time.monotonic()
                info = await manager.health_check(timeout=2)
                assert time.monotonic() - started < 2.5
                assert info.status is HealthStatus.UNHEALTHY
                assert not info.connected
                assert len(info.errors) == 1
                with pytest.raises((OSError, sqlalchemy.exc.DBAPIError)):
                    async with manager.session() as session:
                        await session.execute(_SELECT_ONE)
            finally:
                if not postgres_server.is_running:
                    await asyncio.to_thread(postgres_server.start)

            info = await manager.health_check()
            assert info.status is HealthStatus.HEALTHY, info.errors
            async with manager.session() as session:
                assert (await session.execute(_SELECT_ONE)).scalar_one() == 1
            assert manager.engine is engine
        finally:
            await manager.dispose(grace=0)
