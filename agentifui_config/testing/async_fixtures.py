"""The fixtures bound to an event loop: a connection manager, a rolled-back session, a client.

They are function-scoped, and the asynchronous ones declare no ``loop_scope``,
so they run on the loop pytest-asyncio gives function-scoped fixtures; the
plugin checks at collection that the tests using them run on that same loop
(see :func:`agentifui_config.testing.plugin.loop_scope_problem`). They need
pytest-asyncio, and the tests using them the ``asyncio`` marker.

The connection manager is shared by every test on that loop: it lives in
``agentifui_connection_managers``, a fixture whose scope is the loop's
(``asyncio_default_fixture_loop_scope``), so with a session loop one engine
serves the whole run, and with the default function loop each test has its own.
``connection_manager`` itself is a plain fixture that lends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Final, Literal

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncSession

    from agentifui_config.connection import ConnectionManager
    from agentifui_config.database import DatabaseConfig
    from agentifui_config.testing._managers import SharedManagers

__all__ = ["agentifui_connection_managers", "app_client", "connection_manager", "db_session"]

_Scope = Literal["session", "package", "module", "class", "function"]
_SCOPES: Final[tuple[_Scope, ...]] = ("session", "package", "module", "class", "function")


def _loop_scope(fixture_name: str, config: pytest.Config) -> _Scope:
    """The scope of the event loop pytest-asyncio runs function-scoped async fixtures on.

    ``asyncio_default_fixture_loop_scope``; unset or ``fixture-scope`` mean the
    fixture's own scope, ``function`` for the fixtures here. pytest-asyncio
    installed but not registered (``-p no:asyncio``) declares no such setting:
    then ``function`` too, for fixtures that cannot run anyway.
    """
    try:
        configured = config.getini("asyncio_default_fixture_loop_scope")
    except ValueError:  # an unknown setting: pytest-asyncio's plugin is not loaded
        return "function"
    return next((scope for scope in _SCOPES if scope == configured), "function")


@pytest_asyncio.fixture(scope=_loop_scope)
async def agentifui_connection_managers() -> AsyncIterator[SharedManagers]:
    """The connection manager every test on one event loop shares, disposed with the loop.

    Its scope is the loop's: the session with ``asyncio_default_fixture_loop_scope
    = session``, a test with the default function loop.
    """
    from agentifui_config.testing._managers import SharedManagers  # noqa: PLC0415 - SQLAlchemy

    managers = SharedManagers(asyncio.get_running_loop())
    try:
        yield managers
    finally:
        await managers.close()


@pytest.fixture
def connection_manager(
    database_config: DatabaseConfig,
    agentifui_connection_managers: SharedManagers,
) -> Iterator[ConnectionManager]:
    """A ``ConnectionManager`` initialized on the test database, shared by the tests of one loop.

    After the test its settings are reset, the connections the test used are
    recycled, and, if the test disposed it or left a connection checked out,
    it is disposed and the next test gets a new one. A plain fixture: lending
    the shared manager takes no turn of the event loop.
    """
    with agentifui_connection_managers.lend(database_config) as manager:
        yield manager


@pytest_asyncio.fixture
async def db_session(
    migrated_database: DatabaseConfig,
    connection_manager: ConnectionManager,
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
