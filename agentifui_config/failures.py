"""Database failures at run time: ``DatabaseError`` and its kinds, chosen by what failed.

A refused configuration is a :class:`~agentifui_config.errors.ConfigurationError`;
a database that cannot be reached, refuses the login or lacks the database is a
:class:`DatabaseError`, so ``except ValueError`` in an app never swallows an
outage. One table says, for each SQLSTATE the server answers a login with,
which kind of failure it is, which variable is at fault, how to fix it and
whether waiting can heal it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final

from agentifui_config.errors import AgentifuiError
from agentifui_config.secrecy import scrub_config

if TYPE_CHECKING:
    from agentifui_config.database import DatabaseConfig

__all__ = [
    "DatabaseAuthenticationError",
    "DatabaseError",
    "DatabaseNotFoundError",
    "DatabaseRoleError",
    "DatabaseTimeoutError",
    "DatabaseUnavailableError",
    "database_failure",
    "is_unavailable_state",
    "sqlstate_of",
]


class DatabaseError(AgentifuiError):
    """The database failed at run time; the message says what failed and how to fix it.

    Args:
        message: What failed, naming host, port, database and role, never the password.
        remedy: How to fix it, derived from what failed.
        variable: The ``DB_*`` variable at fault, only when one is (``DB_PASSWORD``).
        sqlstate: The server's SQLSTATE, when the server answered with one.

    Attributes:
        sqlstate: The server's SQLSTATE (``3D000``), or ``None``.
        retryable: Whether waiting can heal this kind of failure.
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        remedy: str = "",
        variable: str | None = None,
        sqlstate: str | None = None,
    ) -> None:
        super().__init__(message, remedy=remedy, variable=variable)
        self.sqlstate = sqlstate


class DatabaseUnavailableError(DatabaseError):
    """The server cannot be reached or cannot serve now; retrying may heal it.

    A refused connection, an unreachable host, a server starting up (57P03) or
    without a free connection slot (53300).
    """

    retryable = True


class DatabaseTimeoutError(DatabaseUnavailableError):
    """The server did not answer in time."""


class DatabaseAuthenticationError(DatabaseError):
    """The server refused to log in: a wrong password (28P01); never retried."""


class DatabaseRoleError(DatabaseAuthenticationError):
    """The role does not exist or ``pg_hba.conf`` admits no connection for it (28000)."""


class DatabaseNotFoundError(DatabaseError):
    """The server has no database of that name (3D000); never retried."""


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a failure is: its class, what happened, the remedy and the variable at fault.

    ``message`` is formatted with ``user`` and ``database``.
    """

    error: type[DatabaseError]
    message: str
    remedy: str
    variable: str | None = None


_RETRY: Final = "pass retry_for= to wait for it at start-up"

# The SQLSTATEs a login is answered with; retryable is the class's own flag.
_BY_SQLSTATE: Final[Mapping[str, _Kind]] = {
    "28P01": _Kind(
        DatabaseAuthenticationError,
        "the server refused the password of role {user!r}",
        "set DB_PASSWORD to that role's password",
        "DB_PASSWORD",
    ),
    "28000": _Kind(
        DatabaseRoleError,
        "the server rejected role {user!r}: it does not exist, "
        "or pg_hba.conf admits no such connection",
        "set DB_USERNAME to a role that exists and may log in (CREATE ROLE ... LOGIN), "
        "or add a pg_hba.conf line for it",
        "DB_USERNAME",
    ),
    "3D000": _Kind(
        DatabaseNotFoundError,
        "the server has no database {database!r}",
        "set DB_DATABASE to a database that exists, or create it (CREATE DATABASE)",
        "DB_DATABASE",
    ),
    "57P03": _Kind(
        DatabaseUnavailableError,
        "the server is starting up or shutting down",
        f"wait until it accepts connections; {_RETRY}",
    ),
    "53300": _Kind(
        DatabaseUnavailableError,
        "the server has no connection slot free (too many connections)",
        "lower DB_POOL_SIZE and DB_MAX_OVERFLOW across all replicas, "
        "or raise the server's max_connections",
    ),
}

_UNREACHABLE: Final = _Kind(
    DatabaseUnavailableError,
    "the server refused the connection or cannot be reached",
    f"check that the server runs and that DB_HOST and DB_PORT name it; {_RETRY}",
)
_UNRESOLVED: Final = _Kind(
    DatabaseUnavailableError,
    "the host name does not resolve",
    f"set DB_HOST to a name this machine can resolve; {_RETRY}",
    "DB_HOST",
)
_TIMEOUT: Final = _Kind(
    DatabaseTimeoutError,
    "the server did not answer in time",
    f"check the network path to it, or allow longer with DB_CONNECT_TIMEOUT; {_RETRY}",
)
_TLS: Final = _Kind(
    DatabaseError,
    "the TLS handshake with the server failed",
    "check DB_SSL_MODE and the certificate settings against the server's",
)
_OTHER: Final = _Kind(
    DatabaseError,
    "the server answered with an error",
    "see the cause above; it is not one that waiting heals",
)

# SQLSTATEs that mean the server cannot serve now, whatever the statement: class 08
# (connection exception), 53 (insufficient resources), 57P01-57P03 (shutting down or
# starting) and 57014 (a statement cancelled, by statement_timeout among others).
_UNAVAILABLE_CLASSES: Final = ("08", "53")
_UNAVAILABLE_CODES: Final = frozenset({"57P01", "57P02", "57P03", "57014"})


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE the server answered with, from *error* or the driver error it wraps."""
    seen: BaseException | None = error
    while seen is not None:
        for candidate in (seen, getattr(seen, "orig", None)):
            state = getattr(candidate, "sqlstate", None)
            if isinstance(state, str):
                return state
        seen = seen.__cause__
    return None


def is_unavailable_state(sqlstate: str | None) -> bool:
    """Whether *sqlstate* says the server cannot serve now, rather than refusing a statement."""
    if sqlstate is None:
        return False
    return sqlstate in _UNAVAILABLE_CODES or sqlstate.startswith(_UNAVAILABLE_CLASSES)


def _kind(error: BaseException) -> _Kind:
    state = sqlstate_of(error)
    if state is not None:
        known = _BY_SQLSTATE.get(state)
        if known is not None:
            return known
        return _UNREACHABLE if is_unavailable_state(state) else _OTHER
    if isinstance(error, TimeoutError):
        return _TIMEOUT
    if _is_loaded_type(error, "_ssl", "SSLError"):
        return _TLS
    if _is_loaded_type(error, "_socket", "gaierror"):
        return _UNRESOLVED
    return _UNREACHABLE if isinstance(error, OSError) else _OTHER


def _is_loaded_type(error: BaseException, module: str, name: str) -> bool:
    """Whether *error* is an instance of *module*'s *name*, looked up only if *module* is loaded.

    No such error can exist before its module is imported, so ``ssl`` and
    ``socket`` are not imported here: ``import agentifui_config`` (and the
    pytest plugin) would pay for them when no connection was ever made.
    """
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(error, getattr(loaded, name))


def database_failure(
    error: BaseException, config: DatabaseConfig, *, attempts: int = 1
) -> DatabaseError:
    """The :class:`DatabaseError` that *error*, raised while connecting to *config*, stands for.

    Args:
        error: What connecting raised: a driver or SQLAlchemy error, an ``OSError``,
            a ``TimeoutError``.
        config: The database connected to; its password never reaches the message.
        attempts: How many attempts were made, said in the message when more than one.

    Returns:
        An error of the kind the table names, whose message ends with the driver's words.
    """
    kind = _kind(error)
    hosts = ",".join(f"{host}:{port}" for host, port in config.hosts)  # each with its port
    where = f"{hosts}/{config.database} as {config.username}"
    reason = kind.message.format(user=config.username, database=config.database)
    if attempts > 1:
        reason += f" (after {attempts} attempts)"
    elif not kind.error.retryable:
        reason += " (not retried: waiting does not heal this)"
    message = f"cannot connect to {where}: {reason}: {_cause(error)}"
    return kind.error(
        scrub_config(message, config),
        remedy=kind.remedy,
        variable=kind.variable,
        sqlstate=sqlstate_of(error),
    )


def _cause(error: BaseException) -> str:
    """The driver's own words: the innermost cause's type and first line, without SQLAlchemy's."""
    if isinstance(error, TimeoutError):
        return "timed out"
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
