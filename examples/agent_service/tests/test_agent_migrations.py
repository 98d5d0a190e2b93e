"""The migration chain: its order, upgrade, downgrade and upgrade again, and the models matching it.

The plugin's ready-made checks are imported, so pytest runs them here too:
one head, an empty database upgrading to head, every revision going up, down
and up again, and autogenerate finding no difference between the models and
the migrated schema. The tests below add what is particular to this example.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from agentifui_config import ConnectionManager, DatabaseConfig
from agentifui_config.migrations import current, downgrade, load_alembic_config, upgrade
from agentifui_config.testing.migration_checks import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from examples.agent_service.models import metadata

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]

# Each revision and the tables it adds, in the order the chain runs them.
_CHAIN = [
    ("0001", {"audit_logs"}),
    (
        "0002",
        {"users", "user_identities", "roles", "groups", "user_roles", "user_groups", "group_roles"},
    ),
    ("0003", {"api_keys"}),
    ("0004", {"conversation_sessions"}),
]
_VERSION_TABLE = "alembic_version"


async def _schema(database: DatabaseConfig) -> dict[str, set[str]]:
    """The tables of *database* with the names of their indexes, version table left out."""
    manager = ConnectionManager()
    await manager.initialize(database)
    try:
        async with manager.engine.connect() as connection:
            return await connection.run_sync(_inspect)
    finally:
        await manager.dispose()


def _inspect(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        table: {str(index["name"]) for index in inspector.get_indexes(table)}
        for table in inspector.get_table_names()
        if table != _VERSION_TABLE
    }


def test_chain_order(agentifui_alembic_config: Path) -> None:
    """The revisions run audit_logs, users, api_keys, sessions, each after the one before."""
    scripts = ScriptDirectory.from_config(load_alembic_config(agentifui_alembic_config))
    walked = [script.revision for script in scripts.walk_revisions("base", "heads")]
    assert list(reversed(walked)) == [revision for revision, _ in _CHAIN]
    assert [scripts.get_revision(rev).down_revision for rev, _ in _CHAIN] == [
        None,
        "0001",
        "0002",
        "0003",
    ]


@pytest.mark.asyncio
async def test_upgrade_downgrade_upgrade(
    fresh_database: DatabaseConfig, agentifui_alembic_config: Path
) -> None:
    """Up to head step by step, down to base, and up again, each step adding its tables."""
    expected: set[str] = set()
    for revision, tables in _CHAIN:
        await upgrade(fresh_database, agentifui_alembic_config, revision)
        expected |= tables
        assert set(await _schema(fresh_database)) == expected
        assert await current(fresh_database, agentifui_alembic_config) == (revision,)

    await downgrade(fresh_database, agentifui_alembic_config, "base")
    assert await _schema(fresh_database) == {}
    assert await current(fresh_database, agentifui_alembic_config) == ()

    await upgrade(fresh_database, agentifui_alembic_config)
    assert set(await _schema(fresh_database)) == set(metadata.tables)
    assert await current(fresh_database, agentifui_alembic_config) == ("0004",)


@pytest.mark.asyncio
async def test_index_names(fresh_database: DatabaseConfig, agentifui_alembic_config: Path) -> None:
    """The migrated indexes carry the names the naming convention gives the models' indexes."""
    await upgrade(fresh_database, agentifui_alembic_config)
    schema = await _schema(fresh_database)
    for table in metadata.sorted_tables:
        declared = {str(index.name) for index in table.indexes}
        assert declared <= schema[table.name], table.name
    assert "ix_users_email" in schema["users"]
    assert "ix_conversation_sessions_expires_at" in schema["conversation_sessions"]
    assert {"ix_audit_logs_actor", "ix_audit_logs_created_at"} <= schema["audit_logs"]


@pytest.mark.asyncio
async def test_migrated_database_at_head(
    migrated_database: DatabaseConfig, agentifui_alembic_config: Path
) -> None:
    """The database the other tests use was built by the migrations, and is at the head."""
    assert await current(migrated_database, agentifui_alembic_config) == ("0004",)
    assert set(await _schema(migrated_database)) == set(metadata.tables)
