"""What ``doctor`` and ``migrate`` share: logging, a bounded connection, Alembic, verdicts.

Loaded only when one of them runs: it imports structlog, the async engine and Alembic.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from agentifui_config.cli.commands import DEFAULT_ALEMBIC_CONFIG, CommandError, exit_code_for
from agentifui_config.cli.console import PROG
from agentifui_config.connection import ConnectionManager
from agentifui_config.errors import ConfigurationError, Finding
from agentifui_config.failures import DatabaseError, DatabaseUnavailableError
from agentifui_config.health import MigrationState, MigrationStatus
from agentifui_config.logging import configure_logging, reset_logging
from agentifui_config.migrations import MigrationError, load_alembic_config

if TYPE_CHECKING:
    import argparse

    from alembic.config import Config

    from agentifui_config.cli.console import Console
    from agentifui_config.database import DatabaseConfig
    from agentifui_config.settings import EnvironmentSettings

__all__ = [
    "alembic_config",
    "connected",
    "describe_migrations",
    "given_options",
    "logging_for",
    "quiet_alembic",
]

# Where Alembic logs "Context impl PostgresqlImpl." and "Will assume transactional DDL."
# each time env.py configures a migration context.
_ALEMBIC_CONTEXT: Final = "alembic.runtime.migration"

_OPTION: Final = "--alembic-config"
# The library's remedy names connect()'s retry_for=, which no command has.
_CONNECT_REMEDY: Final = (
    "check that the server runs and that DB_HOST, DB_PORT, DB_USERNAME, DB_PASSWORD and "
    "DB_DATABASE are right; allow a slow or starting server longer with {slow}"
)


@contextlib.contextmanager
def logging_for(
    console: Console, settings: EnvironmentSettings, *, quiet: bool = False
) -> Iterator[None]:
    """Route logging to stderr through the redacting formatter while a command uses the database.

    Args:
        console: The command's console: its stderr receives the lines, and its
            protected secrets are masked in them too.
        settings: ``LOG_LEVEL`` and ``ENVIRONMENT`` set the level and the format.
        quiet: Log warnings and errors only, unless ``LOG_LEVEL`` is ``DEBUG``:
            for commands that only read, whose summary Alembic's chatter would bury.
    """
    if quiet and settings.log_level != "DEBUG":
        settings = settings.model_copy(update={"log_level": "WARNING"})
    configure_logging(
        settings,
        stream=console.stderr,
        extra_secrets=sorted(console.secrets),
    )
    try:
        yield
    finally:
        reset_logging()


@contextlib.contextmanager
def quiet_alembic() -> Iterator[None]:
    """Hold back Alembic's INFO lines for the block, unless logging is at ``DEBUG``.

    For the read that reports where a write left the database (``now at ...``):
    it runs ``env.py`` a second time, whose "Context impl" and "Will assume
    transactional DDL." lines would repeat the write's. The read commands are
    quiet the same way (see :func:`logging_for`).
    """
    logger = logging.getLogger(_ALEMBIC_CONTEXT)
    level = logger.level
    if not logger.isEnabledFor(logging.DEBUG):
        logger.setLevel(max(logging.WARNING, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.asynccontextmanager
async def connected(
    config: DatabaseConfig, *, grace: float = 10.0, slow: str = "DB_CONNECT_TIMEOUT"
) -> AsyncIterator[ConnectionManager]:
    """A manager that reached *config*'s database in one attempt, disposed on exit.

    The attempt is bounded by ``config.connect_timeout``; there is no retry.

    Args:
        config: The database.
        grace: Seconds :meth:`ConnectionManager.dispose` waits for connections on exit.
        slow: What the remedy tells the operator to raise for a slow server: the
            command's ``--timeout`` option, or ``DB_CONNECT_TIMEOUT``.

    Raises:
        CommandError: The database did not answer or refused the login (exit
            status 2), with the manager's message, which names host, port,
            database, the variable at fault if any, and no password.
    """
    manager = ConnectionManager()
    try:
        await manager.initialize(config)
    except DatabaseError as exc:
        if not isinstance(exc, DatabaseUnavailableError):
            raise CommandError(str(exc), exit_code_for(exc)) from None
        text = f"{exc.message} - {_CONNECT_REMEDY.format(slow=slow)}"
        raise CommandError(text, exit_code_for(exc)) from None
    try:
        yield manager
    finally:
        await manager.dispose(grace=grace)


def alembic_config(given: str | None, *, required: bool = True) -> Config | None:
    """The Alembic configuration of ``--alembic-config``, or of ``./alembic.ini`` by default.

    Args:
        given: The option's value: an ``alembic.ini`` path or a migration directory.
        required: Whether a missing default file is an error; if not, it gives ``None``.

    Raises:
        ConfigurationError: The path is neither an Alembic configuration file
            nor a migration directory; the finding names ``--alembic-config``.
    """
    if given is None and not required and not Path(DEFAULT_ALEMBIC_CONFIG).exists():
        return None
    try:
        return load_alembic_config(given or DEFAULT_ALEMBIC_CONFIG)
    except MigrationError as exc:
        raise ConfigurationError([Finding(_OPTION, exc.message, exc.remedy)]) from None


def given_options(args: argparse.Namespace) -> list[str]:
    """The ``--env-file`` and ``--alembic-config`` options of *args*, to repeat in a hint.

    A command the output tells the operator to run must read the same settings
    and scripts as the command that said so.
    """
    given = (("--env-file", args.env_file), (_OPTION, args.alembic_config))
    return [word for option, value in given if value is not None for word in (option, value)]


def describe_migrations(status: MigrationStatus, options: Sequence[str] = ()) -> tuple[str, str]:
    """A migration status as a step state (``ok``, ``fail``, ``skip``) and one line of detail.

    Args:
        status: The migration status.
        options: The options the suggested ``migrate upgrade`` command is given,
            from :func:`given_options`; quoted for a POSIX shell.
    """
    current = ", ".join(status.current_revisions) or "base (no revision)"
    if status.state is MigrationState.UP_TO_DATE:
        return "ok", f"up to date at {current}"
    if status.state is MigrationState.PENDING:
        pending = ", ".join(status.pending_revisions)
        return "fail", (
            f"{len(status.pending_revisions)} pending ({pending}), the database is at {current}; "
            f"apply them with: {shlex.join([PROG, 'migrate', 'upgrade', *options])}"
        )
    if status.state is MigrationState.UNKNOWN_REVISION:
        return "fail", (
            f"the database is at {current}, which the migration scripts do not hold: "
            "the code is older than the schema"
        )
    if status.state is MigrationState.NOT_CONFIGURED:
        return "skip", "not configured"
    return "fail", status.error or "the status could not be read"
