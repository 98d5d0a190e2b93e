"""The connection managers the plugin's fixtures share, one per event-loop scope.

A connection belongs to the event loop it was opened on, so a manager can be
shared by the tests that run on one loop and by no others. The plugin keeps a
:class:`SharedManagers` for as long as that loop lives (a test with
pytest-asyncio's default function loop, the whole run with a session loop),
and each test borrows its manager with :meth:`SharedManagers.lend`: the engine,
its pool and the server's proof of life are paid for once per loop, not once
per test.

What one test leaves behind must not reach the next. A test's rows never
do: ``db_session`` works inside an outer transaction that is rolled back, and
that takes the connection's session state with it. The test's other
connections are looked at after it:

- one still checked out (a session never closed) costs the manager: it is
  disposed, after a short grace, and the next test builds a new one, as does
  a test that disposed the manager itself;
- every connection the test used outside a rolled-back session may
  carry session state (a ``SET`` committed, an advisory lock, a temporary
  table): it is recycled, reconnecting at its next checkout;
- a connection the server dropped (a terminated backend, a restart) is found by
  the pool's pre-ping at its next checkout and replaced.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final

from sqlalchemy import event

from agentifui_config.connection import ConnectionManager
from agentifui_config.testing.sessions import _STATE_UNDONE

if TYPE_CHECKING:
    from sqlalchemy.pool import ConnectionPoolEntry, Pool

    from agentifui_config.database import DatabaseConfig

__all__ = ["SharedManagers"]

DISPOSE_GRACE: Final = 1.0
"""Seconds a disposed manager waits for the connections a test left checked out."""

# The manager's public settings a test may change, and their values for the next test.
_DEFAULTS: Final = tuple(
    (name, inspect.signature(ConnectionManager).parameters[name].default)
    for name in ("slow_threshold_ms", "migration_probe", "credentials")
)


class _Returns:
    """Records the connections given back to one pool while a test runs.

    Args:
        pool: The manager's pool, watched through its ``checkin`` event.
    """

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._returned: list[ConnectionPoolEntry] = []
        event.listen(pool, "checkin", self._on_checkin)

    def _on_checkin(self, dbapi_connection: object | None, record: ConnectionPoolEntry) -> None:
        """Note *record*, unless a rolled-back session undid everything done on it."""
        undone = record.info.pop(_STATE_UNDONE, False)
        if dbapi_connection is not None and not undone:
            self._returned.append(record)

    def recycle(self) -> None:
        """Have every connection the test gave back reconnect at its next checkout."""
        for record in self._returned:
            record.invalidate(soft=True)
        self._returned.clear()

    def close(self) -> None:
        """Stop watching the pool."""
        event.remove(self._pool, "checkin", self._on_checkin)


class SharedManagers:
    """The one ``ConnectionManager`` of an event-loop scope, lent to each test on that loop.

    The manager is built on first use, for the configuration asked for; a test
    asking for another configuration gets a manager of its own, which replaces
    the first. :meth:`close` disposes it when the loop's scope ends.
    """

    def __init__(self) -> None:
        self._manager: ConnectionManager | None = None
        self._returns: _Returns | None = None

    @contextlib.asynccontextmanager
    async def lend(self, config: DatabaseConfig) -> AsyncIterator[ConnectionManager]:
        """Yield the manager on *config* for one test, and clear up after the test.

        Raises:
            DatabaseUnavailableError: A new manager's database did not answer.
        """
        manager = await self._manager_for(config)
        try:
            yield manager
        finally:
            await self._after_test(manager)

    async def close(self) -> None:
        """Dispose the manager; the next :meth:`lend` builds a new one."""
        manager, self._manager = self._manager, None
        if self._returns is not None:
            self._returns.close()
            self._returns = None
        if manager is not None:
            await manager.dispose(grace=DISPOSE_GRACE)

    async def _manager_for(self, config: DatabaseConfig) -> ConnectionManager:
        """The manager on *config*: the shared one, or a new one in its place."""
        manager = self._manager
        if manager is not None and manager.is_initialized and manager.config == config:
            return manager
        await self.close()
        manager = ConnectionManager()
        await manager.initialize(config)
        self._manager = manager
        self._returns = _Returns(manager.engine.sync_engine.pool)
        return manager

    async def _after_test(self, manager: ConnectionManager) -> None:
        """Leave *manager* as the next test should find it, or drop it when it cannot be."""
        for name, value in _DEFAULTS:
            setattr(manager, name, value)
        if manager is not self._manager:
            return
        if not manager.is_initialized or manager.connection_count:
            await self.close()
        elif self._returns is not None:
            self._returns.recycle()
