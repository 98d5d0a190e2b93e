"""``agentifui-config``: check, show and template the configuration; diagnose and migrate.

The commands are a table (:data:`COMMANDS`), each entry declared next to its
code; :func:`main` builds the parser from it, runs the chosen command and turns
every expected failure into one readable line on stderr and an exit status
(:class:`~agentifui_config.cli.commands.ExitCode`). It is the ``agentifui-config``
console script and ``python -m agentifui_config``. Import it by path. Starting
it loads the settings layer only: structlog, SQLAlchemy's async engine and
Alembic are imported when ``doctor`` or ``migrate`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Final, NoReturn

from agentifui_config import __version__
from agentifui_config.cli.commands import Command, CommandError, ExitCode, exit_code_for
from agentifui_config.cli.config import CHECK, CONVERT_URL, SHOW
from agentifui_config.cli.console import PROG, Console
from agentifui_config.cli.doctor import DOCTOR
from agentifui_config.cli.migrate import MIGRATE
from agentifui_config.cli.template import ENV_TEMPLATE
from agentifui_config.errors import AgentifuiError, ConfigurationError, Severity

__all__ = ["COMMANDS", "ExitCode", "build_parser", "main"]

COMMANDS: Final = (CHECK, SHOW, ENV_TEMPLATE, CONVERT_URL, DOCTOR, MIGRATE)
"""Every top-level command, in the order ``--help`` lists them."""

_EPILOG: Final = """\
exit status:
  0   ok
  1   invalid configuration, or the command was refused
  2   the database cannot be reached, or is unhealthy
  3   migrations are not up to date (doctor, migrate status)
  64  wrong usage: unknown command or option, missing argument
  70  unexpected error (rerun with --debug for the traceback)
  130 interrupted; 141 standard output closed early (| head)

Run 'agentifui-config COMMAND --help' for a command's options."""


class _Parser(argparse.ArgumentParser):
    """A parser whose usage errors exit with 64, since 2 means the database is unreachable."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``PROG: error: message`` to stderr; exit with 64."""
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command and option, built from :data:`COMMANDS`."""
    parser = _Parser(
        prog=PROG,
        description="Check, show and template a service's configuration; diagnose and "
        "migrate its database.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_debug(parser, False)
    _add_commands(parser, COMMANDS)
    return parser


def _add_debug(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="print the traceback of an unexpected error (secrets still masked)",
    )


def _add_commands(parser: argparse.ArgumentParser, commands: Sequence[Command]) -> None:
    parser.set_defaults(run=None, parser=parser)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in commands:
        sub = subparsers.add_parser(
            command.name,
            help=command.summary,
            # Raw, to keep the epilog's layout; so the description is wrapped here.
            description=textwrap.fill(command.description, width=79),
            epilog=command.epilog or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        # SUPPRESS: an option given before the command is not reset by the subparser.
        _add_debug(sub, argparse.SUPPRESS)
        command.arguments(sub)
        if command.subcommands:
            _add_commands(sub, command.subcommands)
        else:
            sub.set_defaults(run=command.run, parser=sub, uses_secret_key=command.uses_secret_key)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``agentifui-config`` with *argv* (the process's arguments by default).

    Returns:
        The exit status; see :class:`~agentifui_config.cli.commands.ExitCode`. ``--help``
        and ``--version`` return 0 and a usage error 64, rather than raising ``SystemExit``.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits after --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    console = Console()
    if args.run is None:
        args.parser.print_help(console.stderr)
        return ExitCode.USAGE
    return _run(args, console)


def _silence(console: Console) -> None:
    """Point standard output at the null device, so that flushing it at exit raises nothing."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), console.stdout.fileno())


def _report(console: Console, error: AgentifuiError) -> None:
    """One line on stderr per finding of a refused configuration, else one for *error*."""
    if not isinstance(error, ConfigurationError):
        console.error(str(error))
        return
    for finding in error.findings:
        report = console.error if finding.severity is Severity.ERROR else console.warning
        report(str(finding))


def _run(args: argparse.Namespace, console: Console) -> int:
    """Run the chosen command; every expected failure becomes lines on stderr and a status."""
    try:
        return int(args.run(args, console))
    except CommandError as exc:
        console.error(str(exc))
        return exc.code
    except AgentifuiError as exc:  # a refused configuration, a database failure, a migration
        _report(console, exc)
        return exit_code_for(exc)
    except BrokenPipeError:
        _silence(console)
        return ExitCode.BROKEN_PIPE
    except KeyboardInterrupt:
        console.error("interrupted")
        return ExitCode.INTERRUPTED
    except Exception as exc:  # the last resort: one line, the traceback only on request
        console.unexpected(exc, debug=args.debug)
        return ExitCode.INTERNAL
