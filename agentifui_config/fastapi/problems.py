"""Database failures inside a request, answered as 503 problem details (RFC 9457).

A lost connection, an unreachable database, a pool with no free connection in
time or a timeout is the service being unavailable, not a bug in the request:
clients get ``503 Service Unavailable`` with an ``application/problem+json``
body that names the kind of failure and nothing else (no SQL, no parameters,
no host, no secret), and operators get the original exception in the log.
"""

from __future__ import annotations

import enum
import functools
import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final, cast

from sqlalchemy import exc as sa_exc
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket

from agentifui_config.connection import DatabaseUnavailableError, ManagerStateError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.types import ExceptionHandler

__all__ = ["PROBLEM_MEDIA_TYPE", "add_exception_handlers"]

_LOG = logging.getLogger("agentifui_config.fastapi")

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
"""The media type of an RFC 9457 problem-details body."""

# SQLSTATE classes and codes that mean the server cannot serve now, whatever the query:
# 08 connection exception, 53 insufficient resources (too many connections, disk full),
# 57P01-57P03 the server shutting down or starting, 57014 a statement cancelled (timeout).
_UNAVAILABLE_CLASSES: Final = ("08", "53")
_UNAVAILABLE_CODES: Final = frozenset({"57P01", "57P02", "57P03"})
_TIMEOUT_CODES: Final = frozenset({"57014"})
_DATABASE_PACKAGES: Final = ("sqlalchemy.", "asyncpg.", "psycopg.")
# WebSocket close code 1013: "Try Again Later".
_WS_TRY_AGAIN: Final = 1013


class _Problem(enum.Enum):
    """Why a request could not use the database; each value is the ``detail`` clients see."""

    UNAVAILABLE = "The database is unavailable; try again later."
    POOL_EXHAUSTED = "No database connection became free in time; try again later."
    TIMEOUT = "The database did not answer in time; try again later."

    @property
    def event_name(self) -> str:
        """The ``event_name`` of the log line for this problem."""
        return f"database_{self.name.lower()}"


# Checked in order: sqlalchemy's pool TimeoutError is not a builtin TimeoutError.
_BY_TYPE: Final[
    tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], _Problem], ...]
] = (
    (sa_exc.TimeoutError, _Problem.POOL_EXHAUSTED),
    (TimeoutError, _Problem.TIMEOUT),
    (
        (
            DatabaseUnavailableError,
            ManagerStateError,
            sa_exc.OperationalError,
            sa_exc.InterfaceError,
        ),
        _Problem.UNAVAILABLE,
    ),
)


def _classify(exc: BaseException) -> _Problem | None:
    """Return the database problem *exc* stands for, or ``None`` for any other error.

    A ``DBAPIError`` counts when its connection was invalidated or its SQLSTATE
    says the server is unavailable or cancelled the statement; constraint
    violations and SQL errors do not, they are the application's to handle.
    """
    for types, problem in _BY_TYPE:
        if isinstance(exc, types):
            return problem
    if isinstance(exc, sa_exc.DBAPIError):
        return _by_sqlstate(exc)
    if isinstance(exc, OSError) and _raised_by_the_driver(exc):
        # asyncpg's connect errors (refused, reset, unreachable, DNS) reach the caller unwrapped.
        return _Problem.UNAVAILABLE
    return None


def _raised_by_the_driver(exc: BaseException) -> bool:
    """Whether *exc* came up through SQLAlchemy or the driver, not through the app's own I/O."""
    return any(
        frame.f_globals.get("__name__", "").startswith(_DATABASE_PACKAGES)
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def _by_sqlstate(exc: sa_exc.DBAPIError) -> _Problem | None:
    if exc.connection_invalidated:
        return _Problem.UNAVAILABLE
    state = getattr(exc.orig, "sqlstate", None)
    if not isinstance(state, str):
        return None
    if state in _TIMEOUT_CODES:
        return _Problem.TIMEOUT
    if state in _UNAVAILABLE_CODES or state.startswith(_UNAVAILABLE_CLASSES):
        return _Problem.UNAVAILABLE
    return None


def add_exception_handlers(app: FastAPI, *, retry_after: int | None = None) -> None:
    """Answer database failures with 503 problem details and log the original exception.

    Handled: ``sqlalchemy.exc.OperationalError`` and ``InterfaceError``; a
    ``DBAPIError`` whose connection was invalidated or whose SQLSTATE says the
    server is unavailable or cancelled the statement; ``sqlalchemy.exc.TimeoutError``
    (no pooled connection in time); ``TimeoutError`` (``asyncio.TimeoutError``);
    ``DatabaseUnavailableError`` and ``ManagerStateError``; an ``OSError`` (a
    refused or reset connection) raised by SQLAlchemy or the driver. Any other
    ``DBAPIError`` or ``OSError`` goes to the app's own handler for one of its
    base classes (``SQLAlchemyError``, say), or is raised again, to a plain 500.
    A handler the app registered for one of these classes is kept, and one it
    registers for a subclass takes precedence.

    Args:
        app: The application.
        retry_after: Seconds to send as ``Retry-After``; no header by default.
    """
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}

    async def handle(connection: Request | WebSocket, exc: Exception) -> Response | None:
        """Answer *exc* with a 503 if it is a database problem, else pass it on."""
        problem = _classify(exc)
        if problem is None:
            # Starlette calls only the most specific handler: the app's own for a base
            # class (SQLAlchemyError, say) would never see what is passed on here.
            fallback = _next_handler(app, exc, handle)
            if fallback is None:
                raise exc
            return await _call(fallback, connection, exc)
        _log(connection, exc, problem)
        if isinstance(connection, WebSocket):
            await connection.close(code=_WS_TRY_AGAIN, reason="database unavailable")
            return None
        return _unavailable(problem, connection.url.path, headers)

    for exc_class in (
        OSError,
        sa_exc.DBAPIError,
        sa_exc.TimeoutError,
        TimeoutError,
        DatabaseUnavailableError,
        ManagerStateError,
    ):
        if exc_class in app.exception_handlers:
            continue  # the app's own handler, registered before, stays
        # Starlette calls one handler for HTTP and WebSocket connections; its type splits them.
        app.add_exception_handler(exc_class, cast("ExceptionHandler", handle))


def _next_handler(
    app: FastAPI, exc: Exception, ours: Callable[..., object]
) -> Callable[..., object] | None:
    """The app's handler Starlette would have chosen for *exc* without ours, if any.

    ``Exception`` is left out: Starlette's outermost middleware calls that one
    for whatever is raised on.
    """
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = app.exception_handlers.get(cls)
        if handler is not None and handler is not ours:
            return handler
    return None  # pragma: no cover - every exception's MRO holds Exception


async def _call(
    handler: Callable[..., object], connection: Request | WebSocket, exc: Exception
) -> Response | None:
    """Call an exception handler as Starlette does: a synchronous one in the thread pool."""
    target = handler.func if isinstance(handler, functools.partial) else handler
    if inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
        getattr(target, "__call__", None)  # noqa: B004 - an object with an async __call__
    ):
        result = await cast("Callable[..., Awaitable[object]]", handler)(connection, exc)
    else:
        result = await run_in_threadpool(handler, connection, exc)
    return cast("Response | None", result)


def _unavailable(problem: _Problem, instance: str, headers: Mapping[str, str]) -> JSONResponse:
    body = {
        "type": "about:blank",  # RFC 9457: then the title is the status phrase
        "title": "Service Unavailable",
        "status": 503,
        "detail": problem.value,
        "instance": instance,
    }
    return JSONResponse(body, 503, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _log(connection: Request | WebSocket, exc: Exception, problem: _Problem) -> None:
    method = connection.scope.get("method", "WEBSOCKET")
    path = connection.url.path
    level = logging.ERROR if problem is _Problem.UNAVAILABLE else logging.WARNING
    _LOG.log(
        level,
        "%s %s answered 503: %s (%s)",
        method,
        path,
        problem.name.lower().replace("_", " "),
        type(exc).__name__,
        exc_info=exc,
        extra={"event_name": problem.event_name, "method": method, "path": path},
    )
