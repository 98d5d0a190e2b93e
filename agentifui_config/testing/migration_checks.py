"""Ready-made tests of an app's migrations, the ones pytest-alembic offers; import them to run them.

In a test module of the app (``tests/test_migrations.py``)::

    from agentifui_config.testing.migration_checks import (
        test_model_definitions_match_ddl,
        test_single_head_revision,
        test_up_down_consistency,
        test_upgrade,
    )

pytest collects imported test functions like its own. They find the
migrations through the ``agentifui_alembic_config`` fixture (the ini key of the
same name, or your override) and the models through ``agentifui_metadata``.
Each check that touches a database creates one of its own on the test server
and drops it afterwards, so the run's migrated database is left alone. They
are synchronous: they need no event loop and no pytest-asyncio marker.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import pytest

from agentifui_config.testing._loop import run_coroutine
from agentifui_config.testing.options import ALEMBIC_CONFIG_INI, METADATA_INI

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection

    from agentifui_config.database import DatabaseConfig
    from agentifui_config.migrations import AlembicConfigSource
    from agentifui_config.testing.postgres import PostgresServer

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]


def test_single_head_revision(agentifui_alembic_config: AlembicConfigSource | None) -> None:
    """The migrations have one head, so ``upgrade head`` knows where to go."""
    heads = _scripts(_config(agentifui_alembic_config)).get_heads()
    if len(heads) != 1:
        pytest.fail(
            f"the migrations have {len(heads)} heads ({', '.join(sorted(heads)) or 'none'}); "
            "merge them with `alembic merge heads`",
            pytrace=False,
        )


def test_upgrade(
    postgres_server: PostgresServer, agentifui_alembic_config: AlembicConfigSource | None
) -> None:
    """An empty database upgrades to head, and is then stamped with the head."""
    from agentifui_config.migrations import current, upgrade  # noqa: PLC0415 - loads Alembic

    config = _config(agentifui_alembic_config)
    heads = set(_scripts(config).get_heads())
    with _fresh_database(postgres_server) as database:
        run_coroutine(lambda: upgrade(database, config))
        stamped = set(run_coroutine(lambda: current(database, config)))
    if stamped != heads:
        pytest.fail(f"after upgrade head the database is at {stamped}, not {heads}", pytrace=False)


def test_up_down_consistency(
    postgres_server: PostgresServer, agentifui_alembic_config: AlembicConfigSource | None
) -> None:
    """Every revision, from the first, upgrades, downgrades one step and upgrades again."""
    from agentifui_config.migrations import downgrade, upgrade  # noqa: PLC0415

    config = _config(agentifui_alembic_config)
    revisions = [script.revision for script in _scripts(config).walk_revisions("base", "heads")]
    with _fresh_database(postgres_server) as database:
        for revision in reversed(revisions):
            up = functools.partial(upgrade, database, config, revision)
            _checked(f"upgrade to revision {revision}", up)
            _checked(
                f"downgrade from revision {revision}",
                functools.partial(downgrade, database, config, "-1"),
            )
            _checked(f"upgrade again to revision {revision}", up)


def test_model_definitions_match_ddl(
    postgres_server: PostgresServer,
    agentifui_alembic_config: AlembicConfigSource | None,
    agentifui_metadata: MetaData | None,
) -> None:
    """The models match the migrated schema: autogenerate would find nothing to write."""
    from agentifui_config.migrations import upgrade  # noqa: PLC0415

    config = _config(agentifui_alembic_config)
    if agentifui_metadata is None:
        pytest.fail(
            f"the models are unknown: set {METADATA_INI} = package.module:Base.metadata in the "
            "pytest configuration, or override the agentifui_metadata fixture in conftest.py",
            pytrace=False,
        )
    metadata = agentifui_metadata
    with _fresh_database(postgres_server) as database:
        run_coroutine(lambda: upgrade(database, config))
        differences = run_coroutine(lambda: _compare(database, metadata))
    if differences:
        listed = "\n  ".join(map(repr, differences))
        pytest.fail(
            "the models and the migrated schema differ; write a migration "
            f"(`alembic revision --autogenerate`) for:\n  {listed}",
            pytrace=False,
        )


def _config(source: AlembicConfigSource | None) -> Config:
    from agentifui_config.migrations import load_alembic_config  # noqa: PLC0415

    if source is None:
        pytest.fail(
            f"the migrations are unknown: set {ALEMBIC_CONFIG_INI} = alembic.ini in the pytest "
            "configuration, or override the agentifui_alembic_config fixture in conftest.py",
            pytrace=False,
        )
    return load_alembic_config(source)


def _scripts(config: Config) -> ScriptDirectory:
    """The scripts as they are on disk now, not the per-process cache the health checks use."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(config)


def _fresh_database(server: PostgresServer) -> contextlib.AbstractContextManager[DatabaseConfig]:
    from agentifui_config.testing.postgres import temporary_database  # noqa: PLC0415

    return temporary_database(server)


def _checked(step: str, work: Callable[[], Coroutine[Any, Any, object]]) -> None:
    """Run one migration step, failing the test with the step and Alembic's words if it fails."""
    try:
        run_coroutine(work)
    except Exception as exc:
        pytest.fail(f"{step} failed: {type(exc).__name__}: {exc}", pytrace=False)


async def _compare(database: DatabaseConfig, metadata: MetaData) -> list[Any]:
    from agentifui_config.migrations.target import open_connection  # noqa: PLC0415

    async with open_connection(database) as connection:
        return await connection.run_sync(_differences, metadata)


def _differences(connection: Connection, metadata: MetaData) -> list[Any]:
    from alembic.autogenerate import compare_metadata  # noqa: PLC0415
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))
