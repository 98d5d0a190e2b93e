"""``agentifui-config doctor``: configuration, connection, health and migrations, one line each.

This module declares the command; :mod:`agentifui_config.cli.doctor_steps`
holds what it does, imported when it runs.
"""

from __future__ import annotations

import argparse
from typing import Final

from agentifui_config.cli.commands import Command, add_env_file, lazy

__all__ = ["DOCTOR"]

_DEFAULT_TIMEOUT: Final = 5.0


def _arguments(parser: argparse.ArgumentParser) -> None:
    add_env_file(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=_DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds allowed for each of connect, health and migrations "
        f"(default {_DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--alembic-config",
        metavar="PATH",
        help="alembic.ini or migration directory whose status to check "
        "(default: ./alembic.ini when it exists, else the step is skipped)",
    )


DOCTOR: Final = Command(
    "doctor",
    "check configuration, connection, health and migrations; one line per step",
    "Validate the configuration, connect to the database once (no retry, bounded by "
    "--timeout), run its health check, and compare its migrations with the scripts. "
    "Each step prints one line, ok, warn, fail or skip; the first failure stops the run.",
    _arguments,
    lazy("agentifui_config.cli.doctor_steps:doctor_command"),
    epilog="exit status:\n"
    "  0  everything is ok (warnings do not fail)\n"
    "  1  the configuration has errors\n"
    "  2  the database cannot be reached, or is unhealthy\n"
    "  3  migrations are not ready: pending, unknown to the scripts, several heads,\n"
    "     or unreadable (the verdict that makes /health/ready answer 503)\n"
    "example:\n"
    "  agentifui-config doctor --env-file .env --alembic-config migrations/alembic.ini",
)
"""The ``doctor`` command."""
