"""Tests for ``agentifui_config.database``: ``DatabaseConfig`` and its URL compose/decompose."""

from __future__ import annotations

import contextlib
import importlib.util
import re
from typing import Any, assert_type
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, example, given, reject, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from sqlalchemy.engine import URL, make_url

from agentifui_config.database import (
    URL_FIELDS,
    DatabaseConfig,
    SSLMode,
    installed_async_drivers,
)
from agentifui_config.errors import ConfigurationError
from agentifui_config.url_parsing import DEFAULT_DRIVER, URL_QUERY_FIELDS

# Loading a SQLAlchemy dialect the first time takes a while; a deadline would flake.
_PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every printable character, plus the ones that mean something in a URL, made likely.
_printable = st.characters(exclude_categories=("Cs", "Cc"))
_tricky = st.sampled_from(["@", "/", ":", "%", "?", "#", "&", "=", "+", " ", "[", "]", "é", "🔑"])
_char = st.one_of(_tricky, _printable)


def _text(min_size: int = 0, max_size: int = 16) -> st.SearchStrategy[str]:
    return st.text(_char, min_size=min_size, max_size=max_size)


_dns_label = st.from_regex(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,14}[A-Za-z0-9_])?", fullmatch=True)
_dns_names = (
    st.lists(_dns_label, min_size=1, max_size=4)
    .filter(lambda labels: not all(label.isdigit() for label in labels))
    .map(".".join)
)
_socket_dirs = st.one_of(
    st.just("/cloudsql/project:region:instance"),
    st.lists(_text(min_size=1).filter(lambda s: "/" not in s), max_size=3).map(
        lambda parts: "/" + "/".join(parts)
    ),
)
_hosts = st.one_of(
    _dns_names,
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    _socket_dirs,
)
_seconds = st.floats(min_value=0, max_value=1e6, exclude_min=True, allow_nan=False)
# Option names that a field covers are drawn now and then, to probe that edge too.
_options = st.dictionaries(
    st.one_of(_text(max_size=12), st.sampled_from(sorted(URL_QUERY_FIELDS))),
    _text(max_size=12),
    max_size=3,
)


@st.composite
def _configs(draw: st.DrawFn) -> DatabaseConfig:
    """A valid configuration, drawn from parts a little wider than the validators allow.

    What validation refuses is skipped, so the properties cover every
    configuration the validators let through, not only those a strategy foresaw.
    """
    fields = draw(
        st.fixed_dictionaries(
            {
                "host": _hosts,
                "port": st.integers(1, 65535),
                "username": _text(min_size=1),
                "password": _text(max_size=24),
                "database": _text(min_size=1),
                "driver": st.just(DEFAULT_DRIVER),
                "pool_size": st.integers(0, 100),
                "max_overflow": st.integers(0, 100),
                "pool_timeout": _seconds,
                "pool_recycle": st.integers(1, 10**6),
                "pool_pre_ping": st.booleans(),
                "pool_pre_ping_bypass_ms": st.floats(0, 10**6),
                "echo_sql": st.booleans(),
                "connect_timeout": _seconds,
                "statement_timeout": st.none() | _seconds,
                "ssl_mode": st.none() | st.sampled_from(SSLMode),
                "application_name": st.none() | _text(),
                "pgbouncer": st.booleans(),
                "options": _options,
            }
        )
    )
    try:
        return DatabaseConfig(**fields)
    except ValidationError:
        reject()


def _non_url_fields(cfg: DatabaseConfig) -> dict[str, Any]:
    return cfg.model_dump(exclude=set(URL_FIELDS))


def _public_views(cfg: DatabaseConfig) -> list[str]:
    """Everything about a configuration that may be shown: logs, reprs, dumps."""
    return [
        repr(cfg),
        str(cfg),
        f"{cfg}",
        cfg.masked_url,
        str(cfg.connection_info),
        repr(cfg.model_dump()),
        cfg.model_dump_json(),
    ]


def _forms(secret: str) -> set[str]:
    """A secret as text and as a URL would carry it, percent-encoded."""
    return {secret, quote(secret, safe=""), quote(secret, safe=" +"), quote_plus(secret)}


def _error_text(url: str, **overrides: Any) -> str:
    """The error from_url raises for *url*, or "" when it builds a configuration."""
    try:
        DatabaseConfig.from_url(url, **overrides)
    except ConfigurationError as exc:
        return str(exc)
    return ""


def _config_error(url: str = "postgresql://app@db/app", **overrides: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        DatabaseConfig.from_url(url, **overrides)
    return caught.value


class TestDatabaseConfigDefaults:
    def test_defaults_reach_a_local_server(self) -> None:
        """The defaults describe a local development server with a modest pool."""
        cfg = DatabaseConfig()
        assert cfg.connection_info == {
            "host": "localhost",
            "port": 5432,
            "database": "postgres",
            "driver": "postgresql+asyncpg",
            "username": "postgres",
        }
        assert cfg.password.get_secret_value() == ""
        assert (cfg.pool_size, cfg.max_overflow) == (5, 10)
        assert (cfg.pool_timeout, cfg.pool_recycle) == (30, 3600)
        assert (cfg.pool_pre_ping, cfg.echo_sql, cfg.pgbouncer) == (True, False, False)
        assert (cfg.statement_timeout, cfg.ssl_mode, cfg.application_name) == (None, None, None)
        assert cfg.connect_timeout > 0
        assert cfg.options == {}

    def test_is_immutable(self) -> None:
        """A configuration cannot be changed after validation."""
        cfg = DatabaseConfig()
        with pytest.raises(ValidationError, match="frozen"):
            cfg.port = 6432  # type: ignore[misc]

    def test_password_is_a_secret(self) -> None:
        """The password is held as a SecretStr from the moment it is read."""
        cfg = DatabaseConfig(password="hunter2-hunter2")
        assert isinstance(cfg.password, SecretStr)
        assert cfg.password.get_secret_value() == "hunter2-hunter2"


class TestDatabaseConfigHost:
    @pytest.mark.parametrize(
        ("given_host", "host"),
        [
            ("db.internal", "db.internal"),
            ("localhost", "localhost"),
            ("my_db-1.example.com.", "my_db-1.example.com."),
            ("10.0.0.5", "10.0.0.5"),
            ("::1", "::1"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("  db  ", "db"),
            ("/var/run/postgresql", "/var/run/postgresql"),
            ("/cloudsql/project:region:instance", "/cloudsql/project:region:instance"),
        ],
    )
    def test_accepts_names_addresses_and_socket_directories(
        self, given_host: str, host: str
    ) -> None:
        """DNS names, IPv4, IPv6 (bracketed or not) and absolute socket directories are hosts."""
        assert DatabaseConfig(host=given_host).host == host

    @pytest.mark.parametrize(
        "host",
        [
            "",
            "bad host",
            "-db",
            "db-",
            "db..internal",
            "256.1.1.1",
            "1.2.3",
            "[::1",
            "relative/socket",
            "/tmp/\x00x",  # noqa: S108
            "a" * 64,
            ".".join(["a" * 60] * 5),
            "db:5432",
            "user@db",
        ],
    )
    def test_rejects_anything_else(self, host: str) -> None:
        """Anything that is not a name, an address or an absolute directory is refused."""
        error = _config_error(host=host)
        assert str(error) == (
            f"DB_HOST: {host!r} is not a host name, an IP address or an absolute socket directory"
        )

    @pytest.mark.parametrize(
        ("host", "socket"), [("/var/run/postgresql", True), ("db", False), ("::1", False)]
    )
    def test_is_unix_socket(self, host: str, socket: bool) -> None:
        """Only a directory (an absolute path) is a unix socket."""
        assert DatabaseConfig(host=host).is_unix_socket is socket


class TestDatabaseConfigMigrationTarget:
    def test_no_direct_target_by_default(self) -> None:
        """Without DB_MIGRATION_HOST or DB_MIGRATION_PORT there is no direct migration target."""
        assert DatabaseConfig(pgbouncer=True).migration_config is None

    def test_direct_target_is_the_primary_past_the_pooler(self) -> None:
        """The direct target keeps the primary's user, password and database, not its pooler."""
        cfg = DatabaseConfig(
            host="pgbouncer",
            port=6432,
            password="s3cret",
            database="app",
            pgbouncer=True,
            migration_host=" db-primary ",
            migration_port=5433,
        )
        direct = cfg.migration_config
        assert direct is not None
        assert direct.url == "postgresql+asyncpg://postgres:s3cret@db-primary:5433/app"
        assert (direct.pgbouncer, direct.migration_config) == (False, None)
        assert direct.pool_size == cfg.pool_size

    def test_port_alone_keeps_the_host(self) -> None:
        """DB_MIGRATION_PORT alone reaches the primary's host on another port."""
        direct = DatabaseConfig(host="db", port=6432, migration_port=5432).migration_config
        assert direct is not None
        assert (direct.host, direct.port) == ("db", 5432)

    @pytest.mark.parametrize(
        ("overrides", "report"),
        [
            (
                {"migration_host": "bad host"},
                "DB_MIGRATION_HOST: 'bad host' is not a host name, an IP address or an "
                "absolute socket directory",
            ),
            ({"migration_port": 0}, "DB_MIGRATION_PORT: must be at least 1, got 0"),
            ({"migration_port": 70000}, "DB_MIGRATION_PORT: must be at most 65535, got 70000"),
        ],
    )
    def test_is_validated_like_the_primary(self, overrides: dict[str, Any], report: str) -> None:
        """A bad direct host or port is refused with its variable, as DB_HOST and DB_PORT are."""
        assert str(_config_error(**overrides)).startswith(report)

    def test_never_shows_the_password(self) -> None:
        """The direct target's repr masks the password, as the primary's does."""
        direct = DatabaseConfig(password="s3cret", migration_host="db").migration_config
        assert "s3cret" not in repr(direct)
        assert "s3cret" not in str(direct)


class TestDatabaseConfigValidation:
    @pytest.mark.parametrize(
        ("overrides", "report"),
        [
            ({"port": 0}, "DB_PORT: must be at least 1, got 0"),
            ({"port": 65536}, "DB_PORT: must be at most 65535, got 65536"),
            ({"port": "abc"}, "DB_PORT: expected a whole number, got 'abc'"),
            ({"username": ""}, "DB_USERNAME: must not be empty, got ''"),
            ({"username": "  "}, "DB_USERNAME: must not be blank"),
            ({"database": "\t"}, "DB_DATABASE: must not be blank"),
            ({"pool_size": 0}, "DB_POOL_SIZE: must be at least 1, got 0"),
            ({"max_overflow": -5}, "DB_MAX_OVERFLOW: must be at least 0, got -5"),
            ({"pool_timeout": 0}, "DB_POOL_TIMEOUT: must be greater than 0.0, got 0"),
            ({"pool_recycle": -1}, "DB_POOL_RECYCLE: must be greater than 0, got -1"),
            ({"connect_timeout": 0}, "DB_CONNECT_TIMEOUT: must be greater than 0.0, got 0"),
            (
                {"pool_pre_ping_bypass_ms": -1},
                "DB_POOL_PRE_PING_BYPASS_MS: must be at least 0.0, got -1",
            ),
            (
                {"statement_timeout": -1.5},
                "DB_STATEMENT_TIMEOUT: must be greater than 0.0, got -1.5",
            ),
            ({"echo_sql": "sometimes"}, "DB_ECHO_SQL: expected a boolean (true/false, 1/0, "),
            ({"ssl_mode": "always"}, "DB_SSL_MODE: expected one of 'disable', 'allow', 'prefer', "),
            ({"pool": 5}, "DB_POOL: is not a known setting, got 5"),
        ],
    )
    def test_each_field_error_names_its_variable(
        self, overrides: dict[str, Any], report: str
    ) -> None:
        """A bad value is refused with the DB_ variable, what was expected and what was given."""
        assert str(_config_error(**overrides)).startswith(report)

    def test_smallest_pool_is_one_connection_without_overflow(self) -> None:
        """One kept connection and no overflow is the smallest pool (0 would mean no limit)."""
        cfg = DatabaseConfig(pool_size=1, max_overflow=0)
        assert (cfg.pool_size, cfg.max_overflow) == (1, 0)

    def test_names_are_stripped(self) -> None:
        """Spaces around a user or database name (a quoting accident) are dropped."""
        cfg = DatabaseConfig(username=" app ", database=" billing ")
        assert (cfg.username, cfg.database) == ("app", "billing")

    def test_all_errors_come_in_one_report(self) -> None:
        """Several bad fields give one error listing every one of them."""
        error = _config_error(port=0, pool_size=-1, host="bad host")
        assert error.variables == ("DB_HOST", "DB_PORT", "DB_POOL_SIZE")
        assert str(error).splitlines()[0] == "invalid configuration (3 errors):"

    @pytest.mark.parametrize(
        "driver", ["postgresql+psycopg2", "mysql+aiomysql", "postgresql+nosuchdriver", "nonsense"]
    )
    def test_driver_must_be_an_installed_async_postgres_driver(self, driver: str) -> None:
        """A sync, foreign or missing driver is refused; the error lists the installed ones."""
        installed = ", ".join(installed_async_drivers())
        with pytest.raises(
            ConfigurationError,
            match=rf"^DB_DRIVER: '{re.escape(driver)}' is not an installed async PostgreSQL "
            rf"driver \(installed: {re.escape(installed)}\)$",
        ):
            DatabaseConfig.from_url("postgresql://app@db/app", driver=driver)

    def test_driver_is_stripped(self) -> None:
        """Spaces around the driver name are dropped."""
        assert DatabaseConfig(driver=" postgresql+asyncpg ").driver == "postgresql+asyncpg"

    @pytest.mark.parametrize(
        ("options", "report"),
        [
            ({"sslmode": "require"}, "option 'sslmode' is a setting of its own: set ssl_mode"),
            ({"host": "/run/pg"}, "option 'host' is a setting of its own: set host instead"),
            ({"password": "x"}, "option 'password' is a setting of its own: set password"),
            ({"": "x"}, "option '' needs a name and a non-empty value"),
            ({"sslpassword": ""}, "option 'sslpassword' needs a name and a non-empty value"),
        ],
    )
    def test_options_are_only_what_no_field_covers(
        self, options: dict[str, str], report: str
    ) -> None:
        """An option that a field sets, or an empty one, is refused without showing its value."""
        error = _config_error(options=options)
        assert str(error).startswith(f"DB_OPTIONS: {report}")

    def test_constructor_errors_hide_the_password(self) -> None:
        """The ValidationError, raised by the constructor, does not echo its inputs."""
        with pytest.raises(ValidationError) as caught:
            DatabaseConfig(password="hunter2-hunter2", port=0)
        assert "hunter2" not in str(caught.value)
        assert "hunter2" not in repr(caught.value)


class TestInstalledAsyncDrivers:
    def test_lists_asyncpg(self) -> None:
        """The asyncpg driver, a dependency of the library, is always an installed async driver."""
        drivers = installed_async_drivers()
        assert DEFAULT_DRIVER in drivers
        assert all(driver.startswith("postgresql+") for driver in drivers)

    def test_lists_only_async_drivers(self) -> None:
        """Sync drivers (psycopg2, pg8000) are never listed, installed or not."""
        assert not {"postgresql+psycopg2", "postgresql+pg8000"} & set(installed_async_drivers())

    def test_psycopg_counts_when_installed(self) -> None:
        """The psycopg 3 driver is async-capable: listed exactly when its package is installed."""
        installed = importlib.util.find_spec("psycopg") is not None
        assert ("postgresql+psycopg" in installed_async_drivers()) is installed

    def test_signature(self) -> None:
        """The drivers come as a tuple of names."""
        assert_type(installed_async_drivers(), tuple[str, ...])


class TestDatabaseConfigURL:
    def test_url_holds_the_escaped_password(self) -> None:
        """The URL carries the password, percent-escaped so '@', '/' and ':' survive."""
        cfg = DatabaseConfig(
            host="db",
            port=6432,
            username="app@corp",
            password="p@ss/w:rd%",
            database="billing",
        )
        assert cfg.url == "postgresql+asyncpg://app%40corp:p%40ss%2Fw%3Ard%25@db:6432/billing"
        assert make_url(cfg.url).password == "p@ss/w:rd%"

    def test_url_without_password_has_no_colon(self) -> None:
        """An empty password is left out of the URL rather than given as empty."""
        assert DatabaseConfig(host="db").url == "postgresql+asyncpg://postgres@db:5432/postgres"

    def test_ipv6_host_is_bracketed(self) -> None:
        """An IPv6 host is bracketed in the URL, so its colons are not read as a port."""
        assert DatabaseConfig(host="2001:db8::7").url.endswith("@[2001:db8::7]:5432/postgres")

    def test_socket_directory_travels_as_the_host_option(self) -> None:
        """A socket directory (colons and all) goes in ?host=, which asyncpg reads."""
        cfg = DatabaseConfig(host="/cloudsql/p:r:i", database="app")
        assert cfg.url == "postgresql+asyncpg://postgres@:5432/app?host=%2Fcloudsql%2Fp%3Ar%3Ai"
        url = cfg.sqlalchemy_url
        assert url.host is None
        assert url.query == {"host": "/cloudsql/p:r:i"}

    def test_options_travel_in_the_query(self) -> None:
        """Options are URL query options, sorted, escaped."""
        cfg = DatabaseConfig(host="db", options={"b": "x y", "a": "1&2"})
        assert cfg.url.endswith("/postgres?a=1%262&b=x+y")

    def test_session_settings_stay_out_of_the_url(self) -> None:
        """TLS, timeouts and application name are connect arguments, not URL options."""
        cfg = DatabaseConfig(
            ssl_mode=SSLMode.REQUIRE,
            connect_timeout=3,
            statement_timeout=1,
            application_name="billing",
        )
        assert "?" not in cfg.url

    def test_sqlalchemy_url(self) -> None:
        """The SQLAlchemy URL holds each part, password included."""
        cfg = DatabaseConfig(
            host="db",
            port=6432,
            username="app",
            password="s3cret-pw",
            database="billing",
        )
        url = cfg.sqlalchemy_url
        assert isinstance(url, URL)
        assert (url.drivername, url.host, url.port) == ("postgresql+asyncpg", "db", 6432)
        assert (url.username, url.password, url.database) == ("app", "s3cret-pw", "billing")

    def test_masked_url_hides_the_password(self) -> None:
        """The masked URL shows where the database is, and the mask for the password."""
        cfg = DatabaseConfig(host="db", username="app", password="s3cret-pw")
        assert cfg.masked_url == "postgresql+asyncpg://app:**********@db:5432/postgres"

    def test_masked_url_hides_every_secret_option(self) -> None:
        """Options named for a secret, key or token are masked, as the log redaction masks them."""
        cfg = DatabaseConfig(host="db", options={"api_key": "k-123", "client_secret": "s-456"})
        assert "k-123" not in cfg.masked_url
        assert "s-456" not in cfg.masked_url
        assert "api_key=**********" in cfg.masked_url

    def test_masked_url_hides_password_options(self) -> None:
        """An option holding a password (libpq's sslpassword) is masked too."""
        cfg = DatabaseConfig(host="db", options={"sslpassword": "k3y-pw", "sslcert": "/c.pem"})
        assert cfg.masked_url == (
            "postgresql+asyncpg://postgres@db:5432/postgres?sslcert=%2Fc.pem&sslpassword=**********"
        )
        assert "sslpassword=k3y-pw" in cfg.url

    def test_connection_info_never_holds_the_password(self) -> None:
        """connection_info says where and as whom, never with what password."""
        cfg = DatabaseConfig(host="db", username="app", password="s3cret-pw")
        assert cfg.connection_info == {
            "host": "db",
            "port": 5432,
            "database": "postgres",
            "driver": "postgresql+asyncpg",
            "username": "app",
        }

    def test_repr_and_str_show_the_masked_url(self) -> None:
        """repr() and str() show the masked URL, so logging a config is safe."""
        cfg = DatabaseConfig(host="db", username="app", password="s3cret-pw")
        assert repr(cfg) == "DatabaseConfig('postgresql+asyncpg://app:**********@db:5432/postgres')"
        assert str(cfg) == "postgresql+asyncpg://app:**********@db:5432/postgres"

    def test_signatures(self) -> None:
        """The URL forms have the documented types."""
        cfg = DatabaseConfig()
        assert_type(cfg.url, str)
        assert_type(cfg.sqlalchemy_url, URL)
        assert_type(cfg.masked_url, str)
        assert_type(cfg.connection_info, dict[str, str | int])
        assert_type(DatabaseConfig.from_url(cfg.url), DatabaseConfig)


class TestDatabaseConfigFromURL:
    def test_reads_every_part(self) -> None:
        """Each part of the URL, and each query option, lands in its field."""
        cfg = DatabaseConfig.from_url(
            "postgres://app:p%40ss@db.internal:6432/billing"
            "?sslmode=verify-full&application_name=api&connect_timeout=4&target_session_attrs=any"
        )
        assert cfg.connection_info == {
            "host": "db.internal",
            "port": 6432,
            "database": "billing",
            "driver": "postgresql+asyncpg",
            "username": "app",
        }
        assert cfg.password.get_secret_value() == "p@ss"
        assert (cfg.ssl_mode, cfg.application_name) == (SSLMode.VERIFY_FULL, "api")
        assert cfg.connect_timeout == 4
        assert cfg.options == {"target_session_attrs": "any"}

    def test_reads_a_cloud_sql_socket(self) -> None:
        """A Cloud SQL socket directory in ?host= survives, colons included."""
        cfg = DatabaseConfig.from_url("postgresql://app:pw@/billing?host=/cloudsql/p:r:i")
        assert cfg.host == "/cloudsql/p:r:i"
        assert cfg.is_unix_socket

    def test_password_from_the_query_is_a_secret(self) -> None:
        """?password= fills the password, so it is masked like any other password."""
        cfg = DatabaseConfig.from_url("postgresql://app@db/billing?password=s3cret-pw")
        assert cfg.password.get_secret_value() == "s3cret-pw"
        assert "s3cret-pw" not in repr(cfg)

    def test_overrides_win(self) -> None:
        """Overrides set the fields the URL does not carry and replace those it does."""
        cfg = DatabaseConfig.from_url("postgresql://app@db:5432/billing", port=6432, pool_size=2)
        assert (cfg.port, cfg.pool_size, cfg.host) == (6432, 2, "db")

    def test_accepts_a_sqlalchemy_url(self) -> None:
        """A SQLAlchemy URL object is read like its text, password included."""
        url = URL.create("postgresql", username="app", password="p@ss", host="db", database="b")
        cfg = DatabaseConfig.from_url(url)
        assert cfg.password.get_secret_value() == "p@ss"
        assert cfg.driver == DEFAULT_DRIVER

    def test_url_errors_name_the_url(self) -> None:
        """An error in the URL itself names DATABASE_URL, not a DB_ variable."""
        error = _config_error("mysql://app:s3cret-pw@db/app")
        assert error.variables == ("DATABASE_URL",)
        assert "s3cret-pw" not in str(error)

    def test_errors_chain_nothing(self) -> None:
        """The ValidationError, whose details hold every input, is not chained to the error."""
        error = _config_error("postgresql://app:s3cret-pw@db/app?sslpassword=s3cret-pw", port="x")
        assert error.__context__ is None
        assert error.__cause__ is None

    def test_unencoded_at_in_the_password_is_an_error(self) -> None:
        """A password with a raw '@' is refused with the fix, and never shown."""
        with pytest.raises(
            ConfigurationError,
            match=r"^DATABASE_URL: the password or user name contains an unencoded '@' - "
            r"percent-encode it as %40",
        ) as caught:
            DatabaseConfig.from_url("postgresql://app:pa@ss/word@db/app")
        assert "ss/word" not in str(caught.value)


class TestDatabaseConfigProperties:
    @given(_configs())
    @example(DatabaseConfig(database="app ", username=" a b "))
    @example(DatabaseConfig(host="/cloudsql/p:r:i", password="p@ss/w:rd%?#&=+ é"))
    @example(DatabaseConfig(host="::1", username="@:/%", options={"a b": "c&d=e"}))
    @_PROPERTY
    def test_url_round_trip(self, cfg: DatabaseConfig) -> None:
        """Every valid configuration survives being written as a URL and read back."""
        assert DatabaseConfig.from_url(cfg.url, **_non_url_fields(cfg)) == cfg

    @given(_configs())
    @_PROPERTY
    def test_sqlalchemy_url_round_trip(self, cfg: DatabaseConfig) -> None:
        """Every valid configuration survives the SQLAlchemy URL object as well."""
        assert DatabaseConfig.from_url(cfg.sqlalchemy_url, **_non_url_fields(cfg)) == cfg

    @given(cfg=_configs(), password=_text(min_size=8, max_size=24))
    @_PROPERTY
    def test_password_is_never_shown(self, cfg: DatabaseConfig, password: str) -> None:
        """No repr, str, masked URL, dump or connection info shows the password, even encoded."""
        forms = _forms(password)
        baseline = cfg.model_copy(update={"password": SecretStr("x")})
        # A password that the rest of the configuration happens to spell is not a leak.
        assume(not any(form in view for form in forms for view in _public_views(baseline)))
        secret = cfg.model_copy(update={"password": SecretStr(password)})
        assert not any(form in view for form in forms for view in _public_views(secret))
        assert password in secret.url or quote(password, safe=" +") in secret.url

    @given(
        password=_text(min_size=5, max_size=20).map(lambda pw: "Zq9" + pw),
        rest=_text(max_size=30).filter(lambda rest: "Zq9" not in rest),
        overrides=st.dictionaries(
            st.sampled_from(["port", "pool_size", "pool_timeout", "host", "driver", "database"]),
            st.one_of(st.integers(-5, 70000), _text(max_size=8), st.floats()),
            max_size=3,
        ),
    )
    @_PROPERTY
    def test_errors_never_show_the_password(
        self, password: str, rest: str, overrides: dict[str, object]
    ) -> None:
        """Whatever is wrong with a URL or its overrides, the error never shows its password."""
        encoded = f"postgresql://app:{quote(password, safe='')}@{rest}"
        raw = f"postgres://app:{password}@{rest}"
        for url in (encoded, raw):
            message = _error_text(url, **overrides)
            assert "Zq9" not in message
            assert password not in message

    @given(st.one_of(st.text(max_size=60), _text(max_size=60).map(lambda r: "postgresql://" + r)))
    @_PROPERTY
    def test_any_text_gives_a_config_or_a_configuration_error(self, text: str) -> None:
        """Whatever the text, from_url returns a configuration or raises ConfigurationError."""
        with contextlib.suppress(ConfigurationError):
            assert isinstance(DatabaseConfig.from_url(text), DatabaseConfig)

    @given(scheme=st.sampled_from(["postgresql+", "postgres+"]), driver=_text(max_size=20))
    @_PROPERTY
    def test_any_driver_name_gives_a_config_or_a_configuration_error(
        self, scheme: str, driver: str
    ) -> None:
        """Whatever driver a URL names, the result is a config or a ConfigurationError."""
        with contextlib.suppress(ConfigurationError):
            cfg = DatabaseConfig.from_url(f"{scheme}{driver}://app@db/app")
            assert cfg.driver in installed_async_drivers()
