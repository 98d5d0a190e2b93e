"""Alembic helpers: migration status, upgrades safe for many replicas, a one-line ``env.py``.

Alembic stays the engine; these make its common uses one call and remove their traps:

- :func:`get_migration_status` and :func:`migration_probe` compare the
  database with the scripts, for callers and for ``ConnectionManager.health_check()``;
- :func:`upgrade`, :func:`downgrade`, :func:`stamp` and :func:`current` are
  awaitable inside a running event loop, commit what they ran, and hold a
  PostgreSQL advisory lock so replicas starting together migrate once;
- :func:`run_migrations` is the whole of an ``env.py``, and
  :func:`init_migrations` writes a migration directory that uses it.

Import it by path (``from agentifui_config.migrations import upgrade``): it
loads Alembic, which ``import agentifui_config`` does not.
"""

from __future__ import annotations

from agentifui_config.migrations.commands import current, downgrade, stamp, upgrade
from agentifui_config.migrations.lock import (
    DEFAULT_LOCK_TIMEOUT,
    MIGRATION_LOCK_KEY,
    MigrationLockTimeoutError,
)
from agentifui_config.migrations.runner import run_migrations
from agentifui_config.migrations.scripts import (
    AlembicConfigSource,
    MigrationError,
    clear_script_cache,
    load_alembic_config,
    script_directory,
)
from agentifui_config.migrations.status import (
    DEFAULT_VERSION_TABLE,
    get_migration_status,
    migration_probe,
)
from agentifui_config.migrations.target import MigrationTarget
from agentifui_config.migrations.template import init_migrations

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_VERSION_TABLE",
    "MIGRATION_LOCK_KEY",
    "AlembicConfigSource",
    "MigrationError",
    "MigrationLockTimeoutError",
    "MigrationTarget",
    "clear_script_cache",
    "current",
    "downgrade",
    "get_migration_status",
    "init_migrations",
    "load_alembic_config",
    "migration_probe",
    "run_migrations",
    "script_directory",
    "stamp",
    "upgrade",
]
