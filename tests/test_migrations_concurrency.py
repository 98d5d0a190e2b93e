"""Eight processes upgrading one empty database at once: each migration runs exactly once."""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.synchronize import Barrier
from typing import TYPE_CHECKING

import pytest
from migrations_support import SAMPLE, fetch, runs

from agentifui_config.migrations import get_migration_status, upgrade

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

_PROCESSES = 8
_DEADLINE = 60.0  # seconds for every process to finish, start-up included


def run_together(config: DatabaseConfig) -> list[int | None]:
    """Start :data:`_PROCESSES` upgrades of *config* at once; their exit codes."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(_PROCESSES)
    processes = [
        context.Process(target=upgrade_in_process, args=(config, start)) for _ in range(_PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(_DEADLINE)
    return [process.exitcode for process in processes]


def upgrade_in_process(config: DatabaseConfig, start: Barrier) -> None:
    """Wait until every process is up, then upgrade: the body of each spawned process."""
    start.wait(timeout=_DEADLINE)
    asyncio.run(upgrade(config, SAMPLE, lock_timeout=_DEADLINE))


@pytest.mark.asyncio
class TestConcurrentUpgrade:
    async def test_eight_processes_migrate_once(self, fresh_database: DatabaseConfig) -> None:
        """Eight spawned processes all succeed, each revision runs once, the database is at head."""
        exit_codes = await asyncio.to_thread(run_together, fresh_database)
        assert exit_codes == [0] * _PROCESSES
        runs = await fetch(
            fresh_database, "SELECT revision, backend_pid FROM migration_runs ORDER BY id"
        )
        assert [revision for revision, _ in runs] == ["a1", "b2", "c3"]
        # One process ran the whole chain under the lock; the others found nothing to do.
        assert len({pid for _, pid in runs}) == 1
        status = await get_migration_status(fresh_database, SAMPLE)
        assert status.current_revisions == ("c3",)
        assert status.is_ready

    async def test_one_pending_revision_is_applied_once(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """Eight processes starting against a database one revision behind apply it once."""
        await upgrade(fresh_database, SAMPLE, "b2")
        exit_codes = await asyncio.to_thread(run_together, fresh_database)
        assert exit_codes == [0] * _PROCESSES
        assert await runs(fresh_database) == ["a1", "b2", "c3"]
