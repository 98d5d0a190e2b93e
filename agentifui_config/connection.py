"""``ConnectionManager``: one object that owns the async engine, its pool and its sessions.

It builds the engine from a :class:`~agentifui_config.DatabaseConfig`, proves the
database answers, hands out sessions that always give their connection back
(even when the task holding one is cancelled), reports health within a time
budget, counts what happens to the pool, and shuts down gracefully. Several
managers may live in one process; there is no module-level instance. Its read
side (read sessions, routed to replicas) is in :mod:`agentifui_config.read_sessions`,
its reports (pool numbers, metrics, health) in :mod:`agentifui_config.reports`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Self

from sqlalchemy.pool import NullPool

from agentifui_config.checkouts import CheckoutTracker
from agentifui_config.engine import DatabaseUnavailableError, create_engine_for, wait_until_ready
from agentifui_config.errors import AgentifuiError
from agentifui_config.health import MigrationStatus
from agentifui_config.probing import HealthCheck
from agentifui_config.read_sessions import ReadSessions
from agentifui_config.reports import ManagerReports, pool_count
from agentifui_config.secrecy import scrub_config
from agentifui_config.session_scopes import SessionScope, release, settle

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import (
        AsyncEngine,
        AsyncSession,
        async_sessionmaker,
    )
    from sqlalchemy.pool import Pool

    from agentifui_config.credentials import Credentials
    from agentifui_config.database import DatabaseConfig

__all__ = ["ConnectionManager", "DatabaseUnavailableError", "ManagerStateError"]

_LOG = logging.getLogger("agentifui_config.connection")


# Seconds dispose() lets the server see idle connections off before cutting them.
_CLOSE_WAIT: Final = 2.0

MigrationProbe = Callable[["ConnectionManager"], Awaitable[MigrationStatus]]
"""Reports the migration status of a manager's database for its health check."""


class ManagerStateError(AgentifuiError, RuntimeError):
    """The manager was used before :meth:`ConnectionManager.initialize` or after dispose.

    A misuse of the API, not a configuration problem: it names no variable.
    """


class ConnectionManager(ReadSessions, ManagerReports):
    """Owns an async engine and its pool for one database.

    In a script or a worker, ``async with ConnectionManager(config) as manager:``
    initializes it on entry and disposes it on exit, even when the block raises.

    Args:
        config: The database :meth:`__aenter__` initializes the manager on; not
            needed when :meth:`initialize` is called instead.
        slow_threshold_ms: A health probe slower than this reports ``DEGRADED``.
        leak_threshold: Seconds after which a checked-out connection is logged
            as a suspected leak, with where it was checked out.
        migration_probe: Reports the migration status in :meth:`health_check`;
            without it the status is ``NOT_CONFIGURED``.
        session_options: Further ``async_sessionmaker`` options, e.g.
            ``{"sync_session_class": AppSession}`` for a session class with
            its own event listeners (``expire_on_commit`` stays ``False``
            unless given here).
        credentials: Rotating credentials: a password provider called for each
            new connection instead of ``DB_PASSWORD`` (see ``docs/scaling.md``).

    Example:
        >>> manager = ConnectionManager()
        >>> manager.is_initialized
        False
    """

    def __init__(
        self,
        config: DatabaseConfig | None = None,
        /,
        *,
        slow_threshold_ms: float = 1000.0,
        leak_threshold: float = 30.0,
        migration_probe: MigrationProbe | None = None,
        session_options: Mapping[str, Any] | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.credentials = credentials
        self.slow_threshold_ms = slow_threshold_ms
        self.migration_probe = migration_probe
        self._session_options = {"expire_on_commit": False, **(session_options or {})}
        self._entry_config = config
        # What repr() shows, worked out once: asyncio formats a finished task's
        # result (the manager, for a fixture) each time a Runner restores SIGINT.
        self._shown = "not initialized"
        self._config: DatabaseConfig | None = None
        self._engine: AsyncEngine | None = None
        self._factory: async_sessionmaker[AsyncSession] | None = None
        self._reads = None
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()
        self._tracker = CheckoutTracker(leak_threshold)
        self._counters = dict.fromkeys(
            ("sessions_opened", "sessions_failed", "connect_attempts"), 0
        )
        self._health = HealthCheck(
            self,
            partial(create_engine_for, credentials=credentials, poolclass=NullPool),
            self._scrub,
        )

    def _count_attempt(self) -> None:
        self._counters["connect_attempts"] += 1

    def __repr__(self) -> str:
        return f"ConnectionManager({self._shown!r}, checked_out={self.connection_count})"

    async def __aenter__(self) -> Self:
        """Initialize on the configuration given to the constructor, unless already initialized.

        Raises:
            ManagerStateError: No configuration was given and the manager is not
                initialized.
            DatabaseUnavailableError: The database did not answer; nothing is left open.
        """
        if self._entry_config is not None:
            await self.initialize(self._entry_config)
        elif not self.is_initialized:
            raise ManagerStateError(
                "was entered with no configuration to initialize on",
                variable="ConnectionManager",
                remedy="pass one, as in ConnectionManager(settings.database), "
                "or await initialize(config) before the async with",
            )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Dispose the manager, whether the block returned or raised."""
        await self.dispose()

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
                    f"the ConnectionManager is already initialized for {self._config!s}",
                    remedy="await dispose() before initializing it with another configuration",
                )
            engine = create_engine_for(config, credentials=self.credentials)
            # Attached first, so the probe's connection is known to rest in the pool.
            self._tracker.attach(engine.sync_engine.pool)
            try:
                await wait_until_ready(engine, config, retry_for, self._count_attempt)
            except BaseException:
                self._tracker.detach()
                await engine.dispose()
                raise
            self._config, self._engine = config, engine
            self._shown = config.masked_url
            self._factory = self._open_reads(
                config, engine, self._session_options, self._pool_saturated
            )

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
        # The configuration outlives dispose(): having one without an engine means disposed.
        state = "has been disposed" if self._config is not None else "is not initialized"
        return ManagerStateError(
            f"the ConnectionManager {state}", remedy="await manager.initialize(config) first"
        )

    async def get_session(self) -> AsyncIterator[AsyncSession]:
        """Yield a session; roll back on error and always give the connection back.

        Usable as a FastAPI dependency (``Depends(manager.get_session)``). The
        clean-up is shielded from cancellation, so a cancelled request still
        returns its connection to the pool. When the rollback after an error
        fails (the connection died), that is logged and the original error,
        or cancellation, propagates.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        async with SessionScope(self) as session:
            yield session

    def session(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """The same as :meth:`get_session`, as ``async with manager.session() as session:``.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        return SessionScope(self)

    def _committed(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """As :meth:`session`, committing on a clean exit: commit and close in one step."""
        return SessionScope(self, commit=True)

    def _lent(self, session: AsyncSession) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """Lend *session* (a read session, say) as :meth:`session` lends its own."""
        return SessionScope(self, session)

    def _open_session(self, session: AsyncSession | None = None) -> AsyncSession:
        session = self.session_factory() if session is None else session
        self._counters["sessions_opened"] += 1
        return session

    async def _close_session(
        self, session: AsyncSession, error: type[BaseException] | None
    ) -> None:
        """Roll back after an error and close; shielded when a connection is to be given back."""
        # GeneratorExit is aclose(): the consumer is done with the session, nothing failed.
        failed = error is not None and not issubclass(error, GeneratorExit)
        if failed:
            self._counters["sessions_failed"] += 1
        if not session.in_transaction():
            # No transaction, no connection (SQLAlchemy 2 connects inside one only):
            # closing does no I/O, so it cannot be interrupted and needs no shield.
            await session.close()
            return
        if failed:
            await self._shielded(self._quietly(release(session, rollback=True)))
        else:
            await self._shielded(session.close())

    async def _quietly(self, release: Coroutine[Any, Any, None]) -> None:
        """Run *release* after the session's code raised, logging rather than raising.

        A connection that died under the session cannot be rolled back; that
        error must not replace the one (or the cancellation) the caller sees.
        """
        try:
            await release
        except Exception as exc:
            _LOG.warning(
                "rolling back a failed session failed, its connection is dropped: %s",
                self._scrub(f"{type(exc).__name__}: {exc}"),
                extra={"event_name": "session_rollback_failed"},
            )

    async def _shielded(self, cleanup: Coroutine[Any, Any, None]) -> None:
        """Run *cleanup* to completion even if the calling task is cancelled meanwhile.

        It runs in a task of its own, which hands its outcome to the caller as
        its last step: the caller resumes one loop iteration sooner than
        through ``asyncio.shield()``, which relays it from a done callback. A
        cancelled caller stops waiting at once; the clean-up goes on.
        """
        outcome = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(settle(cleanup, outcome))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        await outcome

    def _scrub(self, message: str) -> str:
        return scrub_config(message, self._config)

    async def dispose(self, grace: float = 10.0) -> None:
        """Wait up to *grace* seconds for checked-out connections, then close everything.

        A connection still checked out after *grace* is closed under its holder,
        whose next use of it fails. Idle connections are closed gracefully; when
        the server has not seen them off within 2 s (it hangs, or the network
        went away), they are cut. Calling it again, or before initialize, does nothing.
        """
        async with self._lock:
            engine, side, reads = self._engine, self._health.take_side_engine(), self._reads
            if engine is None:
                return
            deadline = time.monotonic() + grace
            await _drain(engine.sync_engine.pool, deadline)
            if self._closing:
                await asyncio.wait(set(self._closing), timeout=max(deadline - time.monotonic(), 0))
            self._engine = self._factory = self._reads = None
            # engine.dispose() closes idle connections only; one still lent out
            # would go back to the discarded pool later and stay open there.
            if closed := self._tracker.close_checked_out():
                _LOG.warning(
                    "%d connection(s) still checked out after the %g s grace; closed",
                    closed,
                    grace,
                    extra={"event_name": "connections_closed_at_dispose"},
                )
            try:
                await self._close_idle(engine)
            finally:
                self._tracker.detach()
                if side is not None:
                    await side.dispose()
                if reads is not None:
                    await reads[0].dispose()

    async def _close_idle(self, engine: AsyncEngine) -> None:
        """Close the pool's idle connections, cutting them if the server does not answer."""
        # A graceful close waits for the server to hang up: forever, from a silent one.
        closing = asyncio.ensure_future(engine.dispose())
        done, _ = await asyncio.wait({closing}, timeout=_CLOSE_WAIT)
        if not done:
            cut = self._tracker.close_idle()
            _LOG.warning(
                "the server did not see %d idle connection(s) off within %g s; cut",
                cut,
                _CLOSE_WAIT,
                extra={"event_name": "idle_connections_cut_at_dispose"},
            )
        await closing


async def _drain(pool: Pool, deadline: float) -> None:
    """Wait until no connection is checked out, or until *deadline*."""
    # Check-ins arrive as synchronous pool events; a short poll bounds the wait.
    while pool_count(pool, "checkedout") and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
