"""Dropping a pool that still talks to a demoted or shut-down primary.

After a failover the old primary either goes away or comes back as a standby.
A pooled connection to it then answers SQLSTATE ``57P01`` (the server shut it
down) or ``25006`` (a write in what is now a read-only server). Both are turned
into SQLAlchemy's own disconnect handling, which invalidates every connection of
the pool: the next checkouts connect afresh and, with a multi-host ``DB_HOST``
and ``target_session_attrs=read-write``, reach the new primary.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from sqlalchemy import event

from agentifui_config.failures import sqlstate_of

if TYPE_CHECKING:
    from sqlalchemy.engine import ExceptionContext
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["DEMOTION_SQLSTATES", "invalidate_on_demotion"]

_LOG = logging.getLogger("agentifui_config.connection")

DEMOTION_SQLSTATES: Final = frozenset({"25006", "57P01"})
"""The SQLSTATEs that mean the server is no longer the primary this pool should talk to:
``read_only_sql_transaction`` and ``admin_shutdown``."""

_READ_ONLY: Final = "25006"
# The execution option of a session that asked for read-only transactions itself.
_READONLY_OPTION: Final = "postgresql_readonly"


def invalidate_on_demotion(engine: AsyncEngine) -> None:
    """Invalidate *engine*'s whole pool when a connection answers a demotion SQLSTATE.

    A ``25006`` raised in a transaction that was read-only by request (a read
    session) is the server refusing a write, as asked: it leaves the pool alone.
    """
    event.listen(engine.sync_engine, "handle_error", _on_error)


def _on_error(context: ExceptionContext) -> None:
    state = sqlstate_of(context.original_exception)
    if state not in DEMOTION_SQLSTATES:
        return
    connection = context.connection
    asked = connection is not None and connection.get_execution_options().get(_READONLY_OPTION)
    if state == _READ_ONLY and asked:
        return
    context.is_disconnect = True
    context.invalidate_pool_on_disconnect = True
    _LOG.warning(
        "the server answered SQLSTATE %s: it is no longer the primary; the pool is invalidated",
        state,
        extra={"event_name": "pool_invalidated_on_demotion", "sqlstate": state},
    )
