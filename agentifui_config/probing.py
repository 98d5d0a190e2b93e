"""Probing a database within a time budget, for the connection manager's health check.

The probe runs as a task of its own: when the budget runs out it is cancelled
and left to finish in the background, so a server that accepts a connection
and then says nothing cannot make the health check wait longer than asked.
Concurrent health checks share one probe (:class:`SharedProbe`), so a storm of
them costs one round trip and at most one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from sqlalchemy import text

from agentifui_config.health import (
    ConnectionPoolInfo,
    DatabaseHealthInfo,
    HealthStatus,
    MigrationState,
    MigrationStatus,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from agentifui_config.connection import ConnectionManager
    from agentifui_config.database import DatabaseConfig

__all__ = [
    "HealthCheck",
    "SharedProbe",
    "answered",
    "database_status",
    "migration_error",
    "probe_database",
    "unanswered",
    "within",
]

_PROBE: Final = text("SELECT version(), current_database()")

# Seconds a shared health check leaves between its own end and its starter's budget.
_HANDOVER: Final = 0.05

_T = TypeVar("_T")


async def probe_database(
    engine: AsyncEngine, one_at_a_time: asyncio.Lock | None = None
) -> tuple[str, str]:
    """The server's version string and the current database's name.

    Args:
        engine: The engine to probe through.
        one_at_a_time: Held while the probe's connection is open, so that probes
            through an unpooled engine never hold more than one connection, even
            while an abandoned one is still being torn down.
    """
    async with one_at_a_time or contextlib.nullcontext(), engine.connect() as connection:
        row = (await connection.execute(_PROBE)).one()
    return str(row[0]), str(row[1])


async def within(timeout: float, work: Awaitable[_T]) -> _T | BaseException:  # noqa: ASYNC109
    """Run *work* for at most *timeout* seconds; return its result or the exception.

    A timed-out task is cancelled but not awaited, so a connection that hangs
    while being torn down cannot stretch the caller's budget. So is the task of
    a caller that is cancelled itself: nobody is left to wait for it.
    """
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        _abandon(task)
        raise
    if not done:
        _abandon(task)
        return TimeoutError()
    exception = task.exception()
    return exception if exception is not None else task.result()


def _abandon(task: asyncio.Future[Any]) -> None:
    task.cancel()
    task.add_done_callback(_consume)


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a cancelled probe's outcome so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


class SharedProbe(Generic[_T]):
    """One probe in flight at a time: callers that arrive meanwhile wait for the same one.

    Each caller waits at most its own budget. A caller that gives up, or is
    cancelled, leaves the probe running for the others; when the last one
    leaves, the probe is cancelled, as :func:`within` does for a single caller.
    """

    def __init__(self) -> None:
        self._running: asyncio.Future[_T] | None = None
        self._waiting = 0

    async def join(
        self,
        start: Callable[[], Awaitable[_T]],
        timeout: float,  # noqa: ASYNC109 - this caller's budget, not the probe's
    ) -> _T | BaseException:
        """The outcome of the probe in flight, or of one *start* begins; see :func:`within`."""
        running = self._running
        if running is None or running.get_loop() is not asyncio.get_running_loop():
            running = asyncio.ensure_future(start())
            self._running, self._waiting = running, 0
            running.add_done_callback(self._finished)
        self._waiting += 1
        try:
            # Shielded: within() cancels what it waits for when this caller's budget ends.
            return await within(timeout, asyncio.shield(running))
        finally:
            if running is self._running:
                self._waiting -= 1
                if not self._waiting and not running.done():
                    self._running = None
                    _abandon(running)

    def _finished(self, task: asyncio.Future[_T]) -> None:
        if self._running is task:
            self._running = None


class HealthCheck:
    """A connection manager's health check, the part of it that probes.

    Concurrent checks share one probe (:class:`SharedProbe`). A saturated pool
    is probed through an unpooled side engine, one connection at a time.

    Args:
        manager: The manager whose database, pool and migrations are checked.
        side_engine: Builds the unpooled side engine from the configuration.
        scrub: Removes secrets from error texts.
    """

    def __init__(
        self,
        manager: ConnectionManager,
        side_engine: Callable[[DatabaseConfig], AsyncEngine],
        scrub: Callable[[str], str],
    ) -> None:
        self._manager, self._new_side, self._scrub = manager, side_engine, scrub
        self._shared: SharedProbe[DatabaseHealthInfo] = SharedProbe()
        self._side: AsyncEngine | None = None
        self._side_slot = asyncio.Lock()
        self.runs = 0
        self.last_ms: float | None = None

    async def check(self, timeout: float) -> DatabaseHealthInfo:  # noqa: ASYNC109
        """Join the probe in flight, or start one; see ``ConnectionManager.health_check()``."""
        started = time.perf_counter()
        outcome = await self._shared.join(lambda: self._run(timeout), timeout)
        if isinstance(outcome, BaseException):
            manager = self._manager
            pool = manager.pool_status if manager.is_initialized else None
            elapsed_ms = (time.perf_counter() - started) * 1000
            return unanswered(outcome, timeout, pool, elapsed_ms, self._scrub)
        return outcome

    def take_side_engine(self) -> AsyncEngine | None:
        """The side engine, if one was built, for its owner to dispose; forgotten here."""
        side, self._side = self._side, None
        return side

    async def _run(self, timeout: float) -> DatabaseHealthInfo:  # noqa: ASYNC109
        """One probe of the database and its migrations."""
        manager = self._manager
        self.runs += 1
        pool = manager.pool_status
        if pool.saturated:
            work = probe_database(self._side_engine(), self._side_slot)
        else:
            work = probe_database(manager.engine)
        # Ends a little before its starter's budget, so the starter gets its result.
        budget = timeout - min(_HANDOVER, timeout / 10)
        started = time.perf_counter()
        outcome = await within(budget, work)
        elapsed_ms = self.last_ms = (time.perf_counter() - started) * 1000
        if isinstance(outcome, BaseException):
            return unanswered(outcome, timeout, pool, elapsed_ms, self._scrub)
        migrations = await self._migrations(budget - elapsed_ms / 1000)
        return answered(outcome, elapsed_ms, manager.slow_threshold_ms, pool, migrations)

    async def _migrations(self, budget: float) -> MigrationStatus:
        probe = self._manager.migration_probe
        if probe is None:
            return MigrationStatus.not_configured()
        outcome = await within(max(budget, 0.001), probe(self._manager))
        if isinstance(outcome, BaseException):
            return migration_error(outcome, self._scrub)
        return outcome

    def _side_engine(self) -> AsyncEngine:
        if self._side is None:
            config = self._manager.config
            assert config is not None  # a probe runs only while the manager is initialized
            self._side = self._new_side(config)
        return self._side


def answered(
    server: tuple[str, str],
    elapsed_ms: float,
    slow_ms: float,
    pool: ConnectionPoolInfo,
    migrations: MigrationStatus,
) -> DatabaseHealthInfo:
    """The health of a database that answered the probe.

    ``DEGRADED`` with a warning when slow or saturated; ``UNHEALTHY`` with the
    error ``migrations: <state>`` when the migrations are not ready
    (:attr:`MigrationStatus.health <agentifui_config.health.MigrationStatus.health>`).
    """
    warnings = []
    if elapsed_ms > slow_ms:
        warnings.append(f"slow response: {elapsed_ms:.0f} ms (threshold {slow_ms:g} ms)")
    if pool.saturated:
        warnings.append("connection pool saturated: every connection is checked out")
    errors = () if migrations.is_ready else (f"migrations: {migrations.state.value}",)
    info = DatabaseHealthInfo(
        status=HealthStatus.HEALTHY,
        connected=True,
        response_time_ms=round(elapsed_ms, 3),
        version=server[0],
        database_name=server[1],
        connection_pool=pool,
        migration_status=migrations,
        errors=errors,
        warnings=tuple(warnings),
        checked_at=datetime.now(UTC),
    )
    return replace(info, status=HealthStatus.worst(database_status(info), migrations.health))


def database_status(info: DatabaseHealthInfo) -> HealthStatus:
    """The verdict on the database alone, leaving its migrations out.

    A database that answered is ``DEGRADED`` when a warning stands, else
    ``HEALTHY``; one that did not keeps the status it was given.
    """
    if not info.connected:
        return info.status
    return HealthStatus.DEGRADED if info.warnings else HealthStatus.HEALTHY


def unanswered(
    error: BaseException,
    timeout: float,
    pool: ConnectionPoolInfo | None,
    elapsed_ms: float,
    scrub: Callable[[str], str],
) -> DatabaseHealthInfo:
    """The health of a database that could not be probed: ``UNHEALTHY``, with the reason."""
    if isinstance(error, TimeoutError):
        reason = f"the database did not answer within {timeout:g} s"
    else:
        reason = f"{type(error).__name__}: {scrub(str(error))}"
    return DatabaseHealthInfo(
        status=HealthStatus.UNHEALTHY,
        connected=False,
        response_time_ms=round(elapsed_ms, 3),
        connection_pool=pool,
        errors=(reason,),
        checked_at=datetime.now(UTC),
    )


def migration_error(error: BaseException, scrub: Callable[[str], str]) -> MigrationStatus:
    """The migration status to report when the migration probe failed or timed out."""
    reason = "timed out" if isinstance(error, TimeoutError) else str(error)
    return MigrationStatus(state=MigrationState.ERROR, error=scrub(reason))
