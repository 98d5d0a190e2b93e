"""The pre-ping in one round trip: ``SELECT 1`` in PostgreSQL's simple query protocol.

SQLAlchemy's asyncpg dialect pings a connection by opening a transaction,
running ``;`` as a prepared statement and rolling back: three round trips per
checkout, more than a request's own ``SELECT 1``. It opens the transaction
because a prepared statement needs one behind PgBouncer in transaction mode.
A query in the simple protocol (asyncpg's ``execute()`` without arguments)
prepares nothing, so it needs no transaction, and answers in one round trip,
behind PgBouncer too (not an empty query: asyncpg fails on the empty answer).
A dead connection fails it just the same, and its error is translated by the
dialect's own adapter, so the pool still recognises a disconnect, discards the
connection and connects anew.

A caller that proves a connection alive with its own first round trip (the
test fixtures' ``BEGIN``) checks it out inside :func:`skipping_ping`, which
spares it the ping.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

try:  # SQLAlchemy 2.1 and later
    from sqlalchemy.util import await_ as _await
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    from sqlalchemy.util import await_only as _await

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["ping_in_one_round_trip", "skipping_ping"]

_PING: Final = "SELECT 1"
# Set while a caller checks out a connection it proves alive itself. SQLAlchemy runs
# the checkout in a greenlet that shares the task's context, so the ping sees it.
_SKIPPED: ContextVar[bool] = ContextVar("agentifui_config_ping_skipped", default=False)


@contextlib.contextmanager
def skipping_ping() -> Iterator[None]:
    """Check connections out without the pre-ping, in this task, inside the block.

    For a caller whose first statement on the connection is a round trip that
    fails as the ping would: it must then invalidate the connection itself and
    check out another. Only the one-round-trip ping of
    :func:`ping_in_one_round_trip` is skipped; other drivers keep pinging.
    """
    token = _SKIPPED.set(True)
    try:
        yield
    finally:
        _SKIPPED.reset(token)


def ping_in_one_round_trip(engine: AsyncEngine) -> None:
    """Make *engine*'s pre-ping one simple-protocol ``SELECT 1``, for the asyncpg driver.

    Other drivers keep their dialect's ping. It replaces the ping of this
    engine only: each engine has a dialect of its own.
    """
    dialect = engine.sync_engine.dialect
    if dialect.driver != "asyncpg":
        return

    def do_ping(dbapi_connection: Any) -> bool:
        if _SKIPPED.get():
            return True
        try:
            _await(dbapi_connection.driver_connection.execute(_PING))
        except Exception as error:
            # The adapter's translation: a dead connection becomes the DBAPI error
            # the dialect's is_disconnect() recognises.
            dbapi_connection._handle_exception(error)
        return True

    dialect.do_ping = do_ping  # type: ignore[method-assign]
