"""Request dependencies: the settings, the connection manager and one session per request.

The lifespan (:func:`~agentifui_config.fastapi.create_lifespan`) keeps the
settings and the connection manager on ``app.state`` under the names
:data:`SETTINGS_STATE` and :data:`DATABASE_STATE`; these dependencies read them
from there, so nothing here is a module-level global.

The session aliases are declared with ``scope="function"``: the session is
closed, and committed for :data:`TransactionDep`, when the handler returns and
before the response is sent. A failed commit therefore becomes an error
response, never a lost write behind a 200, and the connection goes back to the
pool without waiting for a slow client to read the response.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection  # noqa: TC002 - FastAPI reads annotations at run time

from agentifui_config.connection import ConnectionManager, ManagerStateError
from agentifui_config.settings import EnvironmentSettings
from agentifui_config.settings import get_settings as _process_settings

__all__ = [
    "DATABASE_STATE",
    "SETTINGS_STATE",
    "ConnectionManagerDep",
    "ReadSessionDep",
    "SessionDep",
    "SettingsDep",
    "TransactionDep",
    "get_connection_manager",
    "get_read_session",
    "get_session",
    "get_settings",
    "get_transactional_session",
]

SETTINGS_STATE: Final = "agentifui_settings"
"""The ``app.state`` attribute holding the :class:`EnvironmentSettings` the lifespan loaded."""

DATABASE_STATE: Final = "agentifui_database"
"""The ``app.state`` attribute holding the lifespan's :class:`ConnectionManager`."""


async def get_settings(connection: HTTPConnection) -> EnvironmentSettings:
    """The settings the lifespan loaded, or the process's cached settings without the lifespan.

    Raises:
        ConfigurationError: Without the lifespan, when the process's settings are invalid.
    """
    settings = getattr(connection.app.state, SETTINGS_STATE, None)
    if isinstance(settings, EnvironmentSettings):
        return settings
    return _process_settings()


async def get_connection_manager(connection: HTTPConnection) -> ConnectionManager:
    """The lifespan's connection manager.

    Raises:
        ManagerStateError: The app was not created with the lifespan, so there is
            no manager; answered with 503 by the error handlers.
    """
    manager = getattr(connection.app.state, DATABASE_STATE, None)
    if not isinstance(manager, ConnectionManager):
        raise ManagerStateError(
            f"no ConnectionManager is on app.state.{DATABASE_STATE}: "
            "the agentifui-config lifespan has not run",
            remedy="create the app with FastAPI(lifespan=create_lifespan())",
        )
    return manager


SettingsDep = Annotated[EnvironmentSettings, Depends(get_settings)]
"""The settings, as a handler parameter: ``settings: SettingsDep``."""

ConnectionManagerDep = Annotated[ConnectionManager, Depends(get_connection_manager)]
"""The connection manager, as a handler parameter: ``manager: ConnectionManagerDep``."""


async def get_session(manager: ConnectionManagerDep) -> AsyncIterator[AsyncSession]:
    """Yield one session for the request; the handler commits.

    The session is rolled back when the handler raises and always closed, even
    when the request is cancelled. It connects on its first query, so a request
    that does not query checks out no connection.

    Raises:
        ManagerStateError: The lifespan has not run, or has shut the pool down.
    """
    async with manager.session() as session:
        yield session


async def get_transactional_session(manager: ConnectionManagerDep) -> AsyncIterator[AsyncSession]:
    """Yield one session for the request and commit it when the handler returns normally.

    Use it through :data:`TransactionDep` (or ``Depends(..., scope="function")``):
    then the commit runs before the response is sent, and a failed commit
    becomes an error response. A handler that raises is rolled back instead.

    Raises:
        ManagerStateError: The lifespan has not run, or has shut the pool down.
        sqlalchemy.exc.SQLAlchemyError: The commit failed (the changes are rolled back).
    """
    async with manager._committed() as session:
        yield session


async def get_read_session(manager: ConnectionManagerDep) -> AsyncIterator[AsyncSession]:
    """Yield one read-only session for the request, on a healthy replica or the primary.

    Each transaction is routed when it starts: to the next replica in rotation,
    or to the primary when none is healthy or once the request has committed a
    write (read-your-writes). A write on it is refused by the server.

    Raises:
        ManagerStateError: The lifespan has not run, or has shut the pool down.
    """
    async with manager.read_session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""A session the handler commits, closed before the response is sent."""

TransactionDep = Annotated[AsyncSession, Depends(get_transactional_session, scope="function")]
"""A session committed when the handler returns normally, before the response is sent."""

ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
"""A read-only session on a replica (the primary after a write), closed before the response."""
