"""Tests for failover: a multi-host primary, and pools dropped after 25006 or 57P01.

They run against a primary and a streaming standby the module starts itself;
the last test promotes the standby, so the cluster is this module's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import sqlalchemy.exc
from replication_support import Cluster, running
from sqlalchemy import text

from agentifui_config import ConnectionManager, DatabaseConfig
from agentifui_config.engine import DatabaseUnavailableError

pytestmark = pytest.mark.asyncio(loop_scope="session")

_PID = text("SELECT pg_backend_pid()")


@pytest.fixture(scope="module")
def pair() -> Iterator[Cluster]:
    """A primary and one streaming standby, for this module."""
    yield from running(standbys=1)


@pytest_asyncio.fixture(loop_scope="session")
async def manager(pair: Cluster) -> AsyncIterator[ConnectionManager]:
    """A manager whose DB_HOST lists the primary, then the standby."""
    (standby,) = pair.standbys
    hosts = f"127.0.0.1:{pair.primary.port},127.0.0.1:{standby.port}"
    made = ConnectionManager()
    await made.initialize(DatabaseConfig(host=hosts, connect_timeout=3.0, pool_size=2))
    try:
        yield made
    finally:
        await made.dispose()


async def _pids(manager: ConnectionManager, count: int) -> set[int]:
    """The server processes behind *count* connections held at once."""
    sessions = [manager.session_factory() for _ in range(count)]
    try:
        return {int((await s.execute(_PID)).scalar_one()) for s in sessions}
    finally:
        for session in sessions:
            await session.close()


class TestDemotionInvalidatesThePool:
    async def test_multi_host_reaches_the_writable_host(
        self, manager: ConnectionManager, pair: Cluster
    ) -> None:
        """With the standby listed too, the primary pool connects to the server taking writes."""
        async with manager.session() as session:
            port = (await session.execute(text("SELECT inet_server_port()"))).scalar_one()
        assert port == pair.primary.port

    async def test_reads_prefer_the_standby(
        self, manager: ConnectionManager, pair: Cluster
    ) -> None:
        """Without DB_READ_HOSTS, read sessions of a multi-host primary go to its standby."""
        async with manager.read_session() as session:
            port, standby = (
                await session.execute(text("SELECT inet_server_port(), pg_is_in_recovery()"))
            ).one()
        assert (port, standby) == (pair.standbys[0].port, True)

    async def test_admin_shutdown_drops_every_connection(
        self, manager: ConnectionManager, pair: Cluster
    ) -> None:
        """After a connection is shut down under a query, the pool's idle ones are replaced too."""
        before = await _pids(manager, 2)
        session = manager.session_factory()
        try:
            victim = int((await session.execute(_PID)).scalar_one())
            query = asyncio.create_task(session.execute(text("SELECT pg_sleep(5)")))
            await asyncio.sleep(0.3)
            await pair.primary.fetchval(f"SELECT pg_terminate_backend({victim})")
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="administrator command"):
                await query
        finally:
            await session.close()
        after = await _pids(manager, 2)
        assert not before & after
        assert (manager.get_metrics()["connections_invalidated"] or 0) >= 1

    async def test_read_only_server_drops_the_pool(
        self, manager: ConnectionManager, pair: Cluster
    ) -> None:
        """A write answered with 25006 (the server went read-only) replaces every connection."""
        before = await _pids(manager, 2)
        await pair.primary.fetchval("ALTER SYSTEM SET default_transaction_read_only = on")
        await pair.primary.fetchval("SELECT pg_reload_conf()")
        try:
            async with manager.session() as session:
                with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only transaction"):
                    await session.execute(text("CREATE TABLE demoted (a int)"))
        finally:
            await pair.primary.fetchval("ALTER SYSTEM RESET default_transaction_read_only")
            await pair.primary.fetchval("SELECT pg_reload_conf()")
        after = await _pids(manager, 2)
        assert not before & after

    async def test_refused_write_on_a_read_session_keeps_the_pool(
        self, manager: ConnectionManager
    ) -> None:
        """A write refused because the session is read-only by request leaves the pool alone."""
        before = manager.get_metrics()["connections_invalidated"]
        async with manager.session() as session:
            await session.execute(_PID)
        async with manager.read_session() as session:
            await session.execute(_PID)
        config = manager.config
        assert config is not None
        reads = ConnectionManager()
        await reads.initialize(DatabaseConfig(host=config.hosts[0][0], port=config.hosts[0][1]))
        try:
            async with reads.read_session() as session:
                with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only transaction"):
                    await session.execute(text("CREATE TABLE refused (a int)"))
            assert reads.get_metrics()["connections_invalidated"] == 0
        finally:
            await reads.dispose()
        assert manager.get_metrics()["connections_invalidated"] == before


class TestNoHostAnswers:
    async def test_error_names_each_host_with_its_port(self) -> None:
        """When no host of the list answers, the error names each one with its own port."""
        manager = ConnectionManager()
        config = DatabaseConfig(host="127.0.0.1:1,127.0.0.1:2", connect_timeout=2.0)
        with pytest.raises(DatabaseUnavailableError, match=r"to 127\.0\.0\.1:1,127\.0\.0\.1:2/"):
            await manager.initialize(config)


class TestPromotion:
    async def test_next_checkouts_reach_the_promoted_standby(
        self, manager: ConnectionManager, pair: Cluster
    ) -> None:
        """When the primary stops and the standby is promoted, sessions reach the new primary."""
        (standby,) = pair.standbys
        await _pids(manager, 2)
        pair.primary.stop("fast")
        standby.promote()
        async with manager.session() as session:
            port, recovering = (
                await session.execute(text("SELECT inet_server_port(), pg_is_in_recovery()"))
            ).one()
            await session.execute(text("CREATE TABLE promoted (a int)"))
            await session.commit()
        assert (port, recovering) == (standby.port, False)
