"""What a command of ``agentifui-config`` is: its name, help, arguments and runner; exit codes.

Each command module declares its commands as :class:`Command` entries; the
entry point builds the argument parser from that table, so adding a command
is one entry, not one more branch.
"""

from __future__ import annotations

import argparse
import enum
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeAlias

from agentifui_config.failures import DatabaseError

if TYPE_CHECKING:
    from agentifui_config.cli.console import Console
    from agentifui_config.errors import AgentifuiError

__all__ = [
    "DEFAULT_ALEMBIC_CONFIG",
    "Command",
    "CommandError",
    "ExitCode",
    "Runner",
    "add_env_file",
    "add_settings",
    "exit_code_for",
    "lazy",
]

DEFAULT_ALEMBIC_CONFIG: Final = "alembic.ini"
"""The Alembic configuration used without ``--alembic-config``, in the current directory."""


class ExitCode(enum.IntEnum):
    """The exit statuses of ``agentifui-config``, for scripts to branch on."""

    OK = 0
    """The command did what was asked; the configuration is valid."""
    INVALID = 1
    """The configuration has errors (warnings too with ``check --strict``), or a refusal."""
    UNREACHABLE = 2
    """The database could not be reached or refused the login, or its health check failed."""
    NOT_MIGRATED = 3
    """The database's migrations are not up to date (pending, unknown revision, unreadable)."""
    USAGE = 64
    """The command line is wrong: an unknown command or option, a missing argument."""
    INTERNAL = 70
    """An unexpected error; ``--debug`` shows its traceback."""
    INTERRUPTED = 130
    """Interrupted with Ctrl-C."""
    BROKEN_PIPE = 141
    """The reader of standard output went away (``| head``); as if killed by SIGPIPE."""


class CommandError(Exception):
    """A command cannot go on; the message is shown as one line, and *code* is the exit status.

    Args:
        message: What went wrong and what to do, free of secrets.
        code: The exit status to end with.
    """

    def __init__(self, message: str, code: ExitCode = ExitCode.INVALID) -> None:
        super().__init__(message)
        self.code = code


def exit_code_for(error: AgentifuiError) -> ExitCode:
    """The exit status for a library error a command let through.

    A database failure (unreachable, a refused login, a missing database) is
    :attr:`ExitCode.UNREACHABLE`; a refused configuration or a migration that
    cannot be done is :attr:`ExitCode.INVALID`.
    """
    return ExitCode.UNREACHABLE if isinstance(error, DatabaseError) else ExitCode.INVALID


Runner: TypeAlias = "Callable[[argparse.Namespace, Console], int]"
"""Runs a command with its parsed arguments, writing through the console; returns its status."""


def lazy(target: str) -> Runner:
    """A runner that imports ``module:function`` when the command runs, and calls it.

    The commands that reach the database need SQLAlchemy's async engine and
    Alembic; declaring them costs nothing until one of them is chosen.
    """

    def run(args: argparse.Namespace, console: Console) -> int:
        """Import the runner and run the command with it."""
        module, _, name = target.partition(":")
        runner: Runner = getattr(importlib.import_module(module), name)
        return runner(args, console)

    return run


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """A command without arguments of its own."""


@dataclass(frozen=True, slots=True)
class Command:
    """One command (or command group) of ``agentifui-config``.

    Attributes:
        name: What is typed (``check``, ``migrate``).
        summary: One line for the list of commands.
        description: The text of ``--help``, above the options.
        arguments: Adds the command's arguments to its parser.
        run: Runs the command; ``None`` for a group, which shows its help.
        subcommands: The commands of a group (``migrate upgrade``).
        epilog: Text below the options in ``--help``: examples, exit codes.
        uses_secret_key: Whether the command judges ``SECRET_KEY`` (``check``), so
            that a key generated for development is a finding it reports; the
            others neither use nor judge the key, and say nothing about it.
    """

    name: str
    summary: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    run: Runner | None = None
    subcommands: tuple[Command, ...] = ()
    epilog: str = ""
    uses_secret_key: bool = False


def add_env_file(parser: argparse.ArgumentParser) -> None:
    """Add ``--env-file``: a ``.env`` file read below the environment, as by ``load_settings()``."""
    parser.add_argument(
        "--env-file",
        metavar="FILE",
        help="a .env file to read below the environment variables (it must exist)",
    )


def add_settings(parser: argparse.ArgumentParser) -> None:
    """Add ``--settings``: the application's settings class, as ``module:Class``."""
    parser.add_argument(
        "--settings",
        metavar="MODULE:CLASS",
        help="the application's settings class (a subclass of EnvironmentSettings), "
        "importable from the current directory; by default [tool.agentifui-config] "
        "settings in ./pyproject.toml, else the library's EnvironmentSettings",
    )
