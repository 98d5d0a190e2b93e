"""Where the database stands against the migration scripts, for callers and health checks.

The database's revisions are read straight from the version table, without
running ``env.py``; the scripts' heads come from the per-process cache of
script directories, so a health check reads no revision file unless one changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Final

from alembic.util import CommandError
from sqlalchemy import column, inspect, select
from sqlalchemy import table as table_clause

from agentifui_config.health import MigrationState, MigrationStatus
from agentifui_config.migrations.scripts import (
    AlembicConfigSource,
    load_alembic_config,
    read_script_directory,
)
from agentifui_config.migrations.target import MigrationTarget, open_connection, scrubbed

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

    from agentifui_config.connection import ConnectionManager

__all__ = [
    "DEFAULT_VERSION_TABLE",
    "compare_revisions",
    "get_migration_status",
    "migration_probe",
]

DEFAULT_VERSION_TABLE: Final = "alembic_version"
"""Alembic's version table, unless ``env.py`` configures another."""


def _read_revisions(
    connection: Connection,
    version_table: str = DEFAULT_VERSION_TABLE,
    version_table_schema: str | None = None,
) -> tuple[str, ...]:
    # Read directly rather than through a MigrationContext, which logs two INFO
    # lines on every call: health checks would repeat them every few seconds.
    if not inspect(connection).has_table(version_table, schema=version_table_schema):
        return ()  # no version table reads as no revision: nothing applied yet
    table = table_clause(version_table, column("version_num"), schema=version_table_schema)
    return tuple(connection.execute(select(table.c.version_num)).scalars())


async def get_migration_status(
    target: MigrationTarget,
    alembic_config: AlembicConfigSource,
    *,
    version_table: str = DEFAULT_VERSION_TABLE,
    version_table_schema: str | None = None,
) -> MigrationStatus:
    """Compare the database's revisions with the heads of the migration scripts.

    The scripts are read once per process (see ``script_directory()``), and
    again only when a revision file changes, in a worker thread so the event
    loop keeps serving; later calls only query the version table.

    Args:
        target: A manager, a configuration or a connection (left in its
            transaction, as any query leaves it).
        alembic_config: An ``alembic.ini`` path, a migration directory or a ``Config``.
        version_table: The version table's name, when ``env.py`` sets another.
        version_table_schema: The version table's schema, when not the default.

    Returns:
        ``UP_TO_DATE``; ``PENDING`` with the revisions to apply, in the order
        they will run; ``UNKNOWN_REVISION`` when the database holds a revision
        the scripts do not know (the code is older than the schema); ``ERROR``
        when the scripts have several heads or the status cannot be read, with
        the reason, scrubbed of the password. It never raises for those.
    """
    try:
        config = load_alembic_config(alembic_config)
        script = await read_script_directory(config)
        async with open_connection(target) as connection:
            revisions = await connection.run_sync(
                _read_revisions, version_table, version_table_schema
            )
    except Exception as exc:  # a status reports failures, it does not raise them
        reason = scrubbed(f"{type(exc).__name__}: {exc}", target)
        return MigrationStatus(state=MigrationState.ERROR, error=reason)
    return compare_revisions(script, revisions)


def compare_revisions(script: ScriptDirectory, revisions: tuple[str, ...]) -> MigrationStatus:
    """Judge the revisions a database holds against a script directory.

    Args:
        script: The migration scripts.
        revisions: The revisions the database is stamped with.

    Returns:
        The status, as :func:`get_migration_status` describes it.
    """
    heads = tuple(script.get_heads())
    status = partial(MigrationStatus, current_revisions=revisions, head_revisions=heads)
    if len(heads) > 1:
        return status(
            state=MigrationState.ERROR,
            error=f"the migration scripts have {len(heads)} heads ({', '.join(heads)}); "
            "merge them with `alembic merge heads` so that upgrades have one target",
        )
    if any(not _known(script, revision) for revision in revisions):
        return status(state=MigrationState.UNKNOWN_REVISION)
    steps = script.iterate_revisions("heads", revisions or "base")
    pending = tuple(reversed([step.revision for step in steps]))
    state = MigrationState.PENDING if pending else MigrationState.UP_TO_DATE
    return status(state=state, pending_revisions=pending)


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        # get_revision() also matches a prefix; the version table holds whole ids.
        return script.get_revision(revision).revision == revision
    except CommandError:
        return False


def migration_probe(
    alembic_config: AlembicConfigSource,
    *,
    version_table: str = DEFAULT_VERSION_TABLE,
    version_table_schema: str | None = None,
) -> Callable[[ConnectionManager], Awaitable[MigrationStatus]]:
    """Return a probe for ``ConnectionManager(migration_probe=...)``.

    The manager's ``health_check()`` then reports the migration status, within
    its time budget; a status other than ``UP_TO_DATE`` makes the check
    ``DEGRADED``, and ``MigrationStatus.is_ready`` is false for it.

    Args:
        alembic_config: An ``alembic.ini`` path, a migration directory or a
            ``Config``; a path is checked now, so a wrong one fails at start-up.
        version_table: The version table's name, when ``env.py`` sets another.
        version_table_schema: The version table's schema, when not the default.

    Raises:
        MigrationError: The path is neither an Alembic configuration file nor
            a migration directory.
    """
    config = load_alembic_config(alembic_config)

    async def probe(manager: ConnectionManager) -> MigrationStatus:
        """The migration status of *manager*'s database."""
        return await get_migration_status(
            manager,
            config,
            version_table=version_table,
            version_table_schema=version_table_schema,
        )

    return probe
