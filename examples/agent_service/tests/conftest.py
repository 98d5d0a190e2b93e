"""How the example's suite uses agentifui-config's pytest plugin.

The plugin (loaded by its ``pytest11`` entry point) provides the PostgreSQL
server, a ``ConnectionManager``, rolled-back sessions and the migration checks;
this file tells it where the example's migrations and models are, and gives
the example a database of its own.

``database_config`` and ``migrated_database`` are overridden with the same
behaviour as the plugin's, only for this directory: session fixtures are built
once per pytest process, so another app's suite collected in the same run
would otherwise share (and migrate) the same database. ``db_session`` is
overridden to make its session an ``AgentSession``, which leaves
soft-deleted rows out of queries, as the service's own sessions do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from agentifui_config.testing.postgres import temporary_database
from agentifui_config.testing.schema import upgrade_to_head
from agentifui_config.testing.sessions import rolled_back_session
from examples.agent_service import ALEMBIC_INI
from examples.agent_service.models import AgentSession, User, metadata

if TYPE_CHECKING:
    from sqlalchemy import MetaData
    from sqlalchemy.ext.asyncio import AsyncSession

    from agentifui_config import ConnectionManager, DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer


@pytest.fixture(scope="session")
def agentifui_alembic_config() -> Path:
    """The example's ``alembic.ini``, for the migration checks and ``migrated_database``."""
    return ALEMBIC_INI


@pytest.fixture(scope="session")
def agentifui_metadata() -> MetaData:
    """The example's models, which the plugin's model check compares with the migrated schema."""
    return metadata


@pytest.fixture(scope="session")
def database_config(postgres_server: PostgresServer) -> Iterator[DatabaseConfig]:
    """The example's own empty database on the plugin's server, dropped at the end of the run."""
    with temporary_database(postgres_server) as config:
        yield config


@pytest.fixture(scope="session")
def migrated_database(
    database_config: DatabaseConfig, agentifui_alembic_config: Path
) -> DatabaseConfig:
    """:func:`database_config` upgraded to head with the example's migrations, once per run."""
    upgrade_to_head(database_config, agentifui_alembic_config)
    return database_config


@pytest.fixture
def fresh_database(postgres_server: PostgresServer) -> Iterator[DatabaseConfig]:
    """An empty database of the test's own, for tests that migrate; the shared one is left alone."""
    with temporary_database(postgres_server) as config:
        yield config


@pytest_asyncio.fixture
async def db_session(
    migrated_database: DatabaseConfig, connection_manager: ConnectionManager
) -> AsyncIterator[AsyncSession]:
    """An ``AgentSession`` on the migrated database whose every change, commits too, is undone."""
    async with rolled_back_session(
        connection_manager.engine, sync_session_class=AgentSession
    ) as session:
        yield session


@pytest_asyncio.fixture
async def user(db_session: AsyncSession) -> User:
    """A live user, flushed so it has its id."""
    person = User(email="ada@example.com", display_name="Ada Lovelace")
    db_session.add(person)
    await db_session.flush()
    return person
