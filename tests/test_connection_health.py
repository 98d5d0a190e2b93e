"""Tests for ConnectionManager.health_check() and for surviving outages, on a real PostgreSQL.

Outages are staged with the TCP proxy of ``connection_support`` between the
manager and the server: it can refuse connections, swallow traffic without
answering (a "black hole"), and forward again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any

import pytest
from connection_support import (
    Proxy,
    admin_connection,
    backend_states,
    eventually,
    free_port,
    managed,
    proxy_to,
    unique,
)
from sqlalchemy import text

from agentifui_config import (
    ConnectionManager,
    ConnectionPoolInfo,
    HealthStatus,
    MigrationState,
    MigrationStatus,
    SSLMode,
)
from agentifui_config.connection import DatabaseUnavailableError
from agentifui_config.failures import DatabaseTimeoutError

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig, DatabaseHealthInfo
    from agentifui_config.testing.postgres import PostgresServer

pytestmark = pytest.mark.asyncio

_SELECT_ONE = text("SELECT 1")


def _through(proxy_port: int, database_config: DatabaseConfig, **update: Any) -> DatabaseConfig:
    """The run's database reached through a proxy port, under an application name of its own."""
    # ssl disabled: with asyncpg's default "prefer", a cancel request cut short
    # leaves an unretrieved future inside asyncpg that asyncio logs as an error.
    return database_config.model_copy(
        update={
            "host": "127.0.0.1",
            "port": proxy_port,
            "ssl_mode": SSLMode.DISABLE,
            "application_name": f"agentifui-test-{secrets.token_hex(4)}",
            **update,
        }
    )


async def _not(condition: Callable[[], Awaitable[bool]]) -> bool:
    return not await condition()


def _event(record: logging.LogRecord) -> object:
    return getattr(record, "event_name", None)


async def _timed_health(
    manager: ConnectionManager,
    timeout: float,  # noqa: ASYNC109 - the budget under test
) -> tuple[DatabaseHealthInfo, float]:
    started = time.monotonic()
    info = await manager.health_check(timeout=timeout)
    return info, time.monotonic() - started


class TestHealthy:
    async def test_reports_the_server(self, database_config: DatabaseConfig) -> None:
        """A healthy database reports its version, name and pool, and no migrations in use."""
        async with managed(database_config) as manager:
            info = await manager.health_check()
        assert info.status is HealthStatus.HEALTHY
        assert info.connected
        assert info.version is not None
        assert info.version.startswith("PostgreSQL")
        assert info.database_name == database_config.database
        assert isinstance(info.connection_pool, ConnectionPoolInfo)
        assert info.connection_pool.pool_size == database_config.pool_size
        assert info.connection_pool.max_overflow == database_config.max_overflow
        assert info.migration_status.state is MigrationState.NOT_CONFIGURED
        assert info.errors == info.warnings == ()
        assert info.response_time_ms is not None
        assert info.response_time_ms > 0
        assert info.checked_at.tzinfo is UTC

    async def test_starting_before_initialize(self, database_config: DatabaseConfig) -> None:
        """Before initialize and after dispose health is STARTING and counts no check."""
        manager = ConnectionManager()
        assert (await manager.health_check()).status is HealthStatus.STARTING
        await manager.initialize(database_config)
        await manager.dispose()
        info = await manager.health_check()
        assert info.status is HealthStatus.STARTING
        assert not info.connected
        assert manager.get_metrics()["health_checks"] == 0


class TestDegraded:
    async def test_slow_response(self, database_config: DatabaseConfig) -> None:
        """A probe slower than slow_threshold_ms is DEGRADED with the time in a warning."""
        async with managed(database_config, slow_threshold_ms=0) as manager:
            info = await manager.health_check()
        assert info.status is HealthStatus.DEGRADED
        assert info.connected
        assert len(info.warnings) == 1
        assert info.warnings[0].startswith("slow response: ")
        assert info.warnings[0].endswith("ms (threshold 0 ms)")

    async def test_saturated_pool_answers_within_budget(
        self, database_config: DatabaseConfig
    ) -> None:
        """With every connection held, health probes on its own connection within its budget."""
        # A probe that queued for the pool would wait pool_timeout (30 s) and time out.
        config = database_config.model_copy(
            update={"pool_size": 2, "max_overflow": 0, "pool_timeout": 30}
        )
        async with managed(config) as manager, contextlib.AsyncExitStack() as held:
            for _ in range(2):
                session = await held.enter_async_context(manager.session())
                await session.execute(_SELECT_ONE)
            info, elapsed = await _timed_health(manager, timeout=2)
            again, _ = await _timed_health(manager, timeout=2)
        assert elapsed < 2.5
        assert info.status is HealthStatus.DEGRADED
        assert info.connected
        assert info.database_name == config.database
        assert info.warnings == ("connection pool saturated: every connection is checked out",)
        assert info.connection_pool is not None
        assert info.connection_pool.checked_out_connections == 2
        assert again.status is HealthStatus.DEGRADED

    async def test_pending_migrations(self, database_config: DatabaseConfig) -> None:
        """A migration probe reporting pending revisions makes the database UNHEALTHY."""
        pending = MigrationStatus(
            state=MigrationState.PENDING, head_revisions=("b2",), pending_revisions=("b2",)
        )

        async def probe(manager: ConnectionManager) -> MigrationStatus:
            assert manager.is_initialized
            return pending

        async with managed(database_config, migration_probe=probe) as manager:
            info = await manager.health_check()
        assert info.status is HealthStatus.UNHEALTHY
        assert info.connected
        assert info.migration_status == pending
        assert info.errors == ("migrations: pending",)
        assert info.warnings == ()

    async def test_failing_migration_probe(self, database_config: DatabaseConfig) -> None:
        """A migration probe that raises gives an ERROR migration status with its message."""

        async def probe(manager: ConnectionManager) -> MigrationStatus:
            raise RuntimeError("no alembic_version table")

        async with managed(database_config, migration_probe=probe) as manager:
            info = await manager.health_check()
        assert info.status is HealthStatus.UNHEALTHY
        assert info.connected
        assert info.migration_status.state is MigrationState.ERROR
        assert info.migration_status.error == "no alembic_version table"

    async def test_slow_migration_probe_keeps_the_budget(
        self, database_config: DatabaseConfig
    ) -> None:
        """A migration probe that hangs is cut off at the end of the health budget."""

        async def probe(manager: ConnectionManager) -> MigrationStatus:
            await asyncio.sleep(30)
            return MigrationStatus.not_configured()

        async with managed(database_config, migration_probe=probe) as manager:
            info, elapsed = await _timed_health(manager, timeout=0.5)
        assert elapsed < 1.0
        assert info.status is HealthStatus.UNHEALTHY
        assert info.migration_status.state is MigrationState.ERROR
        assert info.migration_status.error == "timed out"
        assert info.errors == ("migrations: error",)


class TestSlowNetwork:
    async def test_slow_round_trip_is_degraded(self, database_config: DatabaseConfig) -> None:
        """A network slower than slow_threshold_ms makes a working database DEGRADED."""
        async with proxy_to(database_config) as proxy:
            config = _through(proxy.port, database_config)
            async with managed(config, slow_threshold_ms=100) as manager:
                assert (await manager.health_check()).status is HealthStatus.HEALTHY
                proxy.latency = 0.1
                info, elapsed = await _timed_health(manager, timeout=5)
        assert info.status is HealthStatus.DEGRADED
        assert info.connected
        assert info.response_time_ms is not None
        assert info.response_time_ms > 100
        assert elapsed < 5
        assert len(info.warnings) == 1
        assert info.warnings[0].startswith("slow response: ")

    async def test_cancelled_rollback_keeps_the_connection(
        self, database_config: DatabaseConfig
    ) -> None:
        """A task cancelled while its rollback is on the wire still returns a usable connection."""
        async with proxy_to(database_config) as proxy:
            config = _through(proxy.port, database_config)
            async with managed(config) as manager:

                async def fail_slowly() -> None:
                    async with manager.session() as session:
                        await session.execute(_SELECT_ONE)
                        proxy.latency = 0.3
                        raise LookupError("handler failed")

                task = asyncio.create_task(fail_slowly())
                await proxy.delaying.wait()  # the rollback is held up in the proxy
                task.cancel()
                await asyncio.wait({task})
                proxy.latency = 0
                assert task.cancelled()
                deadline = time.monotonic() + 5
                while manager.connection_count and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                metrics = manager.get_metrics()
                assert metrics["checked_out_connections"] == 0
                assert metrics["checked_in"] == 1
                assert metrics["connections_invalidated"] == 0
                async with manager.session() as session:
                    assert (await session.execute(_SELECT_ONE)).scalar_one() == 1


class TestOutages:
    async def test_refused_black_hole_and_back(self, database_config: DatabaseConfig) -> None:
        """Refused or unanswered connections are UNHEALTHY in budget; once back, all works again."""
        async with proxy_to(database_config) as proxy:
            config = _through(proxy.port, database_config, connect_timeout=10)
            async with managed(config) as manager:
                engine = manager.engine
                assert (await manager.health_check()).status is HealthStatus.HEALTHY

                proxy.refuse()
                info, elapsed = await _timed_health(manager, timeout=2)
                assert elapsed < 2.5
                assert info.status is HealthStatus.UNHEALTHY
                assert not info.connected
                assert len(info.errors) == 1
                assert info.errors[0].startswith("ConnectionRefusedError: ")
                assert str(proxy.port) in info.errors[0]

                await proxy.restore()
                assert (await manager.health_check()).status is HealthStatus.HEALTHY

                # First a pooled connection that goes quiet, then a new one that never answers.
                proxy.black_hole()
                for _ in range(2):
                    info, elapsed = await _timed_health(manager, timeout=1)
                    assert elapsed < 1.5
                    assert info.status is HealthStatus.UNHEALTHY
                    assert info.errors == ("the database did not answer within 1 s",)

                await proxy.restore()
                info = await manager.health_check()
                assert info.status is HealthStatus.HEALTHY, info.errors
                async with manager.session() as session:
                    assert (await session.execute(_SELECT_ONE)).scalar_one() == 1
                assert manager.engine is engine
                # The abandoned probes gave their connections back once the line was cut.
                deadline = time.monotonic() + 5
                while manager.connection_count and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                assert manager.connection_count == 0

    async def test_initialize_gives_up_on_a_black_hole(
        self, database_config: DatabaseConfig
    ) -> None:
        """A server that accepts and never answers fails initialize after about connect_timeout."""
        async with proxy_to(database_config) as proxy:
            proxy.black_hole()
            config = _through(proxy.port, database_config, connect_timeout=0.5)
            manager = ConnectionManager()
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailableError) as caught:
                await manager.initialize(config)
            assert 0.45 <= time.monotonic() - started < 2.0
        where = f"127.0.0.1:{proxy.port}/{config.database}"
        assert str(caught.value).startswith(
            f"cannot connect to {where} as {config.username}: the server did not answer in time: "
            "timed out - "
        )
        assert isinstance(caught.value, DatabaseTimeoutError)
        assert not manager.is_initialized

    async def test_terminated_backends_are_replaced(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """Backends killed by pg_terminate_backend are replaced unseen, and counted."""
        config = _through(database_config.port, database_config, host=database_config.host)
        async with managed(config) as manager:

            async def use(count: int) -> None:
                async with contextlib.AsyncExitStack() as held:
                    for _ in range(count):
                        session = await held.enter_async_context(manager.session())
                        await session.execute(_SELECT_ONE)

            await use(3)
            before = manager.get_metrics()["connections_invalidated"]
            assert isinstance(before, int)
            async with admin_connection(postgres_server) as admin:
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = $1 AND application_name = $2",
                    config.database,
                    config.application_name,
                )
            assert killed == 3
            for _ in range(2):
                await use(3)
            after = manager.get_metrics()["connections_invalidated"]
            assert isinstance(after, int)
            assert after > before
            assert (await manager.health_check()).status is HealthStatus.HEALTHY

    async def test_abandoned_health_check_gives_its_connection_back(
        self, database_config: DatabaseConfig
    ) -> None:
        """A caller that gives up on health_check() takes the probe and its connection down too."""
        async with (
            proxy_to(database_config) as proxy,
            managed(_through(proxy.port, database_config)) as manager,
        ):
            proxy.black_hole()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(manager.health_check(timeout=30), 0.3)
            deadline = time.monotonic() + 5
            while manager.connection_count and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            assert manager.connection_count == 0

    async def test_dispose_cuts_idle_connections_a_silent_server_keeps(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Dispose ends in bounded time when a silent server never sees idle connections off."""
        caplog.set_level(logging.WARNING, logger="agentifui_config")
        async with proxy_to(database_config) as proxy:
            manager = ConnectionManager()
            await manager.initialize(_through(proxy.port, database_config))
            async with contextlib.AsyncExitStack() as held:
                for _ in range(3):
                    session = await held.enter_async_context(manager.session())
                    await session.execute(_SELECT_ONE)
            assert manager.pool_status.checked_in == 3
            proxy.black_hole()
            started = time.monotonic()
            await asyncio.wait_for(manager.dispose(grace=0), 10)
            assert time.monotonic() - started < 4
            assert not manager.is_initialized
        cut = [r for r in caplog.records if _event(r) == "idle_connections_cut_at_dispose"]
        assert len(cut) == 1
        assert "3 idle connection(s)" in cut[0].getMessage()

    async def test_retry_for_waits_for_a_late_server(self, database_config: DatabaseConfig) -> None:
        """initialize(retry_for=...) keeps trying until a port that opens late answers."""
        port = free_port()
        config = _through(port, database_config)
        manager = ConnectionManager()

        async def open_late() -> Proxy:
            await asyncio.sleep(1.0)
            proxy = Proxy(database_config)
            await proxy.listen(port)
            return proxy

        opening = asyncio.create_task(open_late())
        started = time.monotonic()
        try:
            await manager.initialize(config, retry_for=10)
            elapsed = time.monotonic() - started
            assert manager.is_initialized
            # Retries come at most 2 s apart (the backoff's cap) once the port opens at 1 s.
            assert 0.9 <= elapsed < 1.0 + 2.0 + 1.0
            attempts = manager.get_metrics()["connect_attempts"]
            assert isinstance(attempts, int)
            assert 3 <= attempts <= 6
        finally:
            await manager.dispose(grace=0)
            await (await opening).stop()


class TestCommandTimeout:
    @pytest.mark.parametrize("pre_ping", [False, True])
    async def test_a_silent_server_fails_a_query_at_the_command_timeout(
        self, database_config: DatabaseConfig, pre_ping: bool
    ) -> None:
        """A query on a connection whose server went silent fails at DB_COMMAND_TIMEOUT, not later.

        Closing the broken connection gracefully would wait up to 2 s more; the
        margin below is 1.5 s. With pre-ping, the ping is the command that times out.
        """
        async with proxy_to(database_config) as proxy:
            config = _through(
                proxy.port, database_config, command_timeout=3, pool_pre_ping=pre_ping
            )
            async with managed(config) as manager:
                async with manager.session() as session:
                    assert (await session.execute(_SELECT_ONE)).scalar_one() == 1
                proxy.black_hole()
                started = time.monotonic()
                with pytest.raises(TimeoutError):
                    async with manager.session() as session:
                        await session.execute(_SELECT_ONE)
                assert time.monotonic() - started < 3 + 1.5
                await proxy.restore()
                async with manager.session() as session:
                    assert (await session.execute(_SELECT_ONE)).scalar_one() == 1

    async def test_a_slow_statement_fails_at_the_command_timeout_and_stops_on_the_server(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """On a server that answers, a statement past DB_COMMAND_TIMEOUT fails and is cancelled."""
        config = unique(database_config, command_timeout=1)

        async def sleeping() -> bool:
            return "active" in await backend_states(postgres_server, config)

        async with managed(config) as manager:
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                async with manager.session() as session:
                    await session.execute(text("SELECT pg_sleep(60)"))
            assert time.monotonic() - started < 1 + 1.5
            assert await eventually(lambda: _not(sleeping))
            async with manager.session() as session:
                assert (await session.execute(_SELECT_ONE)).scalar_one() == 1


class TestConcurrentChecks:
    async def test_a_storm_on_a_saturated_pool_opens_one_connection(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """200 concurrent checks on a saturated pool share one probe on one extra connection."""
        async with proxy_to(database_config) as proxy:
            # Each round trip takes 0.2 s, so every connection opened is seen open.
            config = _through(proxy.port, database_config, pool_size=2, max_overflow=0)
            async with managed(config) as manager, contextlib.AsyncExitStack() as held:
                for _ in range(2):
                    session = await held.enter_async_context(manager.session())
                    await session.execute(_SELECT_ONE)
                before = manager.get_metrics()["health_checks"]
                proxy.latency = 0.2
                peak = 0

                async def watch() -> None:
                    nonlocal peak
                    while True:
                        peak = max(peak, len(await backend_states(postgres_server, config)))
                        await asyncio.sleep(0.02)

                watcher = asyncio.ensure_future(watch())
                try:
                    infos = await asyncio.gather(
                        *(manager.health_check(timeout=10) for _ in range(200))
                    )
                finally:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
                proxy.latency = 0.0
                after = manager.get_metrics()["health_checks"]
        assert {info.status for info in infos} == {HealthStatus.DEGRADED}
        assert all(info.connected for info in infos)
        assert 2 <= peak <= config.pool_size + config.max_overflow + 1
        assert isinstance(before, int)
        assert after == before + 1

    async def test_a_cancelled_caller_leaves_the_shared_probe_to_the_others(
        self, database_config: DatabaseConfig
    ) -> None:
        """Cancelling one of two concurrent checks does not cancel the probe the other waits for."""
        probes = 0

        async def probe(manager: ConnectionManager) -> MigrationStatus:
            nonlocal probes
            probes += 1
            await asyncio.sleep(0.3)
            return MigrationStatus(state=MigrationState.UP_TO_DATE)

        async with managed(database_config, migration_probe=probe) as manager:
            cancelled = asyncio.ensure_future(manager.health_check(timeout=5))
            waiting = asyncio.ensure_future(manager.health_check(timeout=5))
            await asyncio.sleep(0.1)
            cancelled.cancel()
            info = await waiting
            with contextlib.suppress(asyncio.CancelledError):
                await cancelled
        assert cancelled.cancelled()
        assert info.status is HealthStatus.HEALTHY
        assert info.migration_status.state is MigrationState.UP_TO_DATE
        assert probes == 1

    async def test_each_caller_keeps_its_own_budget(self, database_config: DatabaseConfig) -> None:
        """A caller joining a longer check still answers within its own, shorter timeout."""

        async def probe(manager: ConnectionManager) -> MigrationStatus:
            await asyncio.sleep(1.0)
            return MigrationStatus(state=MigrationState.UP_TO_DATE)

        async with managed(database_config, migration_probe=probe) as manager:
            patient = asyncio.ensure_future(manager.health_check(timeout=5))
            await asyncio.sleep(0.05)
            hurried, elapsed = await _timed_health(manager, timeout=0.3)
            info = await patient
        assert elapsed < 0.8
        assert hurried.status is HealthStatus.UNHEALTHY
        assert hurried.errors == ("the database did not answer within 0.3 s",)
        assert info.status is HealthStatus.HEALTHY
