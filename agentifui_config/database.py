"""``DatabaseConfig``: where the database is, how to pool connections to it, how long to wait.

The URL is always composed from the parts through SQLAlchemy's :class:`URL`,
never by string formatting, so a password holding ``@``, ``/`` or ``%``
survives; a legacy ``DATABASE_URL`` is decomposed the same way.
"""

from __future__ import annotations

import enum
import functools
import importlib.util
import ipaddress
import json
import pkgutil
import re
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import quote, quote_plus

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    ValidationError,
    field_serializer,
    field_validator,
)

from agentifui_config.errors import ConfigurationError, findings_from_errors
from agentifui_config.secrecy import HIDDEN_VARIABLES, MASK, REVEAL_SECRETS, is_secret_name, mask
from agentifui_config.url_parsing import (
    DEFAULT_DRIVER,
    URL_QUERY_FIELDS,
    parse_database_url,
    parse_host_ports,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "DB_PREFIX",
    "URL_FIELDS",
    "DatabaseConfig",
    "SSLMode",
    "installed_async_drivers",
    "replacement_lines",
]

DB_PREFIX: Final = "DB_"
"""The prefix of the environment variables that fill a :class:`DatabaseConfig`."""

URL_FIELDS: Final = frozenset(
    {"driver", "username", "password", "host", "port", "database", "options"}
)
"""The fields a database URL carries; the rest travel as engine and connect options."""

# The libpq/asyncpg option choosing among several hosts by their role.
_SESSION_ATTRS: Final = "target_session_attrs"
_PREFER: Final = "prefer-standby"
_DNS_LABEL: Final = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
# What Kubernetes puts in DB_PORT for a Service named "db" (its docker-link variables).
_SERVICE_LINK: Final = re.compile(r"\s*tcp://[^\s/]+:\d+\s*")


class SSLMode(enum.StrEnum):
    """libpq's TLS modes, from never to verify the server's certificate and name."""

    DISABLE = "disable"
    ALLOW = "allow"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


class DatabaseConfig(BaseModel):
    """How to reach a PostgreSQL database: the URL parts, pool, timeouts and TLS.

    Each field is read from the environment variable ``DB_<FIELD>`` by
    :class:`~agentifui_config.EnvironmentSettings`; the defaults reach a local
    development server. The instance is immutable and hashable-free; compare with
    ``==``. ``str()`` and ``repr()`` show the URL with the password masked.
    ``model_dump()`` gives the password and secret options (``sslpassword``) as
    ``SecretStr``, ``model_dump_json()`` as ``**********``; pass the context
    ``{REVEAL_SECRETS: True}`` for the real values.

    Example:
        >>> cfg = DatabaseConfig(host="db.internal", password="s3cret", database="app")
        >>> cfg.connection_info["host"]
        'db.internal'
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", hide_input_in_errors=True, allow_inf_nan=False
    )

    host: str = Field(
        default="localhost",
        description="Server host name, IPv4/IPv6 address, or absolute unix-socket directory.",
    )
    port: int = Field(default=5432, ge=1, le=65535, description="Server port, 1-65535.")
    username: str = Field(default="postgres", min_length=1, description="Database user.")
    password: SecretStr = Field(default=SecretStr(""), description="Password of the database user.")
    database: str = Field(default="postgres", min_length=1, description="Database name.")
    driver: str = Field(
        default=DEFAULT_DRIVER, description="SQLAlchemy dialect+driver; must be async-capable."
    )
    pool_size: int = Field(default=5, ge=1, description="Connections kept open in the pool.")
    max_overflow: int = Field(
        default=10, ge=0, description="Extra connections allowed beyond pool_size."
    )
    pool_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for a free pooled connection."
    )
    pool_recycle: int = Field(
        default=3600, gt=0, description="Seconds after which a connection is renewed."
    )
    pool_pre_ping: bool = Field(
        default=True, description="Test each connection before handing it out."
    )
    echo_sql: bool = Field(
        default=False, description="Log every SQL statement (never in production)."
    )
    connect_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to wait for a new connection."
    )
    pool_pre_ping_bypass_ms: float = Field(
        default=0.0,
        ge=0,
        description="Skip the pre-ping for a connection returned to the pool less than this "
        "many milliseconds ago; 0 pings every checkout.",
    )
    statement_timeout: float | None = Field(
        default=None, gt=0, description="Seconds after which the server cancels a statement."
    )
    command_timeout: float | None = Field(
        default=60.0,
        gt=0,
        description="Seconds to wait for the answer to any one command before giving up; "
        "'none' for no bound.",
    )
    ssl_mode: SSLMode | None = Field(
        default=None,
        description="TLS mode: disable, allow, prefer, require, verify-ca, verify-full.",
    )
    application_name: str | None = Field(
        default=None, description="Name shown for the connection in pg_stat_activity."
    )
    pgbouncer: bool = Field(
        default=False, description="Connections go through PgBouncer in transaction mode."
    )
    read_hosts: tuple[str, ...] = Field(
        (),
        description="Read replicas as host[:port],...; they share the user, password, "
        "database and settings of the primary.",
    )
    read_max_lag_seconds: float | None = Field(
        30.0,
        gt=0,
        description="A replica further behind the primary than this is taken out of "
        "rotation; 'none' for no bound.",
    )
    read_check_timeout: float = Field(
        1.0,
        gt=0,
        description="Seconds the replicas have to answer a health check before reads "
        "go to the primary.",
    )
    migration_host: str | None = Field(
        None,
        description="Host that migrations reach PostgreSQL on directly, past a pooler; "
        "unset: DB_HOST.",
    )
    migration_port: int | None = Field(
        None, ge=1, le=65535, description="Port for migrations, past a pooler; unset: DB_PORT."
    )
    options: dict[str, str] = Field(
        default_factory=dict, description="Further URL query options, passed to the driver."
    )

    @field_validator("command_timeout", "read_max_lag_seconds", mode="before")
    @classmethod
    def _unbounded_command_timeout(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "none"):
            return None
        return value

    @field_validator("port", mode="before")
    @classmethod
    def _refuse_service_link(cls, value: object) -> object:
        if isinstance(value, str) and _SERVICE_LINK.fullmatch(value):
            raise ConfigurationError(
                f"{value.strip()!r} is a Kubernetes service link, not a port "
                "(a Service named 'db' sets DB_PORT in every pod of its namespace)",
                variable="DB_PORT",
                remedy="set DB_PORT to a number in the pod spec, or enableServiceLinks: false",
            )
        return value

    @field_validator("host", "migration_host")
    @classmethod
    def _check_host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "," in value:
            # Several hosts: the driver tries them in turn (failover), each with its port.
            return ",".join(_host_entry(*pair, multi=True) for pair in parse_host_ports(value))
        host = value.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if _is_valid_host(host):
            return host
        raise ValueError(
            f"{value!r} is not a host name, an IP address or an absolute socket directory"
        )

    @field_validator("read_hosts", mode="before")
    @classmethod
    def _check_read_hosts(cls, value: object) -> object:
        if not value or (isinstance(value, str) and not value.strip()):
            return ()
        if not isinstance(value, str | list | tuple):
            return value
        return tuple(_host_entry(*pair, multi=False) for pair in parse_host_ports(value))

    @field_validator("username", "database")
    @classmethod
    def _check_not_blank(cls, value: str) -> str:
        # Stripped like the host: surrounding spaces are an accident of quoting,
        # and a trailing one would not survive the URL (parsers strip it).
        name = value.strip()
        if not name:
            raise ValueError("must not be blank")
        return name

    @field_validator("options", mode="before")
    @classmethod
    def _reveal_options(cls, value: object) -> object:
        # A python-mode dump holds secret options as SecretStr: accept it back.
        if not isinstance(value, dict):
            return value
        reveal = SecretStr.get_secret_value
        return {k: reveal(v) if isinstance(v, SecretStr) else v for k, v in value.items()}

    @field_serializer("password")
    def _dump_password(self, value: SecretStr, info: SerializationInfo) -> object:
        if _reveals(info):
            return value.get_secret_value()
        return mask(value) if info.mode_is_json() and value.get_secret_value() else value

    @field_serializer("options")
    def _dump_options(self, value: dict[str, str], info: SerializationInfo) -> dict[str, object]:
        if _reveals(info):
            return dict(value)
        hidden = mask if info.mode_is_json() else SecretStr
        return {key: hidden(item) if is_secret_name(key) else item for key, item in value.items()}

    @field_validator("options")
    @classmethod
    def _check_options(cls, value: dict[str, str]) -> dict[str, str]:
        # Option values are not shown: an option such as sslpassword is a secret.
        for key, option in value.items():
            if key in URL_QUERY_FIELDS:
                field = URL_QUERY_FIELDS[key]
                raise ValueError(f"option {key!r} is a setting of its own: set {field} instead")
            if not key or not option:
                raise ValueError(f"option {key!r} needs a name and a non-empty value")
        return value

    @field_validator("driver")
    @classmethod
    def _check_driver(cls, value: str) -> str:
        driver = value.strip()
        if not _is_async_postgres_driver(driver):
            installed = ", ".join(installed_async_drivers()) or "none"
            raise ValueError(
                f"{value!r} is not an installed async PostgreSQL driver (installed: {installed})"
            )
        return driver

    @classmethod
    def from_url(cls, url: str | URL, **overrides: Any) -> Self:
        """Build a configuration from a database URL; *overrides* set the other fields.

        Raises:
            ConfigurationError: The URL or an override is invalid; the message
                never repeats the password.
        """
        text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        fields: dict[str, Any] = {**parse_database_url(text), **overrides}
        try:
            return cls(**fields)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        # Raised outside the handler: pydantic's error, chained as __context__, holds the inputs.
        findings = findings_from_errors(errors, _variable, HIDDEN_VARIABLES)
        raise ConfigurationError(findings) from None

    @property
    def is_unix_socket(self) -> bool:
        """Whether :attr:`host` is a unix-socket directory rather than a network host."""
        return self.host.startswith("/")

    @property
    def hosts(self) -> tuple[tuple[str, int], ...]:
        """Each host of :attr:`host` with its port (:attr:`port` where it gives none)."""
        if "," not in self.host:
            return ((self.host, self.port),)
        return tuple((host, port or self.port) for host, port in parse_host_ports(self.host))

    @property
    def read_targets(self) -> tuple[DatabaseConfig, ...]:
        """The configurations reads are routed to, primary settings kept, in rotation order.

        One per :attr:`read_hosts` entry; without any, a multi-host primary is
        read with ``target_session_attrs=prefer-standby`` (a standby when one
        answers); otherwise none, and reads go to the primary.
        """
        options = {k: v for k, v in self.options.items() if k != _SESSION_ATTRS}
        if not self.read_hosts:
            if len(self.hosts) == 1:
                return ()
            return (self.model_copy(update={"options": {**options, _SESSION_ATTRS: _PREFER}}),)
        update: dict[str, Any] = {"read_hosts": (), "options": options}
        return tuple(
            self.model_copy(update={**update, "host": host, "port": port or self.port})
            for host, port in parse_host_ports(self.read_hosts)
        )

    @property
    def migration_config(self) -> Self | None:
        """The direct migration target, or ``None`` when no ``DB_MIGRATION_*`` is set.

        The same database, user and settings as this configuration, reached at
        :attr:`migration_host` and :attr:`migration_port` (each defaulting to
        the primary's) without PgBouncer: a session advisory lock taken through
        a pooler in transaction mode could be stranded on a server session.
        """
        if self.migration_host is None and self.migration_port is None:
            return None
        direct = {
            "host": self.migration_host or self.host,
            "port": self.migration_port or self.port,
            "pgbouncer": False,
            "migration_host": None,
            "migration_port": None,
        }
        return self.model_copy(update=direct)

    @property
    def sqlalchemy_url(self) -> URL:
        """The connection URL as a :class:`sqlalchemy.engine.URL`, password included.

        A unix-socket directory travels as the ``host`` query option, which is
        how asyncpg and libpq read it (SQLAlchemy would bracket a host holding
        ``:``). Session settings (TLS, timeouts, application name) are not in
        the URL: they are connect arguments, see the connection manager.
        """
        from sqlalchemy.engine import URL  # noqa: PLC0415 - loaded by the first URL built

        query: dict[str, str | tuple[str, ...]] = dict(self.options)
        host: str | None = self.host
        if len(hosts := self.hosts) > 1:
            # SQLAlchemy's multi-host form, which asyncpg tries in turn; the primary
            # pool takes only the host that accepts writes.
            query["host"] = tuple(f"{name}:{port}" for name, port in hosts)
            query.setdefault(_SESSION_ATTRS, "read-write")
            return URL.create(
                self.driver,
                username=self.username,
                password=self.password.get_secret_value() or None,
                database=self.database,
                query=query,
            )
        if self.is_unix_socket:
            query["host"] = self.host
            host = None
        return URL.create(
            self.driver,
            username=self.username,
            password=self.password.get_secret_value() or None,
            host=host,
            port=self.port,
            database=self.database,
            query=query,
        )

    @property
    def url(self) -> str:
        """The connection URL as a string, password included and percent-escaped."""
        return self.sqlalchemy_url.render_as_string(hide_password=False)

    @property
    def masked_url(self) -> str:
        """The connection URL with the password (and any secret option) masked."""
        url = self.sqlalchemy_url
        hidden = {key: MASK for key in url.query if is_secret_name(key)}
        if url.password is not None:
            url = url.set(password=MASK)
        text = url.update_query_dict(hidden).render_as_string(hide_password=False)
        # The URL is percent-encoded; show the mask as it is.
        return text.replace(quote_plus(MASK), MASK).replace(quote(MASK, safe=""), MASK)

    @property
    def connection_info(self) -> dict[str, str | int]:
        """Host, port, database, driver and user name: what is safe to show, never the password."""
        return {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "driver": self.driver,
            "username": self.username,
        }

    def __repr__(self) -> str:
        return f"DatabaseConfig({self.masked_url!r})"

    def __str__(self) -> str:
        return self.masked_url


def _reveals(info: SerializationInfo) -> bool:
    """Whether the dump was asked for the real secret values."""
    context = info.context
    return isinstance(context, dict) and context.get(REVEAL_SECRETS) is True


def _variable(loc: tuple[int | str, ...]) -> str:
    """The environment variable behind an error location inside a DatabaseConfig."""
    return DB_PREFIX + str(loc[0]).upper() if loc else "DB_*"


def _host_entry(host: str, port: int | None, *, multi: bool) -> str:
    """``host`` or ``host:port`` for one entry of a host list, once the host is checked.

    Raises:
        ValueError: The host is not valid, or cannot travel in a multi-host URL.
    """
    if not _is_valid_host(host):
        raise ValueError(
            f"{host!r} is not a host name, an IP address or an absolute socket directory"
        )
    if multi and (":" in host or host.startswith("/")):
        # SQLAlchemy's multi-host URL splits each entry at ':' and has no socket form.
        raise ValueError(f"{host!r}: a list of hosts takes host names and IPv4 addresses only")
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_valid_host(host: str) -> bool:
    if host.startswith("/"):
        return "\x00" not in host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    labels = host.removesuffix(".").split(".")
    if all(label.isdigit() for label in labels):
        return False  # looks like an IPv4 address, and ip_address() said it is not one
    return len(host) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in labels)


@functools.cache
def _is_async_postgres_driver(driver: str) -> bool:
    if driver == DEFAULT_DRIVER:
        # SQLAlchemy (a dependency) ships this dialect: whether asyncpg is installed
        # decides, and finding out loads neither package.
        return importlib.util.find_spec("asyncpg") is not None
    from sqlalchemy.engine import URL  # noqa: PLC0415 - any other driver is looked up
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError  # noqa: PLC0415

    try:
        url = URL.create(driver)
        dialect = url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError, AttributeError):
        return False
    async_dialect = dialect.get_async_dialect_cls(url)
    return (
        async_dialect.name == "postgresql"
        and async_dialect.is_async
        and importlib.util.find_spec(async_dialect.driver) is not None
    )


@functools.cache
def installed_async_drivers() -> tuple[str, ...]:
    """The async PostgreSQL dialect+driver names whose driver package is installed."""
    from sqlalchemy.dialects import postgresql  # noqa: PLC0415 - only needed on this error path

    modules = pkgutil.iter_modules(postgresql.__path__)
    names = (f"postgresql+{m.name}" for m in modules if not m.name.startswith("_"))
    return tuple(name for name in names if _is_async_postgres_driver(name))


def replacement_lines(url: str, *, show_password: bool = False) -> list[str]:
    """The ``DB_*`` lines equivalent to a legacy ``DATABASE_URL``, password masked unless asked.

    Raises:
        ConfigurationError: The URL is not a PostgreSQL URL.
    """
    lines = []
    for name, value in parse_database_url(url).items():
        lines.append(f"{DB_PREFIX}{name.upper()}={_env_value(name, value, show_password)}")
    return lines


def _env_value(name: str, value: object, show_password: bool) -> str:
    if name == "password" and not show_password:
        return mask(value)
    if isinstance(value, dict):
        # An option such as sslpassword is masked as masked_url masks it.
        hidden = {k: mask(v) for k, v in value.items() if is_secret_name(k)}
        return json.dumps(value if show_password else {**value, **hidden})
    return str(value)
