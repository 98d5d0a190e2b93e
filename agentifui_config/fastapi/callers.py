"""Read-your-writes keyed by the caller: each request acts for the caller the app names.

:func:`add_caller_key` installs a pure ASGI middleware that asks the app's
function who the request is for (a user id, a session cookie) and runs the
request inside ``manager.caller(key)``
(:meth:`~agentifui_config.read_sessions.ReadSessions.caller`): a commit in the
request is remembered for that caller, and for ``DB_READ_YOUR_WRITES_SECONDS``
its later requests read from the primary.
A pure ASGI middleware, not Starlette's ``BaseHTTPMiddleware``, so the
handler and its dependencies run in the context the caller was set in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request

from agentifui_config.connection import ConnectionManager
from agentifui_config.fastapi.dependencies import DATABASE_STATE

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CallerKey", "add_caller_key"]

CallerKey = Callable[[Request], str | None]
"""Names the caller of a request (a user id, a session cookie), or ``None`` for nobody."""


def add_caller_key(app: FastAPI, caller_key: CallerKey) -> None:
    """Key read-your-writes by *caller_key*: each request acts for the caller it names.

    Call it before the app starts: middleware cannot be added later.
    :func:`setup` calls it when given *caller_key*. Without
    ``DB_READ_YOUR_WRITES_SECONDS`` (0 by default) nothing is remembered.

    Args:
        app: The application.
        caller_key: Called with each HTTP request, before the handler and its
            dependencies; returns the caller's key, or ``None`` for a request
            that is nobody's. It runs before any dependency, so it reads what
            the request carries (a cookie, a header) or what an earlier
            middleware put on ``request.state``.
    """
    app.add_middleware(_CallerMiddleware, caller_key=caller_key)


class _CallerMiddleware:
    """Runs each HTTP request inside ``manager.caller(caller_key(request))``."""

    def __init__(self, app: ASGIApp, caller_key: CallerKey) -> None:
        self._app = app
        self._caller_key = caller_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request as its caller, or as it is without a manager or a key."""
        if scope["type"] == "http":
            manager = getattr(scope["app"].state, DATABASE_STATE, None)
            if isinstance(manager, ConnectionManager) and manager.is_initialized:
                with manager.caller(self._caller_key(Request(scope))):
                    await self._app(scope, receive, send)
                return
        await self._app(scope, receive, send)
