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

The pre-ping is the engine's own, one round trip (:mod:`agentifui_config.pings`),
at every checkout: a server restarted or a backend terminated between two tests,
while no event loop ran and so before the driver could see its connection
closed, is found by it all the same. ``db_session`` skips it: the ``BEGIN`` of
its outer transaction is its first round trip, and when that fails the
connection is invalidated and another one checked out, with the ping.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import event

from agentifui_config.connection import ConnectionManager
from agentifui_config.testing.sessions import _STATE_UNDONE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.pool import ConnectionPoolEntry

    from agentifui_config.database import DatabaseConfig

__all__ = ["DISPOSE_GRACE", "SharedManagers"]

_T = TypeVar("_T")

DISPOSE_GRACE: Final = 1.0
"""Seconds a disposed manager waits for the connections a test left checked out."""

# The manager's public settings a test may change, and their values for the next test.
_DEFAULTS: Final = tuple(
    (name, inspect.signature(ConnectionManager).parameters[name].default)
    for name in ("slow_threshold_ms", "migration_probe", "credentials")
)


class _PoolWatch:
    """Watches one shared manager's pool for the connections each test gives back unclean.

    Args:
        engine: The manager's engine; its pool is watched through the
            ``checkin`` event.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._pool = engine.sync_engine.pool
        self._returned: list[ConnectionPoolEntry] = []
        event.listen(self._pool, "checkin", self._on_checkin)

    def _on_checkin(self, dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        """Keep *record* for recycling unless a rolled-back session undid everything done on it."""
        undone = record.info.pop(_STATE_UNDONE, False)
        if dbapi_connection is not None and not undone:
            self._returned.append(record)

    def recycle(self) -> None:
        """Have every connection the test gave back unclean reconnect at its next checkout."""
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

    Lending is synchronous, so ``connection_manager`` is a plain fixture and a
    test pays for no event-loop round of its own: the loop runs only to build a
    manager or to dispose one a test left in disorder, between two tests.

    Args:
        loop: The event loop of the scope, which the manager's connections belong to.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._manager: ConnectionManager | None = None
        self._watch: _PoolWatch | None = None

    @contextlib.contextmanager
    def lend(self, config: DatabaseConfig) -> Iterator[ConnectionManager]:
        """Yield the manager on *config* for a test, and clear up after it.

        Raises:
            DatabaseUnavailableError: A new manager's database did not answer.
            RuntimeError: A manager must be built while the loop runs: the
                fixture was asked for from inside async code.
        """
        manager = self._manager
        if manager is None or not manager.is_initialized or manager.config != config:
            manager = self._run(self._replace(config))
        try:
            yield manager
        finally:
            self._after_test(manager)

    async def close(self) -> None:
        """Dispose the manager; the next :meth:`lend` builds a new one."""
        manager, self._manager = self._manager, None
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if manager is not None:
            await manager.dispose(grace=DISPOSE_GRACE)

    def _run(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run *work* on the scope's loop, which is idle between fixtures."""
        if self._loop.is_running():
            work.close()
            raise RuntimeError(
                "connection_manager needs its event loop to build a manager, but the loop "
                "is running: ask for the fixture as an argument of the test or fixture, "
                "not with request.getfixturevalue() from async code"
            )
        return self._loop.run_until_complete(work)

    async def _replace(self, config: DatabaseConfig) -> ConnectionManager:
        """Dispose the shared manager, if any, and build one on *config* in its place."""
        await self.close()
        manager = ConnectionManager()
        await manager.initialize(config)
        self._manager = manager
        self._watch = _PoolWatch(manager.engine)
        return manager

    def _after_test(self, manager: ConnectionManager) -> None:
        """Leave *manager* as the next test should find it, or drop it when it cannot be."""
        for name, value in _DEFAULTS:
            setattr(manager, name, value)
        if manager is not self._manager:
            return
        if not manager.is_initialized or manager.connection_count:
            self._run(self.close())
        elif self._watch is not None:
            self._watch.recycle()
