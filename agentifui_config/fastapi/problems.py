"""Database failures inside a request, answered as 503 problem details (RFC 9457).

A lost connection, an unreachable database, a pool with no free connection in
time or a statement the server cancelled is the service being unavailable, not
a bug in the request: clients get ``503 Service Unavailable`` with an
``application/problem+json`` body that names the kind of failure and nothing
else (no SQL, no parameters, no host, no secret), and operators get the original
exception in the log. Only failures that came from the database driver or
SQLAlchemy are answered so: one handler per exception type, chosen by
Starlette's own dispatch, so the app's handlers for other types keep theirs.
"""

from __future__ import annotations

import enum
import logging
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final, cast

from sqlalchemy import exc as sa_exc
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket

from agentifui_config.connection import ManagerStateError
from agentifui_config.failures import DatabaseError, DatabaseTimeoutError, sqlstate_of

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.types import ExceptionHandler

__all__ = ["PROBLEM_MEDIA_TYPE", "add_exception_handlers"]

_LOG = logging.getLogger("agentifui_config.fastapi")

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
"""The media type of an RFC 9457 problem-details body."""

# 57014: a statement cancelled, by statement_timeout among others.
_TIMEOUT_CODES: Final = frozenset({"57014"})
_DATABASE_PACKAGES: Final = ("sqlalchemy.", "asyncpg.", "psycopg.")
# The event loop's and the standard library's frames, below whoever did the I/O.
_PLUMBING: Final = ("asyncio.", "socket", "ssl", "selectors", "uvloop")
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


def _operational(exc: BaseException) -> _Problem:
    """SQLAlchemy's ``OperationalError``: a cancelled statement or an unavailable server."""
    return _Problem.TIMEOUT if sqlstate_of(exc) in _TIMEOUT_CODES else _Problem.UNAVAILABLE


def _library(exc: BaseException) -> _Problem:
    """The library's own: a database that failed, or a manager not (or no longer) running."""
    return _Problem.TIMEOUT if isinstance(exc, DatabaseTimeoutError) else _Problem.UNAVAILABLE


def _os_error(exc: BaseException) -> _Problem | None:
    """A connection refused or reset, or a timeout, when the driver raised it unwrapped."""
    if not _raised_by_the_driver(exc):
        return None
    return _Problem.TIMEOUT if isinstance(exc, TimeoutError) else _Problem.UNAVAILABLE


# One entry per exception type; Starlette calls the handler of the most specific
# type an exception is, so an app's handler for a subclass still wins. SQLAlchemy's
# engines built here raise a bare DBAPIError about availability as OperationalError
# (see create_engine_for), so every other DBAPIError is left to the app.
_CLASSIFIERS: Final[Mapping[type[Exception], Callable[[BaseException], _Problem | None]]] = {
    sa_exc.TimeoutError: lambda _: _Problem.POOL_EXHAUSTED,
    sa_exc.OperationalError: _operational,
    sa_exc.InterfaceError: lambda _: _Problem.UNAVAILABLE,
    DatabaseError: _library,
    ManagerStateError: _library,
    OSError: _os_error,
}


def _raised_by_the_driver(exc: BaseException) -> bool:
    """Whether the driver or SQLAlchemy raised *exc*, not the app's own I/O or timeout.

    The innermost frame that is not the event loop's or the standard library's
    decides: asyncpg's for a refused connection or a command timeout, the app's
    for an ``asyncio.timeout`` around a call to another service.
    """
    names = [
        frame.f_globals.get("__name__", "") for frame, _ in traceback.walk_tb(exc.__traceback__)
    ]
    for name in reversed(names):
        if not name.startswith(_PLUMBING):
            return bool(name.startswith(_DATABASE_PACKAGES))
    return False


def add_exception_handlers(app: FastAPI, *, retry_after: int | None = None) -> None:
    """Answer database failures with 503 problem details and log the original exception.

    Handled: ``sqlalchemy.exc.OperationalError`` (a lost connection, a server
    shutting down or out of connections, a statement cancelled by
    ``statement_timeout``) and ``InterfaceError``; ``sqlalchemy.exc.TimeoutError``
    (no pooled connection in time); the library's ``DatabaseError`` and
    ``ManagerStateError``; an ``OSError`` or ``TimeoutError`` raised by the driver
    (a refused connection, a command timeout). The same exception types raised
    by the app's own code (a ``TimeoutError`` of an ``asyncio.timeout`` around a
    call to another service) are raised again, to the app's handlers or a plain
    500, as is every other ``DBAPIError`` (a unique violation, say). A handler the
    app registered for one of these classes is kept, and one it registers for a
    subclass takes precedence.

    Args:
        app: The application.
        retry_after: Seconds to send as ``Retry-After``; no header by default.
    """
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    for exc_class, classify in _CLASSIFIERS.items():
        if exc_class in app.exception_handlers:
            continue  # the app's own handler, registered before, stays
        # Starlette calls one handler for HTTP and WebSocket connections; its type splits them.
        handler = _handler(classify, headers)
        app.add_exception_handler(exc_class, cast("ExceptionHandler", handler))


def _handler(
    classify: Callable[[BaseException], _Problem | None], headers: Mapping[str, str]
) -> Callable[[Request | WebSocket, Exception], object]:
    """The exception handler for one type: a 503 when *classify* finds a problem, else raise."""

    async def handle(connection: Request | WebSocket, exc: Exception) -> Response | None:
        """Answer *exc* with a 503 if it is a database problem, else raise it again."""
        problem = classify(exc)
        if problem is None:
            raise exc
        _log(connection, exc, problem)
        if isinstance(connection, WebSocket):
            await connection.close(code=_WS_TRY_AGAIN, reason="database unavailable")
            return None
        return _unavailable(problem, connection.url.path, headers)

    return handle


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
