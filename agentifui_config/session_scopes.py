"""The scope of one session: ``async with manager.session()`` and the dependencies built on it.

A plain object rather than an ``asynccontextmanager``, so no generator is built
per session. Opening and closing go through the manager, which counts sessions
and shields the clean-up from cancellation.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from types import TracebackType

    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

    from agentifui_config.connection import ConnectionManager

__all__ = ["SessionScope", "release", "settle"]


class SessionScope:
    """``async with manager.session()``: lends one session, and gives it back on exit.

    Args:
        manager: The manager that opens the session and closes it.
        session: A session to lend instead of a new one (a read session, say).
        commit: Commit on a clean exit, as ``TransactionDep`` does.
    """

    __slots__ = ("_commit", "_given", "_manager", "_session")

    def __init__(
        self,
        manager: ConnectionManager,
        session: AsyncSession | None = None,
        *,
        commit: bool = False,
    ) -> None:
        self._manager = manager
        self._given = session
        self._commit = commit
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> AsyncSession:
        self._session = self._manager._open_session(self._given)
        return self._session

    async def __aexit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        if self._commit and error_type is None and session.in_transaction():
            try:
                # One trip into SQLAlchemy's greenlet, not two: once committed,
                # the session holds no connection, and closing it does no I/O.
                await session.run_sync(_commit_and_close)
            except BaseException as failure:
                await self._manager._close_session(session, type(failure))
                raise
            return
        await self._manager._close_session(session, error_type)


def _commit_and_close(session: Session) -> None:
    session.commit()
    session.close()


async def release(session: AsyncSession, *, rollback: bool) -> None:
    """Roll *session* back when asked, and close it in any case."""
    try:
        if rollback:
            await session.rollback()
    finally:
        await session.close()


async def settle(cleanup: Coroutine[Any, Any, None], outcome: asyncio.Future[None]) -> None:
    """Await *cleanup*, then give its result or error to *outcome*, unless nobody waits any more.

    An error handed on is the waiter's to raise, so the task running this ends
    cleanly; one nobody waits for is dropped, as ``asyncio.shield()`` drops it.
    """
    try:
        await cleanup
    except asyncio.CancelledError:
        outcome.cancel()
        raise
    except BaseException as error:
        if not outcome.done():
            outcome.set_exception(error)
        if not isinstance(error, Exception):
            raise  # KeyboardInterrupt, SystemExit: the loop's to stop on
    else:
        if not outcome.done():
            outcome.set_result(None)
