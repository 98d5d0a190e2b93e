"""Read-your-writes keyed by the caller: each request acts for the caller the app names.

:func:`add_caller_key` installs a pure ASGI middleware that asks the app's
function who the request is for (a user id, a session cookie) and runs the
request inside ``manager.caller(key)``
(:meth:`~agentifui_config.read_sessions.ReadSessions.caller`): a commit in the
request is remembered for that caller, and for ``DB_READ_YOUR_WRITES_SECONDS``
its later requests read from the primary. Where that cannot change where a read
goes (no read replicas, or ``DB_READ_YOUR_WRITES_SECONDS`` at 0), the request
passes straight through and the app's function is not called.
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

    from agentifui_config.replicas import ReadRouter

__all__ = ["CallerKey", "add_caller_key"]

CallerKey = Callable[[Request], str | None]
"""Names the caller of a request (a user id, a session cookie), or ``None`` for nobody."""


def add_caller_key(app: FastAPI, caller_key: CallerKey) -> None:
    """Key read-your-writes by *caller_key*: each request acts for the caller it names.

    Call it before the app starts: middleware cannot be added later.
    :func:`setup` calls it when given *caller_key*. Without read replicas or
    without ``DB_READ_YOUR_WRITES_SECONDS`` (0 by default) nothing is
    remembered, and *caller_key* is not called.

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
        """Serve the request as its caller, or as it is when a caller would change nothing."""
        router = _router_of(scope) if scope["type"] == "http" else None
        if router is None or not router.keys_by_caller:
            # No manager, no replicas or no window: the caller is not asked for.
            await self._app(scope, receive, send)
            return
        # The router's variable set here, as manager.caller() would, without its generator.
        token = router.caller.set(self._caller_key(Request(scope)))
        try:
            await self._app(scope, receive, send)
        finally:
            router.caller.reset(token)


def _router_of(scope: Scope) -> ReadRouter | None:
    """The read router of the app's manager; ``None`` without an initialized one."""
    manager = getattr(scope["app"].state, DATABASE_STATE, None)
    return manager.read_router if isinstance(manager, ConnectionManager) else None
