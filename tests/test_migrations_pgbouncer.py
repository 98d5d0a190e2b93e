"""Migrations through a real PgBouncer in transaction mode, and past it to a direct target."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from migrations_support import SAMPLE, fetch, role_with_hard_password, runs
from pgbouncer_support import running_pgbouncer
from test_migrations_concurrency import run_together

from agentifui_config.migrations import current, upgrade

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig


@pytest.fixture
def pooled(fresh_database: DatabaseConfig) -> Iterator[DatabaseConfig]:
    """*fresh_database* reached through a PgBouncer of the test's own, in transaction mode."""
    with running_pgbouncer(fresh_database) as config:
        yield config


@pytest_asyncio.fixture
async def migrator(fresh_database: DatabaseConfig) -> AsyncIterator[DatabaseConfig]:
    """*fresh_database* reached as a role of its own that owns it, not as PgBouncer's user."""
    async with role_with_hard_password(fresh_database) as config:
        yield config


async def _owner_of_items(config: DatabaseConfig) -> list[tuple[object, ...]]:
    return await fetch(config, "SELECT tableowner FROM pg_tables WHERE tablename = 'items'")


@pytest.mark.asyncio
class TestUpgradeThroughPgBouncer:
    async def test_upgrade_through_the_pooler_migrates(
        self, fresh_database: DatabaseConfig, pooled: DatabaseConfig
    ) -> None:
        """An upgrade through PgBouncer in transaction mode migrates to head and commits."""
        await upgrade(pooled, SAMPLE)
        assert await runs(fresh_database) == ["a1", "b2", "c3"]
        assert await current(pooled, SAMPLE) == ("c3",)

    async def test_concurrent_upgrades_through_the_pooler_migrate_once(
        self, fresh_database: DatabaseConfig, pooled: DatabaseConfig
    ) -> None:
        """Processes upgrading at once through the pooler all succeed; each revision runs once."""
        exit_codes = await asyncio.to_thread(run_together, pooled)
        assert exit_codes == [0] * len(exit_codes)
        rows = await fetch(fresh_database, "SELECT revision, backend_pid FROM migration_runs")
        assert sorted(revision for revision, _ in rows) == ["a1", "b2", "c3"]
        # The xact lock's transaction held one server connection for the whole upgrade.
        assert len({pid for _, pid in rows}) == 1

    async def test_direct_target_is_what_migrates(
        self, migrator: DatabaseConfig, fresh_database: DatabaseConfig
    ) -> None:
        """With DB_MIGRATION_HOST/PORT set, the migration runs there, not through the pooler.

        PgBouncer logs in as the server's admin whatever user a client names, so
        the owner of the tables a migration creates tells which way it went.
        """
        with running_pgbouncer(fresh_database) as pooled:
            config = migrator.model_copy(
                update={
                    "host": pooled.host,
                    "port": pooled.port,
                    "pgbouncer": True,
                    "migration_host": migrator.host,
                    "migration_port": migrator.port,
                }
            )
            await upgrade(config, SAMPLE)
        assert await _owner_of_items(fresh_database) == [(migrator.username,)]

    async def test_without_direct_target_the_pooler_migrates(
        self, migrator: DatabaseConfig, fresh_database: DatabaseConfig
    ) -> None:
        """The control for the test above: through the pooler, the tables are its user's."""
        with running_pgbouncer(fresh_database) as pooled:
            config = migrator.model_copy(update={"host": pooled.host, "port": pooled.port})
            await upgrade(config.model_copy(update={"pgbouncer": True}), SAMPLE)
        assert await _owner_of_items(fresh_database) == [(fresh_database.username,)]
