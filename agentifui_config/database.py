"""``DatabaseConfig``: where the database is, how to pool connections to it, how long to wait.

The URL is composed from the parts in :mod:`agentifui_config.urls`; hosts are
checked in :mod:`agentifui_config.hosts` and the driver in
:mod:`agentifui_config.drivers`.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Final, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from agentifui_config.drivers import checked_driver, installed_async_drivers
from agentifui_config.errors import ConfigurationError, findings_from_errors
from agentifui_config.hosts import checked_host, checked_read_hosts, refuse_service_link
from agentifui_config.migration_url import checked_migration_url, direct_config
from agentifui_config.read_targets import checked_read_login, read_configs
from agentifui_config.secrecy import HIDDEN_VARIABLES, REVEAL_SECRETS, is_secret_name, mask
from agentifui_config.url_parsing import (
    DEFAULT_DRIVER,
    URL_QUERY_FIELDS,
    parse_database_url,
    parse_host_ports,
)
from agentifui_config.urls import (
    DB_PREFIX,
    FIELD_VARIABLES,
    compose_url,
    field_for,
    masked_url,
    replacement_lines,
    variable_for,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "DB_PREFIX",
    "FIELD_VARIABLES",
    "URL_FIELDS",
    "DatabaseConfig",
    "SSLMode",
    "field_for",
    "installed_async_drivers",
    "replacement_lines",
    "variable_for",
]

URL_FIELDS: Final = frozenset(
    {"driver", "username", "password", "host", "port", "database", "options"}
)
"""The fields a database URL carries; the rest travel as engine and connect options."""


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
        description="Read replicas as host[:port],...; they share the database and settings "
        "of the primary, and its user and password unless DB_READ_PASSWORD is set.",
    )
    read_username: str | None = Field(
        None, description="User the replicas log in as, with DB_READ_PASSWORD; unset: DB_USERNAME."
    )
    read_password: SecretStr | None = Field(
        None, description="Password the replicas log in with, in place of the primary's."
    )
    read_password_file: str | None = Field(
        None,
        description="A file holding DB_READ_PASSWORD, read again once it changes, as "
        "DB_PASSWORD_FILE is.",
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
    read_your_writes_seconds: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="Seconds a caller's reads go to the primary after it committed, "
        "keyed by the caller the app names, per process; 0 turns it off.",
    )
    migration_host: str | None = Field(
        None,
        description="Host that migrations reach PostgreSQL on directly, past a pooler; "
        "unset: DB_HOST.",
    )
    migration_port: int | None = Field(
        None, ge=1, le=65535, description="Port for migrations, past a pooler; unset: DB_PORT."
    )
    migration_url: SecretStr | None = Field(
        None,
        description="A whole URL migrations connect to past a pooler, with its own user and "
        "password if need be; not together with DB_MIGRATION_HOST/DB_MIGRATION_PORT.",
    )
    password_file: str | None = Field(
        None,
        description="A file holding DB_PASSWORD, read instead of it; with asyncpg, read "
        "again for new connections once it changes (a rotated Kubernetes secret).",
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
        return refuse_service_link(value)

    @field_validator("host", "migration_host")
    @classmethod
    def _check_host(cls, value: str | None) -> str | None:
        return checked_host(value)

    @field_validator("read_hosts", mode="before")
    @classmethod
    def _check_read_hosts(cls, value: object) -> object:
        return checked_read_hosts(value)

    @field_validator("username", "database", "read_username")
    @classmethod
    def _check_not_blank(cls, value: str | None) -> str | None:
        # Stripped like the host: surrounding spaces are an accident of quoting,
        # and a trailing one would not survive the URL (parsers strip it).
        name = None if value is None else value.strip()
        if name == "":
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

    @field_validator("migration_url")
    @classmethod
    def _check_migration_url(cls, value: SecretStr | None, info: ValidationInfo) -> object:
        return checked_migration_url(cls, value, info.data)

    @model_validator(mode="after")
    def _check_read_login(self) -> Self:
        return checked_read_login(self)

    @field_serializer("password", "migration_url", "read_password")
    def _dump_password(self, value: SecretStr | None, info: SerializationInfo) -> object:
        if value is None:
            return None
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
        return checked_driver(value)

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
        answers); otherwise none, and reads go to the primary. Each logs in as
        :attr:`read_username` (else :attr:`username`) with :attr:`read_password`
        when one (or :attr:`read_password_file`) is given, else as the primary.
        """
        return read_configs(self)

    @property
    def migration_config(self) -> Self | None:
        """The direct migration target, or ``None`` when no direct target is set.

        With ``MIGRATION_DATABASE_URL``, the parts of :attr:`migration_url` in
        place of this configuration's; with ``DB_MIGRATION_HOST``/``_PORT``, the
        same database, user and settings reached at :attr:`migration_host` and
        :attr:`migration_port` (each defaulting to the primary's). Either way
        without PgBouncer: a session advisory lock taken through a pooler in
        transaction mode could be stranded on a server session.
        """
        return direct_config(self)

    @property
    def sqlalchemy_url(self) -> URL:
        """The connection URL as a :class:`sqlalchemy.engine.URL`, password included.

        A unix-socket directory travels as the ``host`` query option, which is
        how asyncpg and libpq read it (SQLAlchemy would bracket a host holding
        ``:``). Session settings (TLS, timeouts, application name) are not in
        the URL: they are connect arguments, see the connection manager.
        """
        return compose_url(self)

    @property
    def url(self) -> str:
        """The connection URL as a string, password included and percent-escaped."""
        return self.sqlalchemy_url.render_as_string(hide_password=False)

    @property
    def masked_url(self) -> str:
        """The connection URL with the password (and any secret option) masked."""
        return masked_url(self.sqlalchemy_url)

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
    return variable_for(str(loc[0])) if loc else "DB_*"
