"""Tests for run_migrations() handed an engine or a connection, sync or async, on PostgreSQL.

pytest-alembic and hand-written scripts put an ``Engine`` or an ``AsyncEngine``
in ``config.attributes["connection"]``; the one-line ``env.py`` migrates on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from alembic import command
from migrations_support import SAMPLE, runs
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agentifui_config.migrations import MigrationError, current, load_alembic_config
from agentifui_config.migrations.scripts import with_attributes

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from agentifui_config import DatabaseConfig


@pytest_asyncio.fixture
async def engine(fresh_database: DatabaseConfig) -> AsyncIterator[AsyncEngine]:
    """An async engine with a pool on the test's empty database."""
    engine = create_async_engine(fresh_database.sqlalchemy_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def _upgrade(handed: object) -> None:
    command.upgrade(with_attributes(load_alembic_config(SAMPLE), connection=handed), "head")


@pytest.mark.asyncio
class TestHandedAnEngine:
    async def test_async_engine_where_no_loop_runs(
        self, fresh_database: DatabaseConfig, engine: AsyncEngine
    ) -> None:
        """An AsyncEngine handed to env.py outside any loop migrates, and stays usable after."""
        await asyncio.to_thread(_upgrade, engine)
        assert await runs(fresh_database) == ["a1", "b2", "c3"]
        assert await current(fresh_database, SAMPLE) == ("c3",)
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM items")) == 0

    @pytest.mark.parametrize("kind", ["Engine", "AsyncEngine", "AsyncConnection"])
    async def test_inside_run_sync(
        self, fresh_database: DatabaseConfig, engine: AsyncEngine, kind: str
    ) -> None:
        """Inside run_sync(), a sync Engine, an AsyncEngine or an AsyncConnection all migrate."""
        async with engine.connect() as connection:
            handed: dict[str, Any] = {
                "Engine": engine.sync_engine,
                "AsyncEngine": engine,
                "AsyncConnection": connection,
            }

            def migrate(_: Connection) -> None:
                _upgrade(handed[kind])

            await connection.run_sync(migrate)
            await connection.commit()
        assert await runs(fresh_database) == ["a1", "b2", "c3"]

    async def test_async_engine_in_a_running_loop_is_refused(self, engine: AsyncEngine) -> None:
        """An AsyncEngine handed to env.py where a loop runs outside run_sync() names the fix."""
        with pytest.raises(MigrationError, match=r"holds an AsyncEngine.*run_sync"):
            _upgrade(engine)

    async def test_something_else_is_refused(self) -> None:
        """An object that is neither an engine nor a connection is named in the error."""
        with pytest.raises(MigrationError, match=r"holds a str, which env\.py cannot migrate"):
            _upgrade("postgresql://nowhere/db")
