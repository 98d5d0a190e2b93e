"""Pure parsers for where the database is: a PostgreSQL URL and a list of hosts.

Each function takes what an environment variable holds and returns the
:class:`~agentifui_config.database.DatabaseConfig` fields it gives, or raises
:class:`~agentifui_config.errors.ConfigurationError` naming the variable and
saying how to fix it. No function here reads the environment, and none echoes a
database URL, since it may hold a password.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, TypedDict

from agentifui_config.errors import UNNAMED, ConfigurationError
from agentifui_config.parsing import parse_list, short_repr

__all__ = [
    "DEFAULT_DRIVER",
    "URL_QUERY_FIELDS",
    "DatabaseURLParts",
    "parse_database_url",
    "parse_host_ports",
]

DEFAULT_DRIVER: Final = "postgresql+asyncpg"
"""The dialect+driver used when a URL or configuration names none."""

# Schemes that mean "PostgreSQL with the default driver".
_PLAIN_SCHEMES: Final = frozenset({"postgres", "postgresql"})

URL_QUERY_FIELDS: Final[Mapping[str, str]] = {
    "host": "host",
    "user": "username",
    "password": "password",
    "sslmode": "ssl_mode",
    "ssl": "ssl_mode",
    "application_name": "application_name",
    "connect_timeout": "connect_timeout",
    "statement_timeout": "statement_timeout",
    "command_timeout": "command_timeout",
}
"""The URL query options that set a :class:`DatabaseConfig` field, and the field each sets.

libpq and asyncpg accept ``?host=``, ``?user=`` and ``?password=`` as well as
the parts before the path; a password given that way is still a password, never
an option shown in a masked URL.
"""

_NUMERIC_FIELDS: Final = frozenset({"connect_timeout", "statement_timeout", "command_timeout"})


class DatabaseURLParts(TypedDict, total=False):
    """The parts of a database URL, named as :class:`DatabaseConfig` fields.

    Only the parts the URL gives are present. ``options`` holds the query
    options that are not configuration fields, kept as given.
    """

    driver: str
    username: str
    password: str
    host: str
    port: int
    database: str
    ssl_mode: str
    application_name: str
    connect_timeout: float
    statement_timeout: float
    command_timeout: float
    options: dict[str, str]


def parse_host_ports(
    value: str | Sequence[str], *, variable: str = UNNAMED
) -> list[tuple[str, int | None]]:
    """Read hosts given as ``host[:port],...`` into ``(host, port)`` pairs.

    The port is ``None`` where an entry gives none. An IPv6 address takes its
    port after brackets (``[::1]:5433``); without brackets it has no port. A
    JSON array of entries is read as well. The hosts themselves are checked by
    :class:`DatabaseConfig`, not here.

    Raises:
        ConfigurationError: No host is given, or an entry's port is not 1-65535.
    """
    if isinstance(value, str) and not value.lstrip().startswith('["'):
        value = value.split(",")  # "[::1]:5433,..." is a bracketed address, not JSON
    pairs = [_host_port(item, variable) for item in parse_list(value, variable=variable)]
    if not pairs:
        raise ConfigurationError(
            "names no host", variable=variable, remedy="give host[:port],host[:port],..."
        )
    return pairs


def _host_port(item: str, variable: str) -> tuple[str, int | None]:
    port_text: str | None = None
    if item.startswith("["):
        host, closed, rest = item[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            host = ""  # reported below as malformed
        port_text = rest[1:] if rest else None
    elif item.count(":") == 1:
        host, _, port_text = item.partition(":")
    else:
        host = item
    if not host.strip() or (port_text is not None and not port_text.isdecimal()):
        raise ConfigurationError(
            f"{short_repr(item)} is not host[:port]",
            variable=variable,
            remedy="give host, host:port or [ipv6]:port, comma-separated",
        )
    return host.strip(), None if port_text is None else _port(int(port_text), variable)


def parse_database_url(url: str, *, variable: str = "DATABASE_URL") -> DatabaseURLParts:
    """Split a PostgreSQL URL into :class:`DatabaseConfig` fields.

    ``postgres://`` and ``postgresql://`` get the default async driver;
    ``postgresql+<driver>://`` keeps its driver. User name and password are
    percent-decoded. A unix-socket directory travels as ``?host=/path``.
    The query options in :data:`URL_QUERY_FIELDS` (``sslmode`` or ``ssl``,
    ``application_name``, ``connect_timeout``, ``statement_timeout``, and
    ``host``, ``user`` or ``password`` when the URL does not give them before
    the path) become fields; other query options are kept in ``options``.
    Error messages never repeat the URL, which may hold a password.

    Raises:
        ConfigurationError: The value is not a PostgreSQL URL, or a part of it
            is malformed (an unencoded ``@`` in the password, a bad port, ...).
    """
    text = url.strip()
    if not text:
        raise ConfigurationError(
            "is empty",
            variable=variable,
            remedy="give postgresql://user:password@host:5432/database",
        )
    if _has_stray_at(text):
        raise _unencoded_at(variable)
    # SQLAlchemy is loaded by the first URL parsed, not by `import agentifui_config`.
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError):
        raise ConfigurationError(
            "is not a database URL (user name and password are not shown)",
            variable=variable,
            remedy="use postgresql://user:password@host:5432/database; percent-encode "
            "special characters in the user name and password",
        ) from None
    parts = DatabaseURLParts(driver=_driver(parsed.drivername, variable))
    if parsed.host and "@" in parsed.host:
        raise _unencoded_at(variable)
    _copy_target(parsed.username, parsed.password, parsed.host, parsed.database, parts)
    if parsed.port is not None:
        parts["port"] = _port(parsed.port, variable)
    _read_query(parsed.query, parts, variable)
    return parts


def _unencoded_at(variable: str) -> ConfigurationError:
    return ConfigurationError(
        "the password or user name contains an unencoded '@'",
        variable=variable,
        remedy="percent-encode it as %40 (and '/' as %2F, ':' as %3A)",
    )


def _has_stray_at(text: str) -> bool:
    """Whether a second ``@`` follows the one that ends the user name and password.

    A composed URL escapes ``@`` everywhere before the query except there, so a
    second raw one means an unencoded password, which SQLAlchemy would split at
    the first ``@``: the rest of the password would become the host or, after a
    ``/``, the database name, shown in every log line. The password may hold a
    ``/`` or a ``?`` too, so the search runs to whichever of them comes last.
    """
    _, _, rest = text.partition("://")
    _, at, after = rest.partition("@")
    return bool(at) and ("@" in after.partition("?")[0] or "@" in after.partition("/")[0])


def _driver(scheme: str, variable: str) -> str:
    if scheme in _PLAIN_SCHEMES:
        return DEFAULT_DRIVER
    backend, _, driver = scheme.partition("+")
    if backend in _PLAIN_SCHEMES and driver:
        return f"postgresql+{driver}"
    raise ConfigurationError(
        f"scheme {scheme!r} is not PostgreSQL",
        variable=variable,
        remedy=f"start the URL with postgresql:// or {DEFAULT_DRIVER}://",
    )


def _copy_target(
    username: str | None,
    password: str | None,
    host: str | None,
    database: str | None,
    parts: DatabaseURLParts,
) -> None:
    if username:
        parts["username"] = username
    if password is not None:
        parts["password"] = password
    if host:
        parts["host"] = host
    if database:
        parts["database"] = database


def _port(port: int, variable: str) -> int:
    if not 1 <= port <= 65535:
        raise ConfigurationError(
            f"port {port} is out of range", variable=variable, remedy="use a port from 1 to 65535"
        )
    return port


def _read_query(
    query: Mapping[str, str | Sequence[str]], parts: DatabaseURLParts, variable: str
) -> None:
    options: dict[str, str] = {}
    for key, raw in query.items():
        if key == "host" and not isinstance(raw, str) and "host" not in parts:
            # ?host=a:5432&host=b:5433, a multi-host URL: one host field, comma-separated.
            parts["host"] = ",".join(raw)
            continue
        if not isinstance(raw, str):
            raise ConfigurationError(
                f"query option {key!r} is given more than once",
                variable=variable,
                remedy="give each query option once",
            )
        field = URL_QUERY_FIELDS.get(key)
        if field is None:
            options[key] = raw
        elif field in parts:
            raise ConfigurationError(
                f"query option {key!r} gives the {field} a second time",
                variable=variable,
                remedy=f"give the {field} once, either in the URL or as a query option",
            )
        else:
            _set_query_field(parts, field, raw, variable)
    if options:
        parts["options"] = options


def _set_query_field(parts: DatabaseURLParts, field: str, raw: str, variable: str) -> None:
    if field not in _NUMERIC_FIELDS:
        parts[field] = raw  # type: ignore[literal-required]
        return
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigurationError(
            f"query option {field} must be a positive number of seconds, got {short_repr(raw)}",
            variable=variable,
            remedy=f"give {field}=<seconds>, for example {field}=10",
        )
    parts[field] = seconds  # type: ignore[literal-required]
