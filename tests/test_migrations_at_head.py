"""The lock-free check of ``upgrade()`` against a database already at head, on PostgreSQL.

A rolling deploy of many replicas against a database at head must cost each
one query, never a wait for the migration lock; and a revision added to the
scripts while a process runs must be applied by its next upgrade, not taken
for the head it had cached.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from migrations_support import SAMPLE, branched_config, lock_held, runs, sent_statements
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.pool import Pool

from agentifui_config import ConnectionManager, MigrationState
from agentifui_config.migrations import (
    MigrationError,
    get_migration_status,
    load_alembic_config,
    script_directory,
    upgrade,
)
from agentifui_config.testing.postgres import temporary_database

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

_VERSION_READ = "SELECT version_num FROM alembic_version"

_D4 = '''"""Record a fourth run.

Revision ID: d4
Revises: c3
"""

from alembic import op

revision = "d4"
down_revision = "c3"


def upgrade() -> None:
    """Record this run."""
    op.execute("INSERT INTO migration_runs (revision) VALUES ('d4')")
'''


def _add_d4(scripts: Path) -> None:
    """Add to *scripts* a fourth revision, d4, on top of c3."""
    (scripts / "versions" / "sample_d4_record.py").write_text(_D4, encoding="utf-8")


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    """A copy of the sample migration directory, free to gain revisions."""
    copy = tmp_path / "migrations"
    shutil.copytree(SAMPLE, copy, ignore=shutil.ignore_patterns("branched", "__pycache__"))
    return copy


@pytest.mark.asyncio
class TestAtHead:
    async def test_costs_one_query(self, fresh_database: DatabaseConfig) -> None:
        """An upgrade of a database at head sends one statement, the read of its version table."""
        await upgrade(fresh_database, SAMPLE)
        with sent_statements() as sent:
            await upgrade(fresh_database, SAMPLE)
        assert sent == [_VERSION_READ]

    @pytest.mark.parametrize("pgbouncer", [False, True], ids=["session-lock", "xact-lock"])
    async def test_returns_while_another_holds_the_lock(
        self, fresh_database: DatabaseConfig, pgbouncer: bool
    ) -> None:
        """At head, an upgrade returns at once while another holds the lock, whichever lock."""
        await upgrade(fresh_database, SAMPLE)
        config = fresh_database.model_copy(update={"pgbouncer": pgbouncer})
        async with lock_held(fresh_database):
            with sent_statements() as sent:
                await upgrade(config, SAMPLE, lock_timeout=0.3)
        assert not any("advisory" in statement for statement in sent)
        assert await runs(fresh_database) == ["a1", "b2", "c3"]

    async def test_manager_reads_on_its_pool(self, fresh_database: DatabaseConfig) -> None:
        """A manager's upgrade at head borrows a pooled connection: it opens no new one."""
        await upgrade(fresh_database, SAMPLE)
        manager = ConnectionManager()
        await manager.initialize(fresh_database)
        opened: list[object] = []

        def count(dbapi_connection: object, _record: object) -> None:
            opened.append(dbapi_connection)

        try:
            async with lock_held(fresh_database):
                event.listen(Pool, "connect", count)
                try:
                    await upgrade(manager, SAMPLE, lock_timeout=0.3)
                finally:
                    event.remove(Pool, "connect", count)
        finally:
            await manager.dispose()
        assert opened == []

    async def test_manager_with_a_direct_target_reads_the_target(
        self, fresh_database: DatabaseConfig, postgres_server: PostgresServer
    ) -> None:
        """A manager whose migrations go elsewhere asks the migration database, not its pool's."""
        await upgrade(fresh_database, SAMPLE)  # the pool's database is at head
        with temporary_database(postgres_server) as target:
            config = fresh_database.model_copy(
                update={"migration_url": SecretStr(target.sqlalchemy_url.render_as_string(False))}
            )
            manager = ConnectionManager()
            await manager.initialize(config)
            try:
                await upgrade(manager, SAMPLE)
            finally:
                await manager.dispose()
            assert await runs(target) == ["a1", "b2", "c3"]

    async def test_several_heads_at_heads_take_no_lock(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A database at both heads of unmerged scripts, upgraded to 'heads', is left at once."""
        await upgrade(fresh_database, branched_config(), "heads")
        async with lock_held(fresh_database):
            with sent_statements() as sent:
                await upgrade(fresh_database, branched_config(), "heads", lock_timeout=0.3)
        assert sent == [_VERSION_READ]

    async def test_head_with_several_heads_reads_no_version(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """'head' with unmerged heads cannot be at head: the refusal costs no version query."""
        await upgrade(fresh_database, branched_config(), "heads")
        with sent_statements() as sent, pytest.raises(MigrationError, match="Multiple head"):
            await upgrade(fresh_database, branched_config())
        assert _VERSION_READ not in sent

    async def test_a_revision_by_name_goes_through_the_lock(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """Only 'head' and 'heads' are checked without the lock; a named revision takes it."""
        await upgrade(fresh_database, SAMPLE)
        with sent_statements() as sent:
            await upgrade(fresh_database, SAMPLE, "c3")
        assert _VERSION_READ not in sent
        assert any("pg_try_advisory_lock(" in statement for statement in sent)


@pytest.mark.asyncio
class TestNewRevisionFile:
    async def test_is_applied_by_the_next_upgrade(
        self, fresh_database: DatabaseConfig, scripts: Path
    ) -> None:
        """A revision file added after an upgrade at head is applied by the next upgrade()."""
        await upgrade(fresh_database, scripts)
        await upgrade(fresh_database, scripts)  # at head: the heads come from the cache
        _add_d4(scripts)
        await upgrade(fresh_database, scripts)
        assert await runs(fresh_database) == ["a1", "b2", "c3", "d4"]

    async def test_is_pending_in_the_next_status(
        self, fresh_database: DatabaseConfig, scripts: Path
    ) -> None:
        """The migration status sees a new revision file without clearing the script cache."""
        await upgrade(fresh_database, scripts)
        assert (await get_migration_status(fresh_database, scripts)).is_ready
        _add_d4(scripts)
        status = await get_migration_status(fresh_database, scripts)
        assert (status.state, status.pending_revisions) == (MigrationState.PENDING, ("d4",))


class TestScriptCache:
    def test_unchanged_scripts_are_read_once(self, scripts: Path) -> None:
        """While no revision file changes the cached scripts serve; a new file makes a new read."""
        first = script_directory(load_alembic_config(scripts))
        assert script_directory(load_alembic_config(scripts)) is first
        _add_d4(scripts)
        again = script_directory(load_alembic_config(scripts))
        assert again is not first
        assert again.get_heads() == ["d4"]

    def test_removed_revision_file_is_seen(self, scripts: Path) -> None:
        """A revision file deleted is gone from the heads at the next read."""
        assert script_directory(load_alembic_config(scripts)).get_heads() == ["c3"]
        (scripts / "versions" / "sample_c3_add_index.py").unlink()
        assert script_directory(load_alembic_config(scripts)).get_heads() == ["b2"]
