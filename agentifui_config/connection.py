"""``ConnectionManager``: one object that owns the async engine, its pool and its sessions.

It builds the engine from a :class:`~agentifui_config.DatabaseConfig`, proves the
database answers, hands out sessions that always give their connection back
(even when the task holding one is cancelled), reports health within a time
budget, counts what happens to the pool, and shuts down gracefully. Several
managers may live in one process; there is no module-level instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from agentifui_config.checkouts import CheckoutTracker
from agentifui_config.connect_args import connect_args_for
from agentifui_config.errors import ConfigurationError, scrub
from agentifui_config.health import (
    ConnectionPoolInfo,
    DatabaseHealthInfo,
    HealthStatus,
    MigrationStatus,
)

if TYPE_CHECKING:
    from sqlalchemy.pool import Pool

    from agentifui_config.database import DatabaseConfig

__all__ = ["ConnectionManager", "DatabaseUnavailableError", "ManagerStateError"]

_LOG = logging.getLogger("agentifui_config.connection")

_PROBE: Final = text("SELECT version(), current_database()")
_FIRST_BACKOFF: Final = 0.1
_MAX_BACKOFF: Final = 2.0

_T = TypeVar("_T")

MigrationProbe = Callable[["ConnectionManager"], Awaitable[MigrationStatus]]
"""Reports the migration status of a manager's database for its health check."""


class DatabaseUnavailableError(ConfigurationError):
    """The database could not be reached; the message names host, port and database."""


class ManagerStateError(ConfigurationError):
    """The manager was used before :meth:`ConnectionManager.initialize` or after dispose."""


class ConnectionManager:
    """Owns an async engine and its pool for one database.

    Args:
        slow_threshold_ms: A health probe slower than this reports ``DEGRADED``.
        leak_threshold: Seconds after which a checked-out connection is logged
            as a suspected leak, with where it was checked out.
        migration_probe: Reports the migration status in :meth:`health_check`;
            without it the status is ``NOT_CONFIGURED``.

    Example:
        >>> manager = ConnectionManager()
        >>> manager.is_initialized
        False
    """

    def __init__(
        self,
        *,
        slow_threshold_ms: float = 1000.0,
        leak_threshold: float = 30.0,
        migration_probe: MigrationProbe | None = None,
    ) -> None:
        self.slow_threshold_ms = slow_threshold_ms
        self.migration_probe = migration_probe
        self._config: DatabaseConfig | None = None
        self._engine: AsyncEngine | None = None
        self._side_engine: AsyncEngine | None = None
        self._factory: async_sessionmaker[AsyncSession] | None = None
        self._lock = asyncio.Lock()
        self._disposed = False
        self._closing: set[asyncio.Task[None]] = set()
        self._tracker = CheckoutTracker(leak_threshold)
        self._counters = dict.fromkeys(
            ("sessions_opened", "sessions_failed", "health_checks", "connect_attempts"), 0
        )
        self._last_health_ms: float | None = None

    def __repr__(self) -> str:
        target = self._config.masked_url if self._config else "not initialized"
        return f"ConnectionManager({target!r}, checked_out={self.connection_count})"

    async def initialize(self, config: DatabaseConfig, *, retry_for: float = 0.0) -> None:
        """Build the engine and prove the database answers.

        Calling it again with the same configuration does nothing; concurrent
        calls build one engine.

        Args:
            config: Where the database is and how to pool connections to it.
            retry_for: Seconds to keep retrying, with exponential backoff, while
                the database is still starting.

        Raises:
            ManagerStateError: The manager is already initialized with another
                configuration; dispose it first.
            DatabaseUnavailableError: The database did not answer in time.
        """
        async with self._lock:
            if self._engine is not None:
                if config == self._config:
                    return
                raise ManagerStateError(
                    f"is already initialized for {self._config!s}",
                    variable="ConnectionManager",
                    remedy="await dispose() before initializing it with another configuration",
                )
            engine = _create_engine(config)
            try:
                await self._wait_until_ready(engine, config, retry_for)
            except BaseException:
                await engine.dispose()
                raise
            self._tracker.attach(engine.sync_engine.pool)
            self._config, self._engine, self._disposed = config, engine, False
            self._factory = async_sessionmaker(engine, expire_on_commit=False)

    async def _wait_until_ready(
        self, engine: AsyncEngine, config: DatabaseConfig, retry_for: float
    ) -> None:
        deadline = time.monotonic() + retry_for
        backoff = _FIRST_BACKOFF
        while True:
            self._counters["connect_attempts"] += 1
            try:
                async with asyncio.timeout(config.connect_timeout + 1.0):
                    async with engine.connect() as connection:
                        await connection.execute(text("SELECT 1"))
            except Exception as exc:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _unavailable(config, exc, self._counters["connect_attempts"]) from None
                await asyncio.sleep(min(backoff, remaining))
                backoff = min(backoff * 2, _MAX_BACKOFF)
            else:
                return

    @property
    def is_initialized(self) -> bool:
        """Whether :meth:`initialize` has succeeded and :meth:`dispose` has not run since."""
        return self._engine is not None

    @property
    def config(self) -> DatabaseConfig | None:
        """The configuration the engine was built from, or ``None`` before initialize."""
        return self._config

    @property
    def engine(self) -> AsyncEngine:
        """The async engine.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        if self._engine is None:
            raise self._state_error()
        return self._engine

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        """The session factory (``expire_on_commit=False``).

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        if self._factory is None:
            raise self._state_error()
        return self._factory

    def _state_error(self) -> ManagerStateError:
        state = "has been disposed" if self._disposed else "is not initialized"
        return ManagerStateError(
            state, variable="ConnectionManager", remedy="await manager.initialize(config) first"
        )

    async def get_session(self) -> AsyncIterator[AsyncSession]:
        """Yield a session; roll back on error and always give the connection back.

        Usable as a FastAPI dependency (``Depends(manager.get_session)``). The
        clean-up is shielded from cancellation, so a cancelled request still
        returns its connection to the pool.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        session = self.session_factory()
        self._counters["sessions_opened"] += 1
        failed = False
        try:
            yield session
        except BaseException:
            failed = True
            self._counters["sessions_failed"] += 1
            raise
        finally:
            await self._shielded(_release(session, rollback=failed))

    def session(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """The same as :meth:`get_session`, as ``async with manager.session() as session:``.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        return contextlib.asynccontextmanager(self.get_session)()

    async def _shielded(self, cleanup: Coroutine[Any, Any, None]) -> None:
        """Run *cleanup* to completion even if the calling task is cancelled meanwhile."""
        task = asyncio.ensure_future(cleanup)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        await asyncio.shield(task)

    @property
    def connection_count(self) -> int:
        """Connections checked out of the pool now."""
        return _count(self._pool, "checkedout") if self._engine is not None else 0

    @property
    def _pool(self) -> Pool:
        return self.engine.sync_engine.pool

    @property
    def pool_status(self) -> ConnectionPoolInfo:
        """A snapshot of the pool's counters.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        pool = self._pool
        checked_in = _count(pool, "checkedin")
        checked_out = _count(pool, "checkedout")
        config = self._config
        return ConnectionPoolInfo(
            pool_size=config.pool_size if config else 0,
            max_overflow=config.max_overflow if config else 0,
            checked_in=checked_in,
            checked_out_connections=checked_out,
            overflow_connections=_count(pool, "overflow"),
            invalid_connections=self._tracker.invalidated,
            active_connections=checked_in + checked_out,
        )

    def get_metrics(self) -> dict[str, float | int | None]:
        """Pool numbers, session and health counters, invalidations and the longest hold.

        Returns:
            A flat mapping of numbers, ready for a metrics exporter; pool numbers
            are zero before initialize.
        """
        pool = self.pool_status.to_dict() if self._engine is not None else {}
        self._tracker.report_leaks()
        return {
            **pool,
            **self._counters,
            "last_health_check_ms": self._last_health_ms,
            "connections_invalidated": self._tracker.invalidated,
            "longest_checkout_seconds": self._tracker.longest_held(),
            "suspected_leaks": self._tracker.suspected_leaks,
        }

    async def health_check(self, timeout: float = 5.0) -> DatabaseHealthInfo:  # noqa: ASYNC109
        """Probe the database within *timeout* seconds; never raises.

        A server that accepts the connection and then says nothing, or a pool
        with every connection lent out, cannot make it wait longer than
        *timeout*: a saturated pool is probed on a connection of its own.

        Returns:
            ``STARTING`` before initialize; ``HEALTHY``; ``DEGRADED`` when slow,
            when the pool is saturated or a warning stands; ``UNHEALTHY`` when
            the database cannot be reached or the probe fails.
        """
        if self._engine is None or self._config is None:
            return DatabaseHealthInfo.starting()
        self._counters["health_checks"] += 1
        self._tracker.report_leaks()
        pool = self.pool_status
        engine = self._side(self._config) if pool.saturated else self._engine
        started = time.perf_counter()
        outcome = await _within(timeout, _probe(engine))
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._last_health_ms = elapsed_ms
        if isinstance(outcome, BaseException):
            return self._unhealthy(outcome, timeout, pool, elapsed_ms)
        migrations = await self._migration_status(timeout - elapsed_ms / 1000)
        warnings = _warnings(elapsed_ms, self.slow_threshold_ms, pool, migrations)
        return DatabaseHealthInfo(
            status=HealthStatus.DEGRADED if warnings else HealthStatus.HEALTHY,
            connected=True,
            response_time_ms=round(elapsed_ms, 3),
            version=outcome[0],
            database_name=outcome[1],
            connection_pool=pool,
            migration_status=migrations,
            warnings=tuple(warnings),
            checked_at=datetime.now(UTC),
        )

    def _unhealthy(
        self, error: BaseException, timeout: float, pool: ConnectionPoolInfo, elapsed_ms: float
    ) -> DatabaseHealthInfo:
        if isinstance(error, TimeoutError):
            reason = f"the database did not answer within {timeout:g} s"
        else:
            reason = f"{type(error).__name__}: {self._scrub(str(error))}"
        return DatabaseHealthInfo(
            status=HealthStatus.UNHEALTHY,
            connected=False,
            response_time_ms=round(elapsed_ms, 3),
            connection_pool=pool,
            errors=(reason,),
            checked_at=datetime.now(UTC),
        )

    async def _migration_status(self, budget: float) -> MigrationStatus:
        if self.migration_probe is None:
            return MigrationStatus.not_configured()
        outcome = await _within(max(budget, 0.001), self.migration_probe(self))
        if isinstance(outcome, BaseException):
            from agentifui_config.health import MigrationState  # noqa: PLC0415 - rare path

            reason = "timed out" if isinstance(outcome, TimeoutError) else str(outcome)
            return MigrationStatus(state=MigrationState.ERROR, error=self._scrub(reason))
        return outcome

    def _side(self, config: DatabaseConfig) -> AsyncEngine:
        """An unpooled engine for probing while the pool is saturated."""
        if self._side_engine is None:
            self._side_engine = _create_engine(config, poolclass=NullPool)
        return self._side_engine

    def _scrub(self, message: str) -> str:
        config = self._config
        return scrub(message, [config.password.get_secret_value()] if config else [])

    async def dispose(self, grace: float = 10.0) -> None:
        """Wait up to *grace* seconds for checked-out connections, then close everything.

        Calling it again, or before initialize, does nothing.
        """
        async with self._lock:
            engine, side = self._engine, self._side_engine
            if engine is None:
                return
            deadline = time.monotonic() + grace
            await _drain(engine.sync_engine.pool, deadline)
            if self._closing:
                await asyncio.wait(set(self._closing), timeout=max(deadline - time.monotonic(), 0))
            self._engine = self._factory = self._side_engine = None
            self._disposed = True
            self._tracker.detach()
            await engine.dispose()
            if side is not None:
                await side.dispose()


def _create_engine(config: DatabaseConfig, **overrides: Any) -> AsyncEngine:
    options: dict[str, Any] = {
        "pool_size": config.pool_size,
        "max_overflow": config.max_overflow,
        "pool_timeout": config.pool_timeout,
        "pool_recycle": config.pool_recycle,
        "pool_pre_ping": config.pool_pre_ping,
        "echo": config.echo_sql,
        "connect_args": connect_args_for(config),
        **overrides,
    }
    if options.get("poolclass") is NullPool:
        for key in ("pool_size", "max_overflow", "pool_timeout"):
            options.pop(key)
    return create_async_engine(config.sqlalchemy_url, **options)


async def _release(session: AsyncSession, *, rollback: bool) -> None:
    try:
        if rollback:
            await session.rollback()
    finally:
        await session.close()


async def _probe(engine: AsyncEngine) -> tuple[str, str]:
    async with engine.connect() as connection:
        row = (await connection.execute(_PROBE)).one()
    return str(row[0]), str(row[1])


async def _within(timeout: float, work: Awaitable[_T]) -> _T | BaseException:  # noqa: ASYNC109
    """Run *work* for at most *timeout* seconds; return its result or the exception.

    A timed-out task is cancelled but not awaited, so a connection that hangs
    while being torn down cannot stretch the caller's budget.
    """
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        task.add_done_callback(_consume)
        return TimeoutError()
    exception = task.exception()
    return exception if exception is not None else task.result()


def _consume(task: asyncio.Task[Any]) -> None:
    """Retrieve a cancelled probe's outcome so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


def _warnings(
    elapsed_ms: float, slow_ms: float, pool: ConnectionPoolInfo, migrations: MigrationStatus
) -> list[str]:
    warnings = []
    if elapsed_ms > slow_ms:
        warnings.append(f"slow response: {elapsed_ms:.0f} ms (threshold {slow_ms:g} ms)")
    if pool.saturated:
        warnings.append("connection pool saturated: every connection is checked out")
    if not migrations.is_ready:
        warnings.append(f"migrations: {migrations.state.value}")
    return warnings


async def _drain(pool: Pool, deadline: float) -> None:
    """Wait until no connection is checked out, or until *deadline*."""
    # Check-ins arrive as synchronous pool events; a short poll bounds the wait.
    while _count(pool, "checkedout") and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _count(pool: Pool, name: str) -> int:
    counter = getattr(pool, name, None)
    return int(counter()) if callable(counter) else 0


def _unavailable(
    config: DatabaseConfig, error: BaseException, attempts: int
) -> DatabaseUnavailableError:
    where = f"{config.host}:{config.port}/{config.database} as {config.username}"
    cause = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
    cause = scrub(cause, [config.password.get_secret_value()])
    return DatabaseUnavailableError(
        f"cannot connect to {where} after {attempts} attempt(s): {cause}",
        variable="DB_HOST",
        remedy="check that the server runs and that DB_HOST, DB_PORT, DB_USERNAME, "
        "DB_PASSWORD and DB_DATABASE are right; pass retry_for= to wait for a starting server",
    )
