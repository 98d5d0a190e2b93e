"""Building an async engine from a ``DatabaseConfig`` and waiting until its database answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from agentifui_config.connect_args import connect_args_for
from agentifui_config.credentials import Credentials, pool_recycle_for
from agentifui_config.errors import ConfigurationError
from agentifui_config.secrecy import scrub_config

if TYPE_CHECKING:
    from agentifui_config.database import DatabaseConfig

__all__ = ["DatabaseUnavailableError", "create_engine_for", "wait_until_ready"]

_FIRST_BACKOFF: Final = 0.1
_MAX_BACKOFF: Final = 2.0
# Options that only a pool which keeps connections understands.
_POOL_ONLY: Final = ("pool_size", "max_overflow", "pool_timeout")


class DatabaseUnavailableError(ConfigurationError):
    """The database could not be reached; the message names host, port and database."""


def create_engine_for(
    config: DatabaseConfig, *, credentials: Credentials | None = None, **overrides: Any
) -> AsyncEngine:
    """An async engine with the configuration's pool, echo and connect arguments.

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
    if credentials is not None:
        connect_args["password"] = _password_argument(config, credentials)
    options: dict[str, Any] = {
        "pool_size": config.pool_size,
        "max_overflow": config.max_overflow,
        "pool_timeout": config.pool_timeout,
        "pool_recycle": pool_recycle_for(config, credentials),
        "pool_pre_ping": config.pool_pre_ping,
        "echo": config.echo_sql,
        "connect_args": connect_args,
        **overrides,
    }
    if options.get("poolclass") is NullPool:
        for key in _POOL_ONLY:
            options.pop(key)
    engine = create_async_engine(config.sqlalchemy_url, **options)
    event.listen(engine.sync_engine.pool, "invalidate", _CutTimedOut())
    return engine


def _password_argument(config: DatabaseConfig, credentials: Credentials) -> Any:
    """The ``password`` argument for asyncpg: a callable it awaits for each new connection."""
    if config.driver.partition("+")[2] != "asyncpg":
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


async def wait_until_ready(
    engine: AsyncEngine,
    config: DatabaseConfig,
    retry_for: float,
    on_attempt: Callable[[], None] = lambda: None,
) -> None:
    """Run ``SELECT 1``, retrying with exponential backoff for *retry_for* seconds.

    Raises:
        DatabaseUnavailableError: No attempt succeeded; the message names
            host, port, database and user and the last cause, never the password.
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
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _unavailable(config, exc, attempts) from None
            await asyncio.sleep(min(backoff, remaining))
            backoff = min(backoff * 2, _MAX_BACKOFF)
        else:
            return


def _unavailable(
    config: DatabaseConfig, error: BaseException, attempts: int
) -> DatabaseUnavailableError:
    where = f"{config.host}:{config.port}/{config.database} as {config.username}"
    cause = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
    cause = scrub_config(cause, config)
    return DatabaseUnavailableError(
        f"cannot connect to {where} after {attempts} attempt(s): {cause}",
        variable="DB_HOST",
        remedy="check that the server runs and that DB_HOST, DB_PORT, DB_USERNAME, "
        "DB_PASSWORD and DB_DATABASE are right; pass retry_for= to wait for a starting server",
    )
