"""Building an async engine from a ``DatabaseConfig`` and waiting until its database answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from agentifui_config.connect_args import connect_args_for
from agentifui_config.credentials import Credentials, file_credentials, pool_recycle_for
from agentifui_config.drivers import driver_package
from agentifui_config.errors import ConfigurationError
from agentifui_config.failover import invalidate_on_demotion
from agentifui_config.failures import (
    DatabaseUnavailableError,
    database_failure,
    is_unavailable_state,
    sqlstate_of,
)
from agentifui_config.pings import ping_in_one_round_trip

if TYPE_CHECKING:
    from sqlalchemy.engine import ExceptionContext

    from agentifui_config.database import DatabaseConfig

__all__ = ["DatabaseUnavailableError", "create_engine_for", "wait_until_ready"]

_FIRST_BACKOFF: Final = 0.1
_MAX_BACKOFF: Final = 2.0
# Options that only a pool which keeps connections understands.
_POOL_ONLY: Final = ("pool_size", "max_overflow", "pool_timeout")


def create_engine_for(
    config: DatabaseConfig, *, credentials: Credentials | None = None, **overrides: Any
) -> AsyncEngine:
    """An async engine with the configuration's pool, echo and connect arguments.

    A driver error whose SQLSTATE says the server cannot serve now (57P01
    shutting down, 53300 too many connections, 57014 a statement cancelled,
    class 08) or that lost its connection is raised as SQLAlchemy's
    ``OperationalError``, as PEP 249 and psycopg class them; asyncpg leaves them
    a bare ``DBAPIError``, indistinguishable by type from an application's error.

    Args:
        config: The database and its pool settings.
        credentials: A password provider called for each new connection, in
            place of the configuration's password; ``pool_recycle`` is kept
            below its lifetime.
        **overrides: Further ``create_async_engine`` options, winning over the
            configuration's (``poolclass=NullPool`` drops the pool sizes).

    Raises:
        ConfigurationError: *credentials* are given for a driver other than asyncpg.
    """
    connect_args = connect_args_for(config)
    credentials = credentials or file_credentials(config)
    if credentials is not None:
        connect_args["password"] = _password_argument(config, credentials)
    options: dict[str, Any] = {
        "pool_size": config.pool_size,
        "max_overflow": config.max_overflow,
        "pool_timeout": config.pool_timeout,
        "pool_pre_ping": config.pool_pre_ping,
        "echo": config.echo_sql,
        "connect_args": connect_args,
        **overrides,
    }
    if options.get("poolclass") is NullPool:
        for key in _POOL_ONLY:
            options.pop(key)
    elif "pool_recycle" not in options:
        # Only a pool renews connections: no warning about it for an engine without one.
        options["pool_recycle"] = pool_recycle_for(config, credentials)
    engine = create_async_engine(config.sqlalchemy_url, **options)
    event.listen(engine.sync_engine.pool, "invalidate", _CutTimedOut())
    event.listen(engine.sync_engine, "handle_error", _as_operational)
    ping_in_one_round_trip(engine)
    if options["pool_pre_ping"] and config.pool_pre_ping_bypass_ms > 0:
        _bypass_recent_pings(engine, config.pool_pre_ping_bypass_ms / 1000)
    invalidate_on_demotion(engine)
    return engine


def _as_operational(context: ExceptionContext) -> sa_exc.OperationalError | None:
    """The ``OperationalError`` a bare ``DBAPIError`` about availability stands for, if any."""
    error = context.sqlalchemy_exception
    if type(error) is not sa_exc.DBAPIError or error.orig is None:
        return None  # already of a kind (IntegrityError, ...), or not a driver error
    if not (context.is_disconnect or is_unavailable_state(sqlstate_of(error))):
        return None
    return sa_exc.OperationalError(
        error.statement,
        error.params,
        error.orig,
        hide_parameters=error.hide_parameters,
        connection_invalidated=error.connection_invalidated,
        ismulti=error.ismulti,
    )


def _password_argument(config: DatabaseConfig, credentials: Credentials) -> Any:
    """The ``password`` argument for asyncpg: a callable it awaits for each new connection."""
    if driver_package(config.driver) != "asyncpg":
        raise ConfigurationError(
            f"rotating credentials need the asyncpg driver, not {config.driver!r}",
            variable="DB_DRIVER",
            remedy="set DB_DRIVER=postgresql+asyncpg, whose connect() takes a callable password",
        )
    return credentials.password


class _CutTimedOut:
    """Cut a connection dropped because a command timed out, so the wait ends at the timeout.

    The pool discards such a connection (from a query or from its pre-ping) by
    closing it gracefully, which waits up to 2 s more for a server that went
    silent. Cut first, the graceful close finds it closed and returns. asyncpg
    sends the server a cancel request from a task of its own, which cutting the
    connection would cancel: the task is kept apart and left to finish (within
    the command timeout), so a server that answers still stops the statement.
    """

    def __init__(self) -> None:
        self._cancelling: set[asyncio.Future[Any]] = set()

    def __call__(self, dbapi_connection: Any, record: Any, error: BaseException | None) -> None:
        """Handle one ``invalidate`` event of the engine's pool."""
        if not isinstance(error, TimeoutError):
            return
        driver = getattr(dbapi_connection, "driver_connection", None)
        terminate = getattr(driver, "terminate", None)  # asyncpg's; psycopg has no command timeout
        if not callable(terminate):
            return
        # A private set of asyncpg's, read defensively: without it, the cut still bounds the wait.
        pending = getattr(driver, "_cancellations", None)
        if isinstance(pending, set):
            for task in pending:
                self._cancelling.add(task)
                task.add_done_callback(self._cancelling.discard)
            pending.clear()
        terminate()


def _bypass_recent_pings(engine: AsyncEngine, within: float) -> None:
    """Let the pre-ping pass a connection given back to the pool less than *within* s ago.

    HikariCP's alive-bypass: a connection that just worked is taken as still
    alive, saving a round trip per checkout. A connection the server dropped
    during that window reaches the caller, whose statement then fails with a
    disconnect error (the pool is invalidated as after a failed ping).
    SQLAlchemy's own pre-ping stays in charge of everything else: fresh
    connections, failed pings, invalidating the pool.
    """
    returned: dict[int, float] = {}  # id(driver connection) -> when it was given back
    dialect = engine.sync_engine.dialect
    ping = dialect.do_ping

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            returned[id(dbapi_connection)] = time.monotonic()

    def forget(dbapi_connection: Any, record: Any) -> None:
        returned.pop(id(dbapi_connection), None)

    def do_ping(dbapi_connection: Any) -> bool:
        given_back = returned.pop(id(dbapi_connection), None)
        if given_back is not None and time.monotonic() - given_back < within:
            return True
        return ping(dbapi_connection)

    pool = engine.sync_engine.pool
    event.listen(pool, "checkin", on_checkin)
    event.listen(pool, "close", forget)
    # Each engine has a dialect of its own: this replaces the ping of this engine only.
    dialect.do_ping = do_ping  # type: ignore[method-assign]


async def wait_until_ready(
    engine: AsyncEngine,
    config: DatabaseConfig,
    retry_for: float,
    on_attempt: Callable[[], None] = lambda: None,
) -> None:
    """Run ``SELECT 1``, retrying with exponential backoff for *retry_for* seconds.

    Only what can heal is retried: a refused or unreachable server, a timeout,
    a server starting up (57P03) or without a free connection slot (53300). A
    wrong password (28P01), a missing role (28000) or a missing database
    (3D000) fails at the first attempt.

    Raises:
        DatabaseError: What failed, of the kind the failure table names
            (``DatabaseNotFoundError`` naming ``DB_DATABASE``, say), with host,
            port, database, user and the cause, never the password.
        DatabaseUnavailableError: No attempt succeeded within *retry_for*.
    """
    deadline = time.monotonic() + retry_for
    backoff = _FIRST_BACKOFF
    attempts = 0
    while True:
        attempts += 1
        on_attempt()
        try:
            async with asyncio.timeout(config.connect_timeout + 1.0):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception as exc:
            failure = database_failure(exc, config, attempts=attempts)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not failure.retryable:
                raise failure from None
            await asyncio.sleep(min(backoff, remaining))
            backoff = min(backoff * 2, _MAX_BACKOFF)
        else:
            return
