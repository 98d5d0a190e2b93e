"""The plugin's asynchronous fixtures: a connection manager, a rolled-back session, an app client.

They are function-scoped and declare no ``loop_scope``, so they run on the
loop pytest-asyncio gives function-scoped fixtures; the plugin checks at
collection that the tests using them run on that same loop (see
:func:`agentifui_config.testing.plugin.loop_scope_problem`). They need
pytest-asyncio, and the tests using them the ``asyncio`` marker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

import pytest_asyncio

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncSession

    from agentifui_config.connection import ConnectionManager
    from agentifui_config.database import DatabaseConfig

__all__ = ["app_client", "connection_manager", "db_session"]

_DISPOSE_GRACE: Final = 1.0  # seconds for connections a test left checked out


@pytest_asyncio.fixture
async def connection_manager(database_config: DatabaseConfig) -> AsyncIterator[ConnectionManager]:
    """A ``ConnectionManager`` initialized on the test database, disposed after the test."""
    from agentifui_config.connection import ConnectionManager  # noqa: PLC0415 - loads SQLAlchemy

    manager = ConnectionManager()
    await manager.initialize(database_config)
    try:
        yield manager
    finally:
        await manager.dispose(grace=_DISPOSE_GRACE)


@pytest_asyncio.fixture
async def db_session(
    migrated_database: DatabaseConfig, connection_manager: ConnectionManager
) -> AsyncIterator[AsyncSession]:
    """A session on the migrated database whose every change is rolled back after the test.

    The code under test may ``commit()``: the session works on savepoints inside
    an outer transaction that is rolled back at the end, so the next test finds
    the database as the migrations left it.
    """
    from agentifui_config.testing.sessions import rolled_back_session  # noqa: PLC0415

    async with rolled_back_session(connection_manager.engine) as session:
        yield session


@pytest_asyncio.fixture
async def app_client(
    agentifui_app: Any, db_session: AsyncSession, connection_manager: ConnectionManager
) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` calling :func:`agentifui_app`, its sessions set to ``db_session``.

    ``SessionDep`` and ``TransactionDep`` (``get_session`` and
    ``get_transactional_session``) yield ``db_session``, so the test sees what a
    request wrote, and nothing survives the test; ``get_connection_manager``
    and the health endpoints see ``connection_manager``. The app's lifespan
    does not run. Needs the ``fastapi`` extra.
    """
    from agentifui_config.testing.sessions import client_for  # noqa: PLC0415 - loads httpx

    async with client_for(agentifui_app, db_session, connection_manager) as client:
        yield client
