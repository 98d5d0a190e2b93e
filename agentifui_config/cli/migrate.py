"""``agentifui-config migrate``: Alembic's commands through :mod:`agentifui_config.migrations`.

This module declares the subcommands and their arguments; what they do lives
in :mod:`agentifui_config.cli.migrate_steps`, imported when one runs. The
database comes from the settings (``DB_*``), never from ``alembic.ini``;
``upgrade``, ``downgrade`` and ``stamp`` hold the migration lock, so a
deployment that also migrates at start-up waits rather than races. With
``--sql`` they print the SQL instead of running it, and connect to nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Final

from agentifui_config.cli.commands import DEFAULT_ALEMBIC_CONFIG, Command, add_env_file, lazy

__all__ = ["MIGRATE"]

_STEPS: Final = "agentifui_config.cli.migrate_steps"


def _common(parser: argparse.ArgumentParser) -> None:
    add_env_file(parser)
    parser.add_argument(
        "--alembic-config",
        metavar="PATH",
        help=f"alembic.ini, or the migration directory holding it or env.py "
        f"(default ./{DEFAULT_ALEMBIC_CONFIG})",
    )


def _writing(default_revision: str | None) -> Callable[[argparse.ArgumentParser], None]:
    """The arguments of a command that writes: a revision, ``--sql`` and ``--lock-timeout``."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        """Add the options of every migrate command, the revision, --sql and --lock-timeout."""
        _common(parser)
        if default_revision is None:
            parser.add_argument("revision", metavar="REVISION", help="the target revision")
        else:
            parser.add_argument(
                "revision",
                nargs="?",
                default=default_revision,
                metavar="REVISION",
                help=f"the target revision (default {default_revision})",
            )
        parser.add_argument(
            "--sql",
            action="store_true",
            help="print the SQL instead of running it (offline: no connection; "
            "give REVISION as from:to unless the database is new)",
        )
        parser.add_argument(
            "--lock-timeout",
            type=float,
            metavar="S",
            help="seconds to wait for another process's migration "
            "(default: agentifui_config.migrations.DEFAULT_LOCK_TIMEOUT)",
        )

    return arguments


def _stamp_arguments(parser: argparse.ArgumentParser) -> None:
    _writing(None)(parser)
    parser.add_argument(
        "--purge", action="store_true", help="empty the version table first, whatever it holds"
    )


def _init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory", metavar="DIRECTORY", help="where to write (created if missing)"
    )
    parser.add_argument(
        "--metadata",
        metavar="MODULE:ATTR",
        help="your models' MetaData for autogenerate, e.g. myapp.models:Base.metadata",
    )
    parser.add_argument("--force", action="store_true", help="replace files that exist")


_SUBCOMMANDS: Final = (
    Command(
        "status",
        "compare the database's revisions with the scripts' heads",
        "Print whether the database is up to date with the migration scripts, its "
        "revisions and the scripts' heads. Exit status 0 when up to date, 3 when not.",
        _common,
        lazy(f"{_STEPS}:status_command"),
    ),
    Command(
        "upgrade",
        "apply migrations up to REVISION (default head) under the migration lock",
        "Apply the migrations up to REVISION, holding the migration lock, and commit.",
        _writing("head"),
        lazy(f"{_STEPS}:upgrade_command"),
    ),
    Command(
        "downgrade",
        "revert migrations down to REVISION under the migration lock",
        "Revert the migrations down to REVISION (a revision id, -1 for one step, base "
        "for all), holding the migration lock, and commit.",
        _writing(None),
        lazy(f"{_STEPS}:downgrade_command"),
    ),
    Command(
        "current",
        "print the revisions the database is stamped with",
        "Print the revisions the database is stamped with, one per line, as env.py "
        "configures Alembic; '(none)' when no migration is applied.",
        _common,
        lazy(f"{_STEPS}:current_command"),
    ),
    Command(
        "stamp",
        "record REVISION in the version table without running migrations",
        "Record REVISION in the version table without running any migration, for a "
        "database whose schema was made another way.",
        _stamp_arguments,
        lazy(f"{_STEPS}:stamp_command"),
    ),
    Command(
        "init",
        "write a migration directory whose env.py reads the DB_* settings",
        "Write alembic.ini, env.py, script.py.mako and versions/ into DIRECTORY. The "
        "env.py calls agentifui_config.migrations.run_migrations(), so the database "
        "comes from the DB_* variables, never from alembic.ini.",
        _init_arguments,
        lazy(f"{_STEPS}:init_command"),
    ),
)

MIGRATE: Final = Command(
    "migrate",
    "run Alembic migrations against the configured database",
    "Run Alembic's commands against the database of the DB_* settings. upgrade, "
    "downgrade and stamp hold the migration lock; with --sql they print the SQL instead.",
    subcommands=_SUBCOMMANDS,
    epilog="exit status:\n"
    "  0  done; for status, the database is up to date\n"
    "  1  the configuration has errors, or Alembic refused (unknown revision, ...)\n"
    "  2  the database cannot be reached\n"
    "  3  status only: migrations are pending, unknown or unreadable\n"
    "examples:\n"
    "  agentifui-config migrate init migrations\n"
    "  agentifui-config migrate upgrade --alembic-config migrations/alembic.ini\n"
    "  agentifui-config migrate upgrade --sql base:head > upgrade.sql",
)
"""The ``migrate`` command group."""
