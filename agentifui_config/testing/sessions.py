"""Sessions whose every change is rolled back, commits included, and a FastAPI client on one.

The recipe is SQLAlchemy 2's "joining a session into an external transaction":
a connection begins an outer transaction, and the session joins it with
``join_transaction_mode="create_savepoint"``, so the code under test can
``commit()`` and ``rollback()`` as it likes (each works on a savepoint) while
the outer transaction, rolled back at the end, takes everything with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, AsyncSessionTransaction

from agentifui_config.pings import skipping_ping

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncConnection

    from agentifui_config.connection import ConnectionManager

__all__ = ["client_for", "rolled_back_session"]

# Set in the pooled connection's info when the outer transaction was rolled back
# and the advisory locks released: the rollback undid the session state too (SET,
# temporary tables, LISTEN), so the plugin's shared manager lends the connection
# to the next test as it is.
_STATE_UNDONE: Final = "agentifui_config.state_undone"

# Session-level advisory locks are no transaction's: the rollback keeps them. With
# asyncpg, the outer transaction ends in one simple-protocol round trip with them;
# other drivers release them after the rollback.
_UNLOCK_ALL: Final = "SELECT pg_advisory_unlock_all()"
_BEGIN: Final = "BEGIN"
_END: Final = f"ROLLBACK; {_UNLOCK_ALL}"

_UNSET: Final = object()


@contextlib.asynccontextmanager
async def rolled_back_session(engine: AsyncEngine, **options: Any) -> AsyncIterator[AsyncSession]:
    """Yield a session on one connection of *engine*, whose changes are all undone on exit.

    With asyncpg the outer transaction costs two round trips: its ``BEGIN``,
    which also proves the connection alive in place of the pool's pre-ping (a
    dead one is replaced, once, by one the pool pings), and one ``ROLLBACK``
    that releases the session-level advisory locks with it.

    Args:
        engine: The engine to borrow the connection from (``manager.engine``).
        **options: More ``AsyncSession`` arguments; ``expire_on_commit`` is off
            unless given, as in ``ConnectionManager``'s sessions.

    Example:
        >>> async with rolled_back_session(manager.engine) as session:  # doctest: +SKIP
        ...     session.add(Note(text="hello"))
        ...     await session.commit()  # releases a savepoint; nothing survives the block
    """
    options = {"expire_on_commit": False, **options}
    fast = engine.dialect.driver == "asyncpg"
    driver: Any = None
    if fast:
        connection, driver = await _begun(engine)
    else:
        connection = await engine.connect()
    ended = False
    try:
        await connection.begin()
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", **options)
        try:
            yield session
        finally:
            if fast:
                await _end(connection, driver, session)
            else:
                await _rolled_back(connection, session)
            ended = True
    finally:
        # The server's transaction, begun behind SQLAlchemy's back, would go back to
        # the pool open, its locks held, and pass the ping: only a new connection is clean.
        if fast and not ended and not connection.invalidated:
            await connection.invalidate()
        await connection.close()


async def _begun(engine: AsyncEngine) -> tuple[AsyncConnection, Any]:
    """A connection of *engine* whose transaction a ``BEGIN`` has opened, and its driver's.

    SQLAlchemy sees the connection in autocommit, so it sends no ``BEGIN`` or
    ``ROLLBACK`` of its own; savepoints it sends as usual, inside this
    transaction. The ``BEGIN`` is the connection's first round trip: when it
    fails, the connection is invalidated and another one checked out, this
    time with the pool's pre-ping, which finds and replaces any other dead one.
    """
    with skipping_ping():
        connection = await engine.connect()
    with contextlib.suppress(Exception):  # invalidated: the next checkout is pinged
        return connection, await _open_transaction(connection)
    connection = await engine.connect()
    return connection, await _open_transaction(connection)


async def _open_transaction(connection: AsyncConnection) -> Any:
    """Put *connection* in autocommit for SQLAlchemy, begin on the server; return the driver's.

    On failure the connection is closed, and invalidated first when the failure is its own.
    """
    try:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        driver = (await connection.get_raw_connection()).driver_connection
        await driver.execute(_BEGIN)  # type: ignore[union-attr]
    except Exception as error:
        await connection.invalidate(error)
        await connection.close()
        raise
    except BaseException:
        await connection.close()
        raise
    return driver


async def _end(connection: AsyncConnection, driver: Any, session: AsyncSession) -> None:
    """Roll the server's transaction back and release the advisory locks, in one round trip.

    SQLAlchemy's own rollback comes first: in autocommit it sends nothing, and
    it ends the session's savepoints with it, so closing the session sends
    nothing either. Should anything here fail, or the task be cancelled, the
    caller invalidates the connection.
    """
    if connection.in_transaction():
        await connection.rollback()
    await session.close()
    # Reading info of an invalidated connection would reconnect it. One still valid
    # is on the driver connection it began on: it cannot reconnect in a transaction.
    if connection.invalidated:
        return
    await driver.execute(_END)
    connection.info[_STATE_UNDONE] = True


async def _rolled_back(connection: AsyncConnection, session: AsyncSession) -> None:
    """End the outer transaction with another driver than asyncpg, and release the advisory locks.

    SQLAlchemy began the transaction, so it rolls it back; the locks are
    released in a transaction of their own. Should that fail, the state is not
    marked undone and the plugin's shared manager recycles the connection.
    """
    await session.close()
    if connection.in_transaction():
        await connection.rollback()
    if connection.invalidated:  # reading info would reconnect it
        return
    await connection.execute(text(_UNLOCK_ALL))
    await connection.commit()
    connection.info[_STATE_UNDONE] = True


@contextlib.asynccontextmanager
async def _request_on(session: AsyncSession) -> AsyncIterator[None]:
    """One request's turn on the shared session, ended as closing its own session would end it.

    A savepoint marks where the request began: what the request did not commit
    is rolled back to it, whether the handler raised or forgot to commit, and
    what the test wrote before the request stays.
    """
    savepoint = await session.begin_nested()
    try:
        yield
    finally:
        if _still_open(session, savepoint):
            await savepoint.rollback()
        elif session.in_transaction():
            await session.rollback()  # work begun after the handler's own commit


def _still_open(session: AsyncSession, savepoint: AsyncSessionTransaction) -> bool:
    """Whether *savepoint* is still part of *session*'s transaction, if only to be rolled back.

    Its ``is_active`` is not enough: a failed flush deactivates it, and then it
    must be rolled back, or the session's next rollback takes the test's work too.
    """
    current = session.sync_session.get_nested_transaction()
    while current is not None:
        if current is savepoint.sync_transaction:
            return True
        current = current.parent
    return False


@contextlib.asynccontextmanager
async def client_for(
    app: FastAPI,
    session: AsyncSession,
    manager: ConnectionManager | None = None,
    *,
    base_url: str = "http://test",
) -> AsyncIterator[httpx.AsyncClient]:
    """Yield an ``httpx.AsyncClient`` that calls *app* with its sessions replaced by *session*.

    ``get_session``, ``get_transactional_session`` and ``get_read_session`` (so
    ``SessionDep``, ``TransactionDep`` and ``ReadSessionDep``) yield *session*,
    so the test sees what a request committed and the request sees what the
    test wrote. What a request leaves
    uncommitted, because its handler raised or did not commit, is rolled back
    to where the request began, as closing the real dependencies' session does.
    With *manager*, ``get_connection_manager`` returns it and the health
    endpoints find it on ``app.state``. The app's lifespan does not run; the
    overrides and the state are restored on exit. Requests share one session:
    send them one at a time.

    Args:
        app: The FastAPI application.
        session: The session every request uses (``db_session``).
        manager: The connection manager the app's dependencies and health see.
        base_url: The URL requests are relative to.

    Raises:
        ImportError: FastAPI or httpx is missing (extra ``fastapi``).
    """
    import httpx  # noqa: PLC0415 - the fastapi extra, loaded only when a client is made

    from agentifui_config.fastapi import (  # noqa: PLC0415
        DATABASE_STATE,
        get_connection_manager,
        get_read_session,
        get_session,
        get_transactional_session,
    )

    async def shared() -> AsyncIterator[AsyncSession]:
        """Stand in for ``get_session``: the shared session, its uncommitted work undone."""
        async with _request_on(session):
            yield session

    async def transactional() -> AsyncIterator[AsyncSession]:
        """Stand in for ``get_transactional_session``: the shared session, committed on success."""
        async with _request_on(session):
            yield session
            await session.commit()

    overrides: dict[Any, Any] = {
        get_session: shared,
        get_transactional_session: transactional,
        get_read_session: shared,  # the replicas would not see the test's uncommitted rows
    }
    saved_state = getattr(app.state, DATABASE_STATE, _UNSET)
    if manager is not None:
        overrides[get_connection_manager] = lambda: manager
        setattr(app.state, DATABASE_STATE, manager)
    saved = dict(app.dependency_overrides)
    app.dependency_overrides.update(overrides)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
    finally:
        app.dependency_overrides.clear()
        app.dependency_overrides.update(saved)
        if saved_state is _UNSET:
            if manager is not None:
                delattr(app.state, DATABASE_STATE)
        else:
            setattr(app.state, DATABASE_STATE, saved_state)
