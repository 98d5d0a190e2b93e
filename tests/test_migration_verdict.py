"""One verdict on migrations: the manager, the health endpoints and ``doctor`` agree.

Each case sets up a real migration state on a database of its own, with the
sample scripts of ``migrations_support`` (or their branch with two heads), then
asks the three places that judge it. Their verdict is
:attr:`MigrationStatus.health <agentifui_config.MigrationStatus.health>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import httpx
import pytest
from cli_support import database_environ, run_cli
from fastapi import FastAPI
from migrations_support import SAMPLE, connected
from sqlalchemy import text

from agentifui_config import ConnectionManager, HealthStatus, MigrationState, load_settings
from agentifui_config.cli import ExitCode
from agentifui_config.fastapi import create_lifespan, health_router
from agentifui_config.migrations import get_migration_status, migration_probe, stamp

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig, MigrationStatus

pytestmark = pytest.mark.asyncio

_SECRET_KEY: Final = "Sk-verdict-3c9e1a7f5b2d8c4e6a0f9b1d3e5c7a2f"
# No check may be slow enough to turn a verdict into DEGRADED on a busy machine.
_NEVER_SLOW: Final = 600_000.0

# Each case: how to set the database up, and the verdict a user expects.
_CASES: Final = {
    "pending": HealthStatus.UNHEALTHY,
    "up_to_date": HealthStatus.HEALTHY,
    "unknown_revision": HealthStatus.UNHEALTHY,
    "several_heads": HealthStatus.UNHEALTHY,
    "unreadable": HealthStatus.UNHEALTHY,
}


def _ini(directory: Path, *, branched: bool) -> Path:
    """An alembic.ini over the sample scripts, or over their branch with two heads."""
    versions = SAMPLE / ("branched" if branched else "versions")
    ini = directory / "alembic.ini"
    ini.write_text(
        "[alembic]\n"
        f"script_location = {SAMPLE}\n"
        f"version_locations = {versions}\n"
        "path_separator = os\n"
    )
    return ini


async def _set_up(case: str, database: DatabaseConfig, ini: Path) -> None:
    """Put *database* in the migration state *case* names."""
    if case in ("up_to_date", "unknown_revision"):
        await stamp(database, ini, "c3")
    statement = {
        "unknown_revision": "UPDATE alembic_version SET version_num = 'd4future'",
        "unreadable": "CREATE TABLE alembic_version (not_a_version integer)",
    }.get(case)
    if statement is not None:
        async with connected(database) as connection:
            await connection.execute(text(statement))
            await connection.commit()


async def _manager_verdict(database: DatabaseConfig, ini: Path) -> HealthStatus:
    manager = ConnectionManager(slow_threshold_ms=_NEVER_SLOW, migration_probe=migration_probe(ini))
    await manager.initialize(database)
    try:
        return (await manager.health_check(timeout=10)).status
    finally:
        await manager.dispose()


async def _ready(database: DatabaseConfig, ini: Path | None) -> httpx.Response:
    manager = ConnectionManager(slow_threshold_ms=_NEVER_SLOW)
    lifespan = create_lifespan(load_settings(database=database), manager=manager, migrations=ini)
    app = FastAPI(lifespan=lifespan)
    app.include_router(health_router(timeout=10, cache_ttl=0))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        return await client.get("/health/ready")


def _doctor(database: DatabaseConfig, ini: Path | None, cwd: Path) -> int:
    where = () if ini is None else ("--alembic-config", str(ini))
    env = database_environ(database, SECRET_KEY=_SECRET_KEY)
    return run_cli("doctor", "--timeout", "10", *where, env=env, cwd=cwd).code


class TestOneVerdict:
    @pytest.mark.parametrize("case", list(_CASES))
    async def test_every_place_gives_the_same_verdict(
        self, case: str, fresh_database: DatabaseConfig, tmp_path: Path
    ) -> None:
        """The manager, /health/ready and doctor all give the status's own verdict."""
        ini = _ini(tmp_path, branched=case == "several_heads")
        await _set_up(case, fresh_database, ini)
        status: MigrationStatus = await get_migration_status(fresh_database, ini)
        assert status.health is _CASES[case]
        assert status.is_ready is status.health.is_available
        assert await _manager_verdict(fresh_database, ini) is status.health
        ready = await _ready(fresh_database, ini)
        assert (ready.status_code, ready.json()["status"]) == (
            status.health.http_status,
            status.health.value,
        )
        expected = ExitCode.OK if status.is_ready else ExitCode.NOT_MIGRATED
        assert _doctor(fresh_database, ini, tmp_path) == expected

    async def test_several_heads_make_readiness_503(
        self, fresh_database: DatabaseConfig, tmp_path: Path
    ) -> None:
        """With two unmerged heads, /health/ready answers 503, as is_ready says."""
        ini = _ini(tmp_path, branched=True)
        status = await get_migration_status(fresh_database, ini)
        assert status.state is MigrationState.ERROR
        assert not status.is_ready
        assert (await _ready(fresh_database, ini)).status_code == 503

    async def test_no_migrations_is_healthy_everywhere(
        self, fresh_database: DatabaseConfig, tmp_path: Path
    ) -> None:
        """Without migrations configured the service is ready and doctor skips the step."""
        manager = ConnectionManager(slow_threshold_ms=_NEVER_SLOW)
        await manager.initialize(fresh_database)
        try:
            info = await manager.health_check(timeout=10)
        finally:
            await manager.dispose()
        assert info.migration_status.state is MigrationState.NOT_CONFIGURED
        assert info.migration_status.health is info.status is HealthStatus.HEALTHY
        assert (await _ready(fresh_database, None)).status_code == 200
        assert _doctor(fresh_database, None, tmp_path) == ExitCode.OK
