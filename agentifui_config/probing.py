"""Probing a database within a time budget, for the connection manager's health check.

The probe runs as a task of its own: when the budget runs out it is cancelled
and left to finish in the background, so a server that accepts a connection
and then says nothing cannot make the health check wait longer than asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import text

from agentifui_config.health import ConnectionPoolInfo, MigrationState, MigrationStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["health_warnings", "migration_error", "probe_database", "within"]

_PROBE: Final = text("SELECT version(), current_database()")

_T = TypeVar("_T")


async def probe_database(engine: AsyncEngine) -> tuple[str, str]:
    """The server's version string and the current database's name."""
    async with engine.connect() as connection:
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


def _abandon(task: asyncio.Task[Any]) -> None:
    task.cancel()
    task.add_done_callback(_consume)


def _consume(task: asyncio.Task[Any]) -> None:
    """Retrieve a cancelled probe's outcome so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


def health_warnings(
    elapsed_ms: float, slow_ms: float, pool: ConnectionPoolInfo, migrations: MigrationStatus
) -> list[str]:
    """The reasons a database that answered is only ``DEGRADED``, if any."""
    warnings = []
    if elapsed_ms > slow_ms:
        warnings.append(f"slow response: {elapsed_ms:.0f} ms (threshold {slow_ms:g} ms)")
    if pool.saturated:
        warnings.append("connection pool saturated: every connection is checked out")
    if not migrations.is_ready:
        warnings.append(f"migrations: {migrations.state.value}")
    return warnings


def migration_error(error: BaseException, scrub: Callable[[str], str]) -> MigrationStatus:
    """The migration status to report when the migration probe failed or timed out."""
    reason = "timed out" if isinstance(error, TimeoutError) else str(error)
    return MigrationStatus(state=MigrationState.ERROR, error=scrub(reason))
