"""Tests for the migration status and the health probe of agentifui_config.migrations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, assert_type

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from migrations_support import SAMPLE, branched_config, connected
from pydantic import SecretStr
from sqlalchemy import text

from agentifui_config import ConnectionManager, HealthStatus, MigrationState, MigrationStatus
from agentifui_config.migrations import (
    MigrationError,
    clear_script_cache,
    get_migration_status,
    load_alembic_config,
    migration_probe,
    script_directory,
    stamp,
    upgrade,
)

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig


@pytest.mark.asyncio
class TestGetMigrationStatus:
    async def test_empty_database_is_pending_with_every_revision_in_order(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A database without a version table has every revision pending, oldest first."""
        status = await get_migration_status(fresh_database, SAMPLE)
        assert_type(status, MigrationStatus)
        assert status == MigrationStatus(
            state=MigrationState.PENDING,
            head_revisions=("c3",),
            pending_revisions=("a1", "b2", "c3"),
        )
        assert not status.is_ready

    async def test_middle_of_the_chain_is_pending_with_the_rest(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A database at the first revision has the two later ones pending."""
        await upgrade(fresh_database, SAMPLE, "a1")
        status = await get_migration_status(fresh_database, SAMPLE)
        assert status.state is MigrationState.PENDING
        assert status.current_revisions == ("a1",)
        assert status.pending_revisions == ("b2", "c3")

    async def test_head_is_up_to_date(self, fresh_database: DatabaseConfig) -> None:
        """A database at the head is up to date, with nothing pending."""
        await upgrade(fresh_database, SAMPLE)
        status = await get_migration_status(fresh_database, SAMPLE)
        assert status == MigrationStatus(
            state=MigrationState.UP_TO_DATE, current_revisions=("c3",), head_revisions=("c3",)
        )
        assert status.is_ready

    async def test_revision_the_scripts_do_not_know(self, fresh_database: DatabaseConfig) -> None:
        """A database stamped by newer code reports UNKNOWN_REVISION and is not ready."""
        await upgrade(fresh_database, SAMPLE)
        async with connected(fresh_database) as c:
            await c.execute(text("UPDATE alembic_version SET version_num = 'd4future'"))
            await c.commit()
        status = await get_migration_status(fresh_database, SAMPLE)
        assert status.state is MigrationState.UNKNOWN_REVISION
        assert status.current_revisions == ("d4future",)
        assert status.head_revisions == ("c3",)
        assert not status.is_ready

    async def test_several_heads_are_an_error_naming_them(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """Scripts with two unmerged heads report ERROR naming both heads."""
        status = await get_migration_status(fresh_database, branched_config())
        assert status.state is MigrationState.ERROR
        assert status.head_revisions == ("y2", "z2")
        assert status.error is not None
        assert "2 heads (y2, z2)" in status.error
        assert "alembic merge heads" in status.error

    async def test_unreachable_database_is_an_error_without_the_password(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A database that refuses the connection gives ERROR, and the reason hides the password."""
        secret = "n0t-Th3-p4ssw0rd-%@"
        config = fresh_database.model_copy(
            update={"port": 1, "password": SecretStr(secret), "connect_timeout": 2.0}
        )
        status = await get_migration_status(config, SAMPLE)
        assert status.state is MigrationState.ERROR
        assert status.error
        assert secret not in status.error

    async def test_missing_configuration_is_an_error(self, fresh_database: DatabaseConfig) -> None:
        """A path that does not exist gives ERROR saying so, rather than raising."""
        status = await get_migration_status(fresh_database, SAMPLE / "nowhere.ini")
        assert status.state is MigrationState.ERROR
        assert status.error is not None
        assert "does not exist" in status.error

    async def test_reads_the_same_connection_it_is_given(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A connection passed in is used for the read, and a manager's pool works too."""
        manager = ConnectionManager()
        await manager.initialize(fresh_database)
        try:
            async with manager.engine.connect() as connection:
                status = await get_migration_status(connection, SAMPLE)
            assert status.pending_revisions == ("a1", "b2", "c3")
            assert (await get_migration_status(manager, SAMPLE)) == status
        finally:
            await manager.dispose()

    async def test_scripts_are_read_once_per_process(
        self, fresh_database: DatabaseConfig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Repeated status checks read the script directory once, until the cache is cleared."""
        clear_script_cache()
        reads: list[Config] = []
        original = ScriptDirectory.from_config

        def counting(config: Config) -> ScriptDirectory:
            reads.append(config)
            return original(config)

        monkeypatch.setattr(ScriptDirectory, "from_config", counting)
        for _ in range(3):
            await get_migration_status(fresh_database, SAMPLE)
        assert len(reads) == 1
        clear_script_cache()
        await get_migration_status(fresh_database, SAMPLE)
        assert len(reads) == 2


class TestConfiguration:
    def test_broken_location_is_a_migration_error(self, tmp_path: Path) -> None:
        """A configuration without script_location is refused with a remedy."""
        config = Config(tmp_path / "alembic.ini")
        (tmp_path / "alembic.ini").write_text("[alembic]\n", encoding="utf-8")
        with pytest.raises(MigrationError, match="cannot read the migration scripts"):
            script_directory(config)

    def test_directory_without_env_py_is_refused(self, tmp_path: Path) -> None:
        """A directory that holds no env.py is not taken for a migration directory."""
        with pytest.raises(MigrationError, match=r"holds no env\.py"):
            load_alembic_config(tmp_path)

    def test_wrong_path_fails_at_construction(self, tmp_path: Path) -> None:
        """A probe for a path that does not exist is refused when built, not at the first check."""
        with pytest.raises(MigrationError, match="does not exist"):
            migration_probe(tmp_path / "missing")


@pytest.mark.asyncio
class TestMigrationProbe:
    async def test_health_check_reports_the_migration_status(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A manager given the probe reports pending migrations as UNHEALTHY, then UP_TO_DATE."""
        manager = ConnectionManager(migration_probe=migration_probe(SAMPLE))
        await manager.initialize(fresh_database)
        try:
            pending = await manager.health_check()
            assert pending.status is HealthStatus.UNHEALTHY
            assert pending.migration_status.state is MigrationState.PENDING
            assert pending.errors == ("migrations: pending",)
            await stamp(manager, SAMPLE, "c3")
            ready = await manager.health_check()
            assert ready.status is HealthStatus.HEALTHY
            assert ready.migration_status.state is MigrationState.UP_TO_DATE
        finally:
            await manager.dispose()
