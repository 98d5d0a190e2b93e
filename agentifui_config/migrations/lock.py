"""The migration lock: a PostgreSQL advisory lock that lets one replica migrate at a time.

Replicas that start together all call ``upgrade()``; the first takes the lock
and migrates, the others wait for it, then find the database at head and do
nothing. The lock is session-level, taken with ``pg_try_advisory_lock`` in a
bounded polling loop (so neither ``statement_timeout`` nor ``lock_timeout`` of
the server cuts the wait short, and no statement stays open while waiting),
and released with ``pg_advisory_unlock`` only after the migration committed.
A process that dies while holding it loses its session, and the server
releases the lock.

Through PgBouncer in transaction mode a session lock could be taken on one
server session and released on another, so there the lock is
transaction-scoped instead (``pg_try_advisory_xact_lock``): taken in the
transaction the migration then runs in, and released by its commit or rollback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final

from sqlalchemy import text
from sqlalchemy.exc import InvalidRequestError

from agentifui_config.migrations.scripts import MigrationError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "MIGRATION_LOCK_KEY",
    "MigrationLockTimeoutError",
    "migration_lock",
]

_LOG = logging.getLogger("agentifui_config.migrations")

MIGRATION_LOCK_KEY: Final = 0x616774666D696772
"""The advisory lock key: the ASCII bytes ``agtfmigr`` as a big-endian integer.

That is 7018706527551317874; ``pg_locks`` shows it as ``classid`` 1634169958,
``objid`` 1835624306, ``objsubid`` 1. Advisory locks are per database, so
services with databases of their own never wait for each other.
"""

DEFAULT_LOCK_TIMEOUT: Final = 300.0
"""Seconds a replica waits for another one's migration before giving up."""

_FIRST_POLL: Final = 0.05
_MAX_POLL: Final = 1.0

_TRY_LOCK: Final = text("SELECT pg_try_advisory_lock(:key)")
_TRY_XACT_LOCK: Final = text("SELECT pg_try_advisory_xact_lock(:key)")
_UNLOCK: Final = text("SELECT pg_advisory_unlock(:key)")
_HOLDER: Final = text(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid = :high AND objid = :low AND objsubid = 1"
)


class MigrationLockTimeoutError(MigrationError):
    """Another process held the migration lock for longer than the wait allowed.

    Its ``argument`` is ``lock_timeout``, the wait to lengthen.
    """


async def _commit_open_transaction(connection: AsyncConnection) -> None:
    """Commit the transaction *connection* is in, if any.

    SQLAlchemy begins a transaction with the first statement on a connection;
    Alembic takes such a transaction for the caller's and never commits it, so
    a migration run inside it would vanish when the connection closes.
    """
    if connection.in_transaction():
        await connection.commit()


@contextlib.asynccontextmanager
async def migration_lock(
    connection: AsyncConnection,
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,  # noqa: ASYNC109 - a lock wait, not a call timeout
    key: int = MIGRATION_LOCK_KEY,
    transaction_scoped: bool = False,
) -> AsyncIterator[None]:
    """Hold the migration lock on *connection* for the body of the ``async with``.

    A transaction open on *connection* is committed first. When the body ends
    normally its open transaction is committed, and only then is the lock
    released, so the next holder finds the work done; when it raises, its
    uncommitted work is rolled back before the release.

    With *transaction_scoped* the body runs inside the transaction that holds
    the lock, and must not commit it: a commit would release the lock early.

    Args:
        connection: The connection to hold the lock on, the one that migrates.
        timeout: Seconds to wait for another process's lock.
        key: The advisory lock key; processes with the same key and database
            exclude each other.
        transaction_scoped: Take ``pg_advisory_xact_lock`` rather than a
            session lock, for connections through PgBouncer in transaction mode.

    Raises:
        MigrationLockTimeoutError: The lock stayed taken for *timeout* seconds.
        MigrationError: *connection* is inside ``engine.begin()``, whose
            transaction cannot be committed here.
    """
    await _acquire(connection, timeout, key, transaction_scoped)
    try:
        yield
        # Alembic commits what it began, but not a transaction it took for the
        # caller's (one SQLAlchemy began with the first statement); this commit
        # also ends a transaction-scoped lock.
        await _commit_open_transaction(connection)
    finally:
        await _release(connection, key, transaction_scoped)


async def _acquire(
    connection: AsyncConnection,
    timeout: float,  # noqa: ASYNC109 - a lock wait, not a call timeout
    key: int,
    transaction_scoped: bool,
) -> None:
    deadline = time.monotonic() + timeout
    poll = _FIRST_POLL
    waited = False
    while not await _try_lock(connection, key, transaction_scoped):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise await _timed_out(connection, timeout, key)
        if not waited:
            waited = True
            _LOG.info(
                "another process is migrating this database; waiting up to %g s for it",
                timeout,
                extra={"event_name": "migration_lock_wait", "lock_key": key},
            )
        await asyncio.sleep(min(poll, remaining))
        poll = min(poll * 2, _MAX_POLL)


async def _try_lock(connection: AsyncConnection, key: int, transaction_scoped: bool) -> bool:
    try:
        await _commit_open_transaction(connection)
        query = _TRY_XACT_LOCK if transaction_scoped else _TRY_LOCK
        taken = bool(await connection.scalar(query, {"key": key}))
    except InvalidRequestError as exc:
        raise MigrationError(
            f"cannot commit on this connection: {exc}",
            argument="connection",
            remedy="pass a connection from engine.connect(), not from engine.begin(): "
            "migrations commit their own transactions",
        ) from exc
    if transaction_scoped:
        if not taken:
            # Waiting outside a transaction frees the pooler's server connection.
            await connection.rollback()
        return taken
    # End the polling transaction: the lock is held by the session, not by it.
    await connection.commit()
    return taken


async def _timed_out(
    connection: AsyncConnection, waited: float, key: int
) -> MigrationLockTimeoutError:
    # pg_locks splits a bigint key into two unsigned 32-bit oids.
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    holders = (await connection.scalars(_HOLDER, {"high": high, "low": low})).all()
    await connection.commit()
    held_by = f" (held by server process {', '.join(map(str, holders))})" if holders else ""
    return MigrationLockTimeoutError(
        f"the migration lock{held_by} was not released within {waited:g} s: "
        "another process is still migrating this database, or is stuck",
        argument="lock_timeout",
        remedy="wait for that migration to finish, or allow longer with lock_timeout=; "
        "pg_terminate_backend(pid) on a stuck holder releases the lock",
    )


async def _release(connection: AsyncConnection, key: int, transaction_scoped: bool) -> None:
    if connection.invalidated:
        # Unlocking now would reconnect: a new session that holds nothing.
        _LOG.warning(
            "the migration connection was lost; its server session, and the lock, ended with it",
            extra={"event_name": "migration_connection_lost", "lock_key": key},
        )
        return
    try:
        if connection.in_transaction():
            await connection.rollback()  # which also ends a transaction-scoped lock
        if transaction_scoped:
            return
        await connection.execute(_UNLOCK, {"key": key})
        await connection.commit()
    except Exception:
        _LOG.warning(
            "could not release the migration lock; closing its connection to free it",
            exc_info=True,
            extra={"event_name": "migration_lock_release_failed", "lock_key": key},
        )
        # A pooled connection must not go back to the pool still holding the lock.
        with contextlib.suppress(Exception):
            await connection.invalidate()
