"""The read side of a connection manager: read sessions, routed by :class:`ReadRouter`.

:class:`ReadSessions` is what :class:`~agentifui_config.ConnectionManager`
inherits for reads: it sets up one :class:`ReadRouter` when the manager is
initialized, gives the manager's own sessions a class whose commits the router
sees (read-your-writes), and hands out read-only sessions whose transactions the
router sends to a replica in rotation or to the primary.

Read-your-writes keyed by the caller: inside ``with manager.caller(key):``
(the FastAPI integration opens one per request, see
:func:`agentifui_config.fastapi.setup`), a commit is remembered for *key*, and
for ``DB_READ_YOUR_WRITES_SECONDS`` the reads of *key* go to the primary, in
this process: see :mod:`agentifui_config.recent_writes`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from agentifui_config.replicas import ReadRouter

if TYPE_CHECKING:
    from types import TracebackType

    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

    from agentifui_config.credentials import Credentials
    from agentifui_config.database import DatabaseConfig

__all__ = ["ReadSessions", "session_classes"]

# The key of a read session's ``info`` that holds the caller its reads are for.
_CALLER: Final = "agentifui_caller"


class _RoutedSession(Session):
    """A session whose bind the read router chooses, once per transaction."""

    _router: ReadRouter
    _read_bind: Engine | None = None

    def get_bind(
        self,
        mapper: Any = None,
        *,
        clause: Any = None,
        bind: Any = None,
        **kw: Any,
    ) -> Engine | Connection:
        """The engine the router chose for the transaction under way, or a new choice."""
        if bind is not None:
            return super().get_bind(mapper, clause=clause, bind=bind, **kw)
        # A transaction stays on the server it started on; the next one is routed afresh.
        if self._read_bind is None or not self.in_transaction():
            self._read_bind = self._router.choose(self.info.get(_CALLER))
        return self._read_bind


def session_classes(router: ReadRouter, base: type[Session]) -> tuple[type[Session], type[Session]]:
    """The session classes of a manager: the primary's, whose commits mark the context, and reads'.

    Both derive from *base* (the manager's ``sync_session_class``), so its own
    event listeners and methods apply to either.
    """
    writes = type(base.__name__, (base,), {"__doc__": base.__doc__})
    if router.has_replicas:  # without one, a commit changes where no read goes
        event.listen(writes, "after_commit", router.mark_write)
    reads = type(f"Read{base.__name__}", (_RoutedSession, base), {"_router": router})
    return writes, reads


class ReadSessions:
    """The read side of :class:`~agentifui_config.ConnectionManager`: read sessions."""

    _reads: tuple[ReadRouter, async_sessionmaker[AsyncSession]] | None
    credentials: Credentials | None

    def _state_error(self) -> Exception:
        """The error for a manager used before initialize or after dispose (the manager's)."""
        raise NotImplementedError

    def _scrub(self, message: str) -> str:
        """*message* without the configuration's secrets (the manager's)."""
        raise NotImplementedError

    def _lent(self, session: AsyncSession) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """Lend *session* as the manager lends its own (the manager's)."""
        raise NotImplementedError

    def _open_reads(
        self,
        config: DatabaseConfig,
        engine: AsyncEngine,
        options: Mapping[str, Any],
        saturated: Callable[[], bool],
    ) -> async_sessionmaker[AsyncSession]:
        """Set up the read side; return the primary's session factory, whose commits it sees.

        *saturated* tells whether every connection of the primary's pool is lent out.
        """
        router = ReadRouter(config, engine, self._scrub, self.credentials, saturated)
        writes, reads = session_classes(router, options.get("sync_session_class", Session))
        self._reads = router, async_sessionmaker(**{**options, "sync_session_class": reads})
        return async_sessionmaker(engine, **{**options, "sync_session_class": writes})

    @property
    def read_router(self) -> ReadRouter | None:
        """The router of the read sessions; ``None`` before initialize and after dispose."""
        return None if self._reads is None else self._reads[0]

    @property
    def has_replicas(self) -> bool:
        """Whether read replicas are configured (``False`` before initialize and after dispose)."""
        return self._reads is not None and self._reads[0].has_replicas

    async def get_read_session(self) -> AsyncIterator[AsyncSession]:
        """Yield a read-only session on a healthy replica, or on the primary.

        Each transaction goes to the next replica in rotation (round robin);
        to the primary when none is configured or none answered the last check
        within ``DB_READ_CHECK_TIMEOUT``, once a session of this manager has
        committed in the current context, or while the current :meth:`caller`
        is within ``DB_READ_YOUR_WRITES_SECONDS`` of a commit (read-your-writes).
        Transactions are read-only: a write is refused by the server. Usable as
        a FastAPI dependency, released like ``get_session()``.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        async with self.read_session() as session:
            yield session

    def read_session(
        self, key: str | None = None
    ) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """The same as :meth:`get_read_session`, as ``async with manager.read_session() as s:``.

        Args:
            key: The caller the reads are for, when it is not the current
                :meth:`caller`: its reads go to the primary within
                ``DB_READ_YOUR_WRITES_SECONDS`` of its last commit.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        return _ReadScope(self, key)

    @contextlib.contextmanager
    def caller(self, key: str | None) -> Iterator[None]:
        """Act for caller *key* (a user id, a session cookie) inside the ``with`` block.

        A session of this manager that commits inside it is remembered for
        *key*, and read sessions opened inside it read for *key*: for
        ``DB_READ_YOUR_WRITES_SECONDS`` after its last commit (0, the default,
        turns this off), the reads of *key* go to the primary, in whatever
        request or task they are made, in this process. ``None`` is no caller.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        if self._reads is None:
            raise self._state_error()
        variable = self._reads[0].caller
        token = variable.set(key)
        try:
            yield
        finally:
            variable.reset(token)


class _ReadScope:
    """``async with manager.read_session()``: a plain object, so no generator is built per read.

    The session it opens is lent through the manager's own scope, which
    counts it and shields its clean-up from cancellation.
    """

    __slots__ = ("_key", "_lent", "_manager")

    def __init__(self, manager: ReadSessions, key: str | None) -> None:
        self._manager = manager
        self._key = key
        self._lent: contextlib.AbstractAsyncContextManager[AsyncSession] | None = None

    async def __aenter__(self) -> AsyncSession:
        reads = self._manager._reads
        if reads is None:
            raise self._manager._state_error()
        router, factory = reads
        await router.refresh()
        # Nothing suspends from here on (the manager's scope opens without I/O), so a
        # cancellation cannot come between the session's making and its lending.
        session = factory()
        session.info[_CALLER] = router.caller.get() if self._key is None else self._key
        self._lent = self._manager._lent(session)
        return await self._lent.__aenter__()

    async def __aexit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        lent, self._lent = self._lent, None
        if lent is not None:
            await lent.__aexit__(error_type, error, traceback)
