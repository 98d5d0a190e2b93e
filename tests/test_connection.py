"""Tests for ConnectionManager's lifecycle: initialize, state, dispose and metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy.exc
from connection_support import POOL_KEYS, backend_states, eventually, free_port, managed, unique
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agentifui_config import AgentifuiError, ConfigurationError, ConnectionManager
from agentifui_config.connection import DatabaseUnavailableError, ManagerStateError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from agentifui_config import DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

pytestmark = pytest.mark.asyncio

_SELECT_ONE = text("SELECT 1")


def _event(record: logging.LogRecord) -> object:
    return getattr(record, "event_name", None)


class TestInitialize:
    async def test_cycles_of_initialize_use_dispose(self, database_config: DatabaseConfig) -> None:
        """A manager can be initialized, used and disposed several times over."""
        manager = ConnectionManager()
        states: list[tuple[bool, int]] = []
        for _ in range(3):
            await manager.initialize(database_config)
            assert manager.config == database_config
            async with manager.session() as session:
                assert (await session.execute(_SELECT_ONE)).scalar_one() == 1
                states.append((manager.is_initialized, manager.connection_count))
            await manager.dispose()
            states.append((manager.is_initialized, manager.connection_count))
        assert states == [(True, 1), (False, 0)] * 3

    async def test_same_configuration_again_does_nothing(
        self, database_config: DatabaseConfig
    ) -> None:
        """A second initialize with an equal configuration keeps the engine and does not connect."""
        async with managed(database_config) as manager:
            engine = manager.engine
            await manager.initialize(database_config.model_copy())
            assert manager.engine is engine
            assert manager.get_metrics()["connect_attempts"] == 1

    async def test_concurrent_calls_build_one_engine(
        self, database_config: DatabaseConfig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Initialize calls racing each other build and probe a single engine."""
        built: list[AsyncEngine] = []

        def counting(*args: Any, **kwargs: Any) -> AsyncEngine:
            engine = create_async_engine(*args, **kwargs)
            built.append(engine)
            return engine

        monkeypatch.setattr("agentifui_config.engine.create_async_engine", counting)
        manager = ConnectionManager()
        try:
            await asyncio.gather(*(manager.initialize(database_config) for _ in range(8)))
            assert len(built) == 1
            assert manager.engine is built[0]
            assert manager.get_metrics()["connect_attempts"] == 1
        finally:
            await manager.dispose()

    async def test_another_configuration_needs_dispose_first(
        self, database_config: DatabaseConfig
    ) -> None:
        """Initializing with another configuration raises and leaves the first engine working."""
        other = unique(database_config)
        async with managed(database_config) as manager:
            engine = manager.engine
            with pytest.raises(ManagerStateError) as caught:
                await manager.initialize(other)
            message = str(caught.value)
            assert message.startswith("the ConnectionManager is already initialized for ")
            assert database_config.masked_url in message
            assert "await dispose() before initializing it with another configuration" in message
            # A misuse of the API: no variable is at fault, and no ValueError handler catches it.
            assert caught.value.variable is None
            assert isinstance(caught.value, AgentifuiError | RuntimeError)
            assert not isinstance(caught.value, ConfigurationError | ValueError)
            assert manager.engine is engine
            async with manager.session() as session:
                assert (await session.execute(_SELECT_ONE)).scalar_one() == 1

    async def test_another_configuration_after_dispose(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """After dispose the manager takes another configuration, and connects with it."""
        other = unique(database_config)
        manager = ConnectionManager()
        await manager.initialize(database_config)
        await manager.dispose()
        await manager.initialize(other)
        try:
            assert manager.config == other
            async with manager.session() as session:
                await session.execute(_SELECT_ONE)
                assert await backend_states(postgres_server, other) == ["idle in transaction"]
        finally:
            await manager.dispose()

    async def test_closed_port_is_unavailable(self, database_config: DatabaseConfig) -> None:
        """Nothing listening fails at once, naming host, port, database and user."""
        port = free_port()
        config = database_config.model_copy(update={"host": "127.0.0.1", "port": port})
        manager = ConnectionManager()
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError) as caught:
            await manager.initialize(config)
        assert time.monotonic() - started < config.connect_timeout + 1
        where = f"127.0.0.1:{port}/{config.database} as {config.username}"
        assert str(caught.value).startswith(
            f"cannot connect to {where}: the server refused the connection or cannot be reached: "
        )
        assert caught.value.variable is None  # a server that is down is no variable's fault
        assert "retry_for=" in caught.value.remedy
        assert caught.value.__cause__ is None
        assert not manager.is_initialized
        with pytest.raises(ManagerStateError, match="is not initialized"):
            _ = manager.engine

    async def test_retry_for_bounds_the_retries(self, database_config: DatabaseConfig) -> None:
        """With retry_for, a closed port is retried with backoff, then refused within the bound."""
        config = database_config.model_copy(update={"host": "127.0.0.1", "port": free_port()})
        manager = ConnectionManager()
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError, match=r"\(after [3-5] attempts\)"):
            await manager.initialize(config, retry_for=0.5)
        elapsed = time.monotonic() - started
        assert 0.45 <= elapsed < 3.0
        attempts = manager.get_metrics()["connect_attempts"]
        assert isinstance(attempts, int)
        assert attempts >= 3


class TestAsyncWith:
    async def test_initializes_then_disposes(self, database_config: DatabaseConfig) -> None:
        """``async with ConnectionManager(config)`` opens the pool for the block and closes it."""
        async with ConnectionManager(database_config) as manager:
            async with manager.session() as session:
                assert (await session.execute(_SELECT_ONE)).scalar_one() == 1
            inside = (manager.is_initialized, manager.config)
        assert inside == (True, database_config)
        assert not manager.is_initialized
        with pytest.raises(ManagerStateError, match="has been disposed"):
            _ = manager.engine

    async def test_disposes_when_the_block_raises(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """An error in the block propagates, and the pool is closed, its server connection gone."""
        config = unique(database_config)
        manager = ConnectionManager(config)
        states: list[str] = []

        async def block() -> None:
            async with manager:
                async with manager.session() as session:
                    await session.execute(_SELECT_ONE)
                states.extend(await backend_states(postgres_server, config))
                raise LookupError("from the block")

        with pytest.raises(LookupError, match="from the block"):
            await block()
        assert states == ["idle"]
        assert not manager.is_initialized

        async def gone() -> bool:
            return await backend_states(postgres_server, config) == []

        assert await eventually(gone)

    async def test_unreachable_database_raises_on_entry(
        self, database_config: DatabaseConfig
    ) -> None:
        """A database that does not answer fails the entry, and the block never runs."""
        config = database_config.model_copy(update={"host": "127.0.0.1", "port": free_port()})
        entered = False
        with pytest.raises(DatabaseUnavailableError, match="cannot connect"):
            async with ConnectionManager(config):
                entered = True
        assert not entered

    async def test_initialized_manager_without_configuration(
        self, database_config: DatabaseConfig
    ) -> None:
        """A manager initialized beforehand (with retry_for) is entered as is, then disposed."""
        manager = ConnectionManager()
        await manager.initialize(database_config, retry_for=1)
        engine = manager.engine
        async with manager as entered:
            assert entered is manager
            assert manager.engine is engine
        assert not manager.is_initialized

    async def test_no_configuration_at_all_is_refused(self) -> None:
        """Entering a manager with no configuration and not initialized says how to give one."""
        with pytest.raises(ManagerStateError, match=r"ConnectionManager\(settings.database\)"):
            async with ConnectionManager():
                pass


class TestState:
    async def test_nothing_works_before_initialize(self) -> None:
        """Before initialize, sessions, the engine and the pool refuse with 'not initialized'."""
        manager = ConnectionManager()
        assert not manager.is_initialized
        assert manager.config is None
        assert manager.connection_count == 0
        with pytest.raises(ManagerStateError, match="is not initialized"):
            await anext(manager.get_session())
        with pytest.raises(ManagerStateError, match="is not initialized"):
            async with manager.session():
                pass
        with pytest.raises(ManagerStateError, match=r"manager\.initialize\(config\) first"):
            _ = manager.session_factory
        with pytest.raises(ManagerStateError, match="is not initialized"):
            _ = manager.pool_status

    async def test_nothing_works_after_dispose(self, database_config: DatabaseConfig) -> None:
        """After dispose, sessions and the engine refuse with 'has been disposed'."""
        manager = ConnectionManager()
        await manager.initialize(database_config)
        await manager.dispose()
        assert not manager.is_initialized
        with pytest.raises(ManagerStateError, match="has been disposed"):
            await anext(manager.get_session())
        with pytest.raises(ManagerStateError, match="has been disposed"):
            async with manager.session():
                pass
        with pytest.raises(ManagerStateError, match="has been disposed"):
            _ = manager.engine


class TestDispose:
    async def test_held_connection_delays_then_is_closed(
        self,
        postgres_server: PostgresServer,
        database_config: DatabaseConfig,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A connection still held makes dispose wait out its grace, then it is closed too."""
        config = unique(database_config)
        caplog.set_level(logging.WARNING, logger="agentifui_config")
        manager = ConnectionManager()
        await manager.initialize(config)
        async with manager.session() as session:
            await session.execute(_SELECT_ONE)
            started = time.monotonic()
            await manager.dispose(grace=0.5)
            assert 0.45 <= time.monotonic() - started < 3.0
            assert not manager.is_initialized

            async def no_backend_left() -> bool:
                return await backend_states(postgres_server, config) == []

            assert await eventually(no_backend_left)
            with pytest.raises(sqlalchemy.exc.DBAPIError):
                await session.execute(_SELECT_ONE)
        logged = [r for r in caplog.records if _event(r) == "connections_closed_at_dispose"]
        assert [r.getMessage() for r in logged] == [
            "1 connection(s) still checked out after the 0.5 s grace; closed"
        ]

    async def test_returned_connection_ends_the_wait(self, database_config: DatabaseConfig) -> None:
        """Dispose stops waiting as soon as the last connection comes back."""
        manager = ConnectionManager()
        await manager.initialize(database_config)
        released = asyncio.Event()

        async def hold() -> None:
            async with manager.session() as session:
                await session.execute(_SELECT_ONE)
                await asyncio.sleep(0.2)
            released.set()

        holder = asyncio.create_task(hold())
        while manager.connection_count == 0:  # noqa: ASYNC110 - the checkout is a pool event
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await manager.dispose(grace=30)
        assert released.is_set()
        assert time.monotonic() - started < 10
        await holder

    async def test_twice_and_before_initialize(self, database_config: DatabaseConfig) -> None:
        """Dispose before initialize and a second dispose do nothing and raise nothing."""
        manager = ConnectionManager()
        await manager.dispose()
        assert not manager.is_initialized
        await manager.initialize(database_config)
        await manager.dispose()
        await manager.dispose()
        assert not manager.is_initialized
        assert manager.connection_count == 0


_METRIC_KEYS = {
    *POOL_KEYS,
    "sessions_opened",
    "sessions_failed",
    "health_checks",
    "connect_attempts",
    "last_health_check_ms",
    "connections_invalidated",
    "longest_checkout_seconds",
    "reads_to_replicas",
    "reads_to_primary",
    "suspected_leaks",
}


class TestMetrics:
    async def test_same_keys_in_every_state(self, database_config: DatabaseConfig) -> None:
        """Before initialize, while running and after dispose, the metrics have the same keys."""
        manager = ConnectionManager()
        before = manager.get_metrics()
        await manager.initialize(database_config)
        running = manager.get_metrics()
        await manager.dispose()
        after = manager.get_metrics()
        assert before.keys() == running.keys() == after.keys() == _METRIC_KEYS
        assert before["pool_size"] == after["checked_in"] == 0
        assert running["pool_size"] == database_config.pool_size
        assert before["last_health_check_ms"] is None

    async def test_counters_only_grow(self, database_config: DatabaseConfig) -> None:
        """Session, failure and health counters count each event and never go back."""
        async with managed(database_config) as manager:
            history = [manager.get_metrics()]
            for round_ in range(3):
                async with manager.session() as session:
                    await session.execute(_SELECT_ONE)
                with pytest.raises(KeyError):
                    async with manager.session():
                        raise KeyError(round_)
                await manager.health_check()
                history.append(manager.get_metrics())
            counters = ("sessions_opened", "sessions_failed", "health_checks")
            assert [[m[c] for c in counters] for m in history] == [
                [0, 0, 0],
                [2, 1, 1],
                [4, 2, 2],
                [6, 3, 3],
            ]
            last_ms = [m["last_health_check_ms"] for m in history[1:]]
            assert all(isinstance(ms, float) and ms > 0 for ms in last_ms)
            assert history[-1]["connect_attempts"] == 1

    async def test_longest_checkout_covers_a_hold(self, database_config: DatabaseConfig) -> None:
        """longest_checkout_seconds reports a connection held open, and keeps it once returned."""
        async with managed(database_config) as manager:
            async with manager.session() as session:
                await session.execute(_SELECT_ONE)
                await asyncio.sleep(0.2)
                during = manager.get_metrics()
            after = manager.get_metrics()
        assert during["checked_out_connections"] == 1
        assert after["checked_out_connections"] == 0
        for metrics in (during, after):
            longest = metrics["longest_checkout_seconds"]
            assert isinstance(longest, float)
            assert longest >= 0.2
