"""The walk-through of ``python -m examples.agent_service``, run on a database of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from agentifui_config import ConnectionManager
from agentifui_config.migrations import current
from examples.agent_service import ALEMBIC_INI
from examples.agent_service.demo import run
from examples.agent_service.models import User, agent_sessionmaker

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig


@pytest.mark.asyncio
async def test_walk_through(fresh_database: DatabaseConfig) -> None:
    """Every step does what it says, and the database keeps the schema but no row."""
    lines = await run(fresh_database)
    assert lines == [
        "signed up ada@example.com: roles ['agent:run', 'sessions:review']",
        lines[1],
        "refused: cannot move a session from 'completed' to 'active'; "
        "'completed' is final: start a new session instead",
        "cancelled 1 expired session(s)",
        "soft-deleted: found by identity False, key works False",
        "audit log: ['user.signed_up', 'api_key.issued']",
        "rolled back: the schema stays at head, no row was kept",
    ]
    assert lines[1].startswith("key agk_")
    assert lines[1].endswith("... authenticates ada@example.com")
    assert await current(fresh_database, ALEMBIC_INI) == ("0004",)


@pytest.mark.asyncio
async def test_runs_again(fresh_database: DatabaseConfig) -> None:
    """A second run works, since the first kept no row for it to collide with."""
    await run(fresh_database)
    await run(fresh_database)
    manager = ConnectionManager()
    await manager.initialize(fresh_database)
    try:
        async with agent_sessionmaker(manager.engine)() as session:
            everyone = select(User).execution_options(include_deleted=True)
            assert (await session.scalars(everyone)).all() == []
    finally:
        await manager.dispose()
