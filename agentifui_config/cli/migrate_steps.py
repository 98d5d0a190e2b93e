"""What the ``migrate`` commands do, loaded only when one of them runs (it imports Alembic).

Each public function is the runner of one subcommand. The database comes from
the settings (``DB_*``), never from ``alembic.ini``, through one connection
manager reached in one bounded attempt; ``--sql`` connects to nothing.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from agentifui_config.cli.commands import ExitCode
from agentifui_config.cli.database import (
    alembic_config,
    connected,
    describe_migrations,
    given_options,
    logging_for,
    quiet_alembic,
)
from agentifui_config.cli.loading import load
from agentifui_config.errors import ConfigurationError, Finding
from agentifui_config.migrations import (
    MigrationError,
    MigrationLockTimeoutError,
    MigrationTarget,
    current,
    downgrade,
    get_migration_status,
    init_migrations,
    stamp,
    upgrade,
)

if TYPE_CHECKING:
    from alembic.config import Config

    from agentifui_config.cli.console import Console

__all__ = [
    "current_command",
    "downgrade_command",
    "init_command",
    "stamp_command",
    "status_command",
    "upgrade_command",
]

_Work: TypeAlias = Callable[
    [argparse.Namespace, "Console", MigrationTarget, "Config"], Awaitable[int]
]


def _session(work: _Work, args: argparse.Namespace, console: Console, *, writes: bool) -> int:
    """Load the settings and Alembic configuration, connect (unless ``--sql``), do *work*.

    Commands that change the database log at ``LOG_LEVEL``, so Alembic says
    which migrations ran; the others log warnings only.
    """
    return asyncio.run(_in_session(work, args, console, writes=writes))


async def _in_session(
    work: _Work, args: argparse.Namespace, console: Console, *, writes: bool
) -> int:
    settings, found = load(console, args.env_file, uses_secret_key=args.uses_secret_key)
    console.warnings(found)
    config = alembic_config(args.alembic_config)
    assert config is not None  # required: a missing file raised
    offline = bool(getattr(args, "sql", False))
    with logging_for(console, settings, quiet=offline or not writes):
        if offline:
            return await work(args, console, settings.database, config)
        database = settings.database
        if writes:
            # The locked commands run at the direct migration target when one is set
            # (MIGRATION_DATABASE_URL, DB_MIGRATION_HOST): that is the server to reach.
            database = database.migration_config or database
        async with connected(database) as manager:
            return await work(args, console, manager, config)


def status_command(args: argparse.Namespace, console: Console) -> int:
    """``migrate status``: the verdict, the revisions and the heads; 3 unless up to date."""
    return _session(_status, args, console, writes=False)


def current_command(args: argparse.Namespace, console: Console) -> int:
    """``migrate current``: the revisions the database is stamped with, one per line."""
    return _session(_current, args, console, writes=False)


def upgrade_command(args: argparse.Namespace, console: Console) -> int:
    """``migrate upgrade``: apply migrations up to the revision, or print their SQL."""
    return _session(_writer(upgrade), args, console, writes=True)


def downgrade_command(args: argparse.Namespace, console: Console) -> int:
    """``migrate downgrade``: revert migrations down to the revision, or print their SQL."""
    return _session(_writer(downgrade), args, console, writes=True)


def stamp_command(args: argparse.Namespace, console: Console) -> int:
    """``migrate stamp``: record the revision without running migrations, or print the SQL."""
    return _session(_writer(stamp, purge=True), args, console, writes=True)


async def _status(
    args: argparse.Namespace, console: Console, target: MigrationTarget, config: Config
) -> int:
    status = await get_migration_status(target, config)
    state, detail = describe_migrations(status, given_options(args))
    console.out(f"{console.paint(state, state)}: {detail}")
    console.out(f"current: {', '.join(status.current_revisions) or '(none)'}")
    console.out(f"heads:   {', '.join(status.head_revisions) or '(none)'}")
    return ExitCode.OK if status.is_ready else ExitCode.NOT_MIGRATED


async def _current(
    args: argparse.Namespace, console: Console, target: MigrationTarget, config: Config
) -> int:
    for revision in await current(target, config) or ("(none)",):
        console.out(revision)
    return ExitCode.OK


def _writer(command: Callable[..., Awaitable[str | None]], *, purge: bool = False) -> _Work:
    """The work of ``upgrade``, ``downgrade`` or ``stamp``: print the SQL, or run and report."""

    async def work(
        args: argparse.Namespace, console: Console, target: MigrationTarget, config: Config
    ) -> int:
        """Print the SQL with --sql; else run the command, then print where the database is."""
        options: dict[str, Any] = {"purge": args.purge} if purge else {}
        if args.sql:
            sql = await command(target, config, args.revision, sql=True, **options)
            console.out(str(sql).rstrip("\n"))
            return ExitCode.OK
        if args.lock_timeout is not None:
            options["lock_timeout"] = args.lock_timeout
        try:
            await command(target, config, args.revision, **options)
        except MigrationLockTimeoutError as exc:
            raise ConfigurationError([_lock_in_cli_words(exc)]) from None
        with quiet_alembic():  # the write said it already
            revisions = ", ".join(await current(target, config)) or "base (no revision)"
        console.out(f"{console.paint('ok', 'ok')}: now at {revisions}")
        return ExitCode.OK

    return work


def init_command(args: argparse.Namespace, console: Console) -> int:
    """``migrate init``: write a migration directory; no settings, no database."""
    try:
        ini = init_migrations(args.directory, metadata=args.metadata, overwrite=args.force)
    except MigrationError as exc:
        raise ConfigurationError([_in_cli_words(exc)]) from None
    files = "alembic.ini, env.py, script.py.mako, versions/"
    console.out(f"{console.paint('ok', 'ok')}: wrote {ini.parent} ({files})")
    console.note(
        f"next: alembic -c {ini} revision -m 'first revision', then "
        f"agentifui-config migrate upgrade --alembic-config {ini}"
    )
    return ExitCode.OK


def _lock_in_cli_words(error: MigrationLockTimeoutError) -> Finding:
    """A lock timeout as a finding whose remedy names ``--lock-timeout``, not ``lock_timeout=``."""
    remedy = (
        "wait for that migration to finish, or allow longer with --lock-timeout SECONDS; "
        "pg_terminate_backend(pid) on a stuck holder releases the lock"
    )
    return Finding("--lock-timeout", error.message, remedy)


def _in_cli_words(error: MigrationError) -> Finding:
    """*error* of ``init_migrations()`` as a finding named after the command line's argument."""
    if error.argument != "directory":
        return Finding(f"--{error.argument}", error.message, error.remedy)
    remedy = "choose an empty directory, or add --force to replace those files"
    return Finding("DIRECTORY", error.message, remedy)
