"""Tests for EnvironmentSettings, load_settings(), get_settings() and the error report."""

from __future__ import annotations

import logging
import re
import traceback
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, assert_type
from urllib.parse import quote, quote_plus

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from settings_support import VALID

from agentifui_config import (
    ConfigurationError,
    DatabaseConfig,
    Environment,
    EnvironmentSettings,
    Finding,
    Severity,
    get_settings,
    load_settings,
)
from agentifui_config.settings import LOG_LEVELS, replacement_lines, variable_names

# Each test starts with none of our variables (nor look-alikes) set and nothing cached.
pytestmark = pytest.mark.usefixtures("clean_env")

_PRODUCTION: Final[Mapping[str, str]] = {**VALID, "ENVIRONMENT": "production"}

# A line of the report: `VARIABLE: what is wrong - how to fix it`.
_LINE: Final = re.compile(r"^(?P<variable>[A-Z][A-Z0-9_]*): (?P<message>.+?) - (?P<remedy>.+)$")

_LOGGER: Final = "agentifui_config"
_DEPRECATED: Final = "^DATABASE_URL is deprecated"

# What an environment variable can hold: any character but NUL (and lone surrogates).
_CHARACTERS: Final = st.characters(codec="utf-8", exclude_characters="\x00")

_ENV_TEXT: Final = st.text(_CHARACTERS, max_size=40)


def _setenv(monkeypatch: pytest.MonkeyPatch, values: Mapping[str, str | None]) -> None:
    """Set each variable, or unset it where the value is ``None``."""
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def _error(**overrides: Any) -> ConfigurationError:
    """The ConfigurationError load_settings() raises (the test fails if it raises none)."""
    with pytest.raises(ConfigurationError) as info:
        load_settings(**overrides)
    return info.value


def _lines(error: ConfigurationError) -> list[str]:
    """The finding lines of a report, header and indentation removed."""
    lines = str(error).splitlines()
    return [line.strip() for line in lines[1:]] if len(lines) > 1 else lines


def _warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == _LOGGER and r.levelno == logging.WARNING
    ]


class TestEnvironment:
    def test_default_is_development(self) -> None:
        """Without ENVIRONMENT the service runs in development."""
        assert load_settings().environment is Environment.DEVELOPMENT

    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("development", Environment.DEVELOPMENT),
            ("Development", Environment.DEVELOPMENT),
            ("staging", Environment.STAGING),
            ("STAGING", Environment.STAGING),
            ("production", Environment.PRODUCTION),
            (" Production ", Environment.PRODUCTION),
            ("dev", Environment.DEVELOPMENT),
            ("DEV", Environment.DEVELOPMENT),
            ("stage", Environment.STAGING),
            ("Stage", Environment.STAGING),
            ("prod", Environment.PRODUCTION),
            ("PROD", Environment.PRODUCTION),
        ],
    )
    def test_values_and_aliases_in_any_case(
        self, monkeypatch: pytest.MonkeyPatch, given: str, expected: Environment
    ) -> None:
        """The three environments and the aliases dev, stage, prod are read in any case."""
        _setenv(monkeypatch, {**VALID, "ENVIRONMENT": given})
        assert load_settings().environment is expected

    def test_unknown_value_lists_the_allowed_ones(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Any other value is refused with the accepted values listed."""
        monkeypatch.setenv("ENVIRONMENT", "qa")
        assert (
            "ENVIRONMENT: unknown environment 'qa' - use one of: development, staging, "
            "production, dev, stage, prod"
        ) in _lines(_error())

    def test_argument_accepts_the_enum(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An Environment member given as argument wins over ENVIRONMENT."""
        _setenv(monkeypatch, {**VALID, "ENVIRONMENT": "production"})
        settings = load_settings(environment=Environment.STAGING)
        assert settings.environment is Environment.STAGING


class TestDatabase:
    def test_defaults_without_db_variables(self) -> None:
        """Without DB_* variables the database is the development default."""
        assert load_settings().database == DatabaseConfig()

    def test_reads_db_variables_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each DB_* variable fills its part of settings.database."""
        _setenv(
            monkeypatch,
            {
                "DB_HOST": "db.example.com",
                "DB_PORT": "6543",
                "DB_USERNAME": "svc",
                "DB_PASSWORD": "p@ss/w:rd%",
                "DB_DATABASE": "orders",
                "DB_POOL_SIZE": "7",
                "DB_MAX_OVERFLOW": "3",
                "DB_POOL_TIMEOUT": "2.5",
                "DB_ECHO_SQL": "yes",
                "DB_SSL_MODE": "require",
                "DB_APPLICATION_NAME": "orders-api",
            },
        )
        database = load_settings().database
        assert (database.host, database.port, database.username) == ("db.example.com", 6543, "svc")
        assert database.password.get_secret_value() == "p@ss/w:rd%"
        assert (database.database, database.pool_size, database.max_overflow) == ("orders", 7, 3)
        assert (database.pool_timeout, database.echo_sql) == (2.5, True)
        assert (database.ssl_mode, database.application_name) == ("require", "orders-api")

    def test_db_options_is_read_as_json(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """DB_OPTIONS holds a JSON object of further driver options."""
        monkeypatch.setenv("DB_OPTIONS", '{"sslrootcert": "/etc/ca.pem"}')
        assert load_settings().database.options == {"sslrootcert": "/etc/ca.pem"}

    def test_db_options_that_is_not_an_object_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A DB_OPTIONS that is not a JSON object is a finding about DB_OPTIONS."""
        monkeypatch.setenv("DB_OPTIONS", "sslrootcert=/etc/ca.pem")
        assert _error().variables[0] == "DB_OPTIONS"

    def test_db_options_value_is_not_shown(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A malformed DB_OPTIONS is refused without its text: an option may be a secret."""
        monkeypatch.setenv("DB_OPTIONS", '{"sslpassword": "Hunter2-pw"')
        error = _error()
        assert error.variables[0] == "DB_OPTIONS"
        assert "Hunter2" not in str(error)

    def test_stray_db_and_database_variables_are_harmless(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Variables named DB and DATABASE neither break loading nor change the database."""
        monkeypatch.setenv("DB", "something-else")
        monkeypatch.setenv("DATABASE", '{"host": "elsewhere"}')
        assert load_settings().database == DatabaseConfig()
        logged = _warnings_logged(caplog)
        assert not any(m.startswith("DB:") for m in logged)
        assert (
            "DATABASE: is not a variable agentifui-config reads - did you mean DB_DATABASE? "
            "(warning)" in logged
        )

    def test_stray_database_variable_is_harmless_in_production(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A stray DATABASE does not refuse an otherwise valid production configuration."""
        _setenv(monkeypatch, {**_PRODUCTION, "DATABASE": "mydb"})
        assert load_settings().database.database == "app"

    @pytest.mark.parametrize(
        ("variable", "value", "line"),
        [
            ("DB_PORT", "abc", "DB_PORT: expected a whole number, got 'abc'"),
            ("DB_PORT", "70000", "DB_PORT: must be at most 65535"),
            ("DB_POOL_SIZE", "-1", "DB_POOL_SIZE: must be at least 1"),
            ("DB_ECHO_SQL", "maybe", "DB_ECHO_SQL: expected a boolean"),
        ],
    )
    def test_field_errors_name_the_db_variable(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, line: str
    ) -> None:
        """A bad DB_* value is reported under its variable, not a pydantic field path."""
        monkeypatch.setenv(variable, value)
        error = _error()
        assert error.errors[0].variable == variable
        assert str(error.errors[0]).startswith(line)
        assert "database." not in str(error)

    def test_database_argument_wins_over_db_variables(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A DatabaseConfig given as argument is used as a whole."""
        monkeypatch.setenv("DB_PORT", "6000")
        config = DatabaseConfig(host="arg.example.com")
        assert load_settings(database=config).database == config


class TestCors:
    def test_defaults(self) -> None:
        """CORS defaults to the local front end, credentials, and any method and header."""
        settings = load_settings()
        assert settings.cors_origins == ["http://localhost:3000"]
        assert settings.cors_allow_credentials is True
        assert settings.cors_allow_methods == ["*"]
        assert settings.cors_allow_headers == ["*"]

    @pytest.mark.parametrize(
        "given",
        [
            "https://a.example.com,http://localhost:8080",
            " https://a.example.com , http://localhost:8080 ,",
            '["https://a.example.com", "http://localhost:8080"]',
            "https://a.example.com/,http://localhost:8080/",
        ],
    )
    def test_origins_comma_separated_or_json(
        self, monkeypatch: pytest.MonkeyPatch, given: str
    ) -> None:
        """CORS_ORIGINS is read from CSV or JSON, items stripped, trailing / removed."""
        monkeypatch.setenv("CORS_ORIGINS", given)
        assert load_settings().cors_origins == ["https://a.example.com", "http://localhost:8080"]

    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("HTTPS://App.Example.com:8443/", "https://app.example.com:8443"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("http://[::1]", "http://[::1]"),
            ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
        ],
    )
    def test_origins_are_normalised(
        self, monkeypatch: pytest.MonkeyPatch, given: str, expected: str
    ) -> None:
        """An origin is kept as scheme://host[:port], IPv6 literals with their brackets."""
        _setenv(monkeypatch, {"CORS_ORIGINS": given})
        assert load_settings().cors_origins == [expected]

    @pytest.mark.parametrize(
        "given",
        [
            "ftp://files.example.com",
            "app.example.com",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "https://app.example.com#top",
            "https://user:pw@app.example.com",
            "https://",
            "https://[::1",
            "https://app.example.com:99999",
            "https://app.example.com:port",
        ],
    )
    def test_bad_origin_is_refused(self, monkeypatch: pytest.MonkeyPatch, given: str) -> None:
        """Anything but '*' or scheme://host[:port] over http(s) is refused with the rule."""
        monkeypatch.setenv("CORS_ORIGINS", f"https://ok.example.com,{given}")
        assert (
            f"CORS_ORIGINS: {given!r} is not an origin - give '*' or scheme://host[:port] "
            "with http or https and no path"
        ) in _lines(_error())

    def test_origins_json_with_non_strings_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A JSON list of something other than strings is a CORS_ORIGINS finding."""
        monkeypatch.setenv("CORS_ORIGINS", "[1, 2]")
        assert _error().errors[0].variable == "CORS_ORIGINS"

    def test_wildcard_origin_without_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """'*' alone is kept as the wildcard."""
        _setenv(monkeypatch, {"CORS_ORIGINS": "*", "CORS_ALLOW_CREDENTIALS": "false"})
        settings = load_settings()
        assert (settings.cors_origins, settings.cors_allow_credentials) == (["*"], False)

    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("get, post,Options", ["GET", "POST", "OPTIONS"]),
            ('["delete", "PATCH"]', ["DELETE", "PATCH"]),
            ("*", ["*"]),
        ],
    )
    def test_methods(
        self, monkeypatch: pytest.MonkeyPatch, given: str, expected: list[str]
    ) -> None:
        """CORS_ALLOW_METHODS takes HTTP methods in any case (CSV or JSON) or '*'."""
        monkeypatch.setenv("CORS_ALLOW_METHODS", given)
        assert load_settings().cors_allow_methods == expected

    def test_unknown_method_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A word that is not an HTTP method is refused with the accepted methods."""
        monkeypatch.setenv("CORS_ALLOW_METHODS", "GET,FETCH")
        assert (
            "CORS_ALLOW_METHODS: 'FETCH' is not an HTTP method - use '*' or some of CONNECT, "
            "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE"
        ) in _lines(_error())

    @pytest.mark.parametrize(
        "given", ["X-Request-Id, Authorization", '["X-Request-Id","Authorization"]']
    )
    def test_headers(self, monkeypatch: pytest.MonkeyPatch, given: str) -> None:
        """CORS_ALLOW_HEADERS is a CSV or JSON list of header names."""
        monkeypatch.setenv("CORS_ALLOW_HEADERS", given)
        assert load_settings().cors_allow_headers == ["X-Request-Id", "Authorization"]

    @pytest.mark.parametrize(("given", "expected"), [("false", False), ("0", False), ("On", True)])
    def test_credentials(self, monkeypatch: pytest.MonkeyPatch, given: str, expected: bool) -> None:
        """CORS_ALLOW_CREDENTIALS reads the usual boolean words."""
        monkeypatch.setenv("CORS_ALLOW_CREDENTIALS", given)
        assert load_settings().cors_allow_credentials is expected

    def test_bad_credentials_value_is_shown(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A non-boolean CORS_ALLOW_CREDENTIALS is refused with the value shown."""
        monkeypatch.setenv("CORS_ALLOW_CREDENTIALS", "maybe")
        assert str(_error().errors[0]).startswith(
            "CORS_ALLOW_CREDENTIALS: expected a boolean (true/false, 1/0, yes/no, on/off), "
            "got 'maybe'"
        )


class TestSecretKey:
    def test_is_a_secret_str_hidden_from_repr(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SECRET_KEY is held as a SecretStr and never shown by repr() or str()."""
        monkeypatch.setenv("SECRET_KEY", VALID["SECRET_KEY"])
        settings = load_settings()
        assert isinstance(settings.secret_key, SecretStr)
        assert settings.secret_key.get_secret_value() == VALID["SECRET_KEY"]
        assert VALID["SECRET_KEY"] not in repr(settings)
        assert VALID["SECRET_KEY"] not in str(settings)
        assert settings.secret_key_generated is False

    @pytest.mark.parametrize("value", ["", "''"])
    def test_empty_is_unset(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
    ) -> None:
        """An empty SECRET_KEY (environment or .env) counts as unset: development generates one."""
        path = tmp_path / ".env"
        path.write_text(f"SECRET_KEY={value}\n", encoding="utf-8")
        with_env_file = load_settings(env_file=path)
        monkeypatch.setenv("SECRET_KEY", "")
        for settings in (load_settings(), with_env_file):
            assert settings.secret_key is not None
            assert len(settings.secret_key.get_secret_value()) >= 32
            assert settings.secret_key_generated is True


class TestLogLevel:
    def test_default_is_info(self) -> None:
        """LOG_LEVEL defaults to INFO."""
        assert load_settings().log_level == "INFO"

    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("debug", "DEBUG"),
            (" Warning ", "WARNING"),
            ("warn", "WARNING"),
            ("CRITICAL", "CRITICAL"),
        ],
    )
    def test_any_case_is_normalised(
        self, monkeypatch: pytest.MonkeyPatch, given: str, expected: str
    ) -> None:
        """LOG_LEVEL is read in any case and stored upper-case."""
        monkeypatch.setenv("LOG_LEVEL", given)
        assert load_settings().log_level == expected

    def test_unknown_level_lists_the_levels(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An unknown level is refused with the accepted levels listed."""
        monkeypatch.setenv("LOG_LEVEL", "verbose")
        assert (
            f"LOG_LEVEL: unknown level 'verbose' - use one of {', '.join(LOG_LEVELS)} (any case)"
            in _lines(_error())
        )


class TestFeatureFlags:
    @pytest.mark.parametrize(
        "given",
        ["beta, dark_mode=off,new-ui=YES", '{"beta": true, "dark_mode": false, "new-ui": "yes"}'],
    )
    def test_forms(self, monkeypatch: pytest.MonkeyPatch, given: str) -> None:
        """FEATURE_FLAGS takes name[=value] pairs or a JSON object."""
        monkeypatch.setenv("FEATURE_FLAGS", given)
        settings = load_settings()
        assert settings.feature_flags == {"beta": True, "dark_mode": False, "new-ui": True}
        assert settings.is_enabled("beta") is True
        assert settings.is_enabled("dark_mode") is False
        assert settings.is_enabled("unknown") is False

    def test_default_is_empty(self) -> None:
        """Without FEATURE_FLAGS no flag is on."""
        assert load_settings().feature_flags == {}

    def test_bad_flag_value_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A flag value that is not a boolean is a FEATURE_FLAGS finding naming the flag."""
        monkeypatch.setenv("FEATURE_FLAGS", "beta=sometimes")
        assert _lines(_error())[0].startswith(
            "FEATURE_FLAGS: flag 'beta' has value 'sometimes', which is not a boolean"
        )


class TestDebug:
    def test_default_is_false(self) -> None:
        """DEBUG defaults to false."""
        assert load_settings().debug is False

    def test_reads_true(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """DEBUG=true turns debug on (outside production)."""
        monkeypatch.setenv("DEBUG", "TRUE")
        assert load_settings().debug is True


_LEGACY_URL: Final = "postgresql://legacy:S3cr%40t-pw@legacy.example.com:6432/legacydb"


class TestLegacyDatabaseUrl:
    def test_is_parsed_into_the_database_parts(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """DATABASE_URL fills the database parts, the password percent-decoded."""
        monkeypatch.setenv("DATABASE_URL", _LEGACY_URL)
        with pytest.warns(DeprecationWarning, match="DATABASE_URL is deprecated"):
            database = load_settings().database
        assert database.connection_info == {
            "host": "legacy.example.com",
            "port": 6432,
            "database": "legacydb",
            "driver": "postgresql+asyncpg",
            "username": "legacy",
        }
        assert database.password.get_secret_value() == "S3cr@t-pw"

    def test_explicit_db_variables_win_over_its_parts(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A DB_* variable set alongside DATABASE_URL replaces that part only."""
        _setenv(
            monkeypatch,
            {"DATABASE_URL": _LEGACY_URL, "DB_HOST": "new.example.com", "DB_PASSWORD": "newpw"},
        )
        with pytest.warns(DeprecationWarning, match=_DEPRECATED):
            database = load_settings().database
        assert (database.host, database.port, database.database) == (
            "new.example.com",
            6432,
            "legacydb",
        )
        assert database.password.get_secret_value() == "newpw"

    def test_explicit_database_argument_wins_over_its_parts(self) -> None:
        """The fields set on a DatabaseConfig argument win; DATABASE_URL fills the rest."""
        explicit = DatabaseConfig(host="arg.example.com", pool_size=2)
        with pytest.warns(DeprecationWarning, match=_DEPRECATED):
            database = load_settings(database=explicit, database_url=_LEGACY_URL).database
        assert (database.host, database.pool_size) == ("arg.example.com", 2)
        assert (database.port, database.username) == (6432, "legacy")

    def test_warning_and_log_spell_out_the_replacement(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The DeprecationWarning and the log both list the DB_* lines, password masked."""
        monkeypatch.setenv("DATABASE_URL", _LEGACY_URL)
        with pytest.warns(DeprecationWarning, match=_DEPRECATED) as record:
            load_settings()
        expected = [
            "DB_HOST=legacy.example.com",
            "DB_PORT=6432",
            "DB_USERNAME=legacy",
            "DB_DATABASE=legacydb",
            "DB_PASSWORD=**********",
        ]
        warned = str(record.pop(DeprecationWarning).message)
        logged = next(m for m in _warnings_logged(caplog) if "DATABASE_URL" in m)
        for text in (warned, logged):
            assert text.startswith("DATABASE_URL is deprecated; replace it with:\n")
            assert all(f"  {line}" in text.splitlines() for line in expected)
            assert "S3cr" not in text
            assert "%40t" not in text

    def test_warning_points_at_the_caller(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The DeprecationWarning is attributed to the code that called load_settings()."""
        monkeypatch.setenv("DATABASE_URL", _LEGACY_URL)
        with pytest.warns(DeprecationWarning, match=_DEPRECATED) as record:
            load_settings()
        assert record.pop(DeprecationWarning).filename == __file__

    def test_postgres_scheme_gets_the_default_driver(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A Heroku-style postgres:// URL uses the default async driver."""
        monkeypatch.setenv("DATABASE_URL", "postgres://u:p@h.example.com/d")
        with pytest.warns(DeprecationWarning, match=_DEPRECATED):
            assert load_settings().database.driver == "postgresql+asyncpg"

    @pytest.mark.parametrize(
        ("url", "fragment"),
        [
            ("mysql://u:Hunter2-pw@h/d", "scheme 'mysql' is not PostgreSQL"),
            ("postgresql://u:Hunter2@pw@h/d", "contains an unencoded '@'"),
            ("not a url Hunter2-pw", "is not a database URL"),
            ("postgresql://u:Hunter2-pw@h:70000/d", "port 70000 is out of range"),
        ],
    )
    def test_bad_url_is_refused_without_the_password(
        self, monkeypatch: pytest.MonkeyPatch, url: str, fragment: str
    ) -> None:
        """A bad DATABASE_URL is a DATABASE_URL finding that does not repeat the URL."""
        monkeypatch.setenv("DATABASE_URL", url)
        error = _error()
        assert error.errors[0].variable == "DATABASE_URL"
        assert fragment in str(error)
        assert "Hunter2" not in str(error)

    def test_empty_is_unset(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An empty DATABASE_URL (a compose file's ${DATABASE_URL}) is no URL, and no warning."""
        monkeypatch.setenv("DATABASE_URL", "")
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            assert load_settings().database == DatabaseConfig()

    def test_broken_url_is_not_reported_as_missing_parts(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A refused DATABASE_URL is the finding: its parts are not also reported as unset."""
        _setenv(
            monkeypatch,
            {
                "ENVIRONMENT": "production",
                "SECRET_KEY": VALID["SECRET_KEY"],
                "CORS_ORIGINS": VALID["CORS_ORIGINS"],
                "DATABASE_URL": "postgresql://app:Vq7-rJp2@db.internal:54x32/app",
            },
        )
        assert _error().variables == ("DATABASE_URL",)

    def test_database_url_argument(self) -> None:
        """database_url may be given as an argument, plain or as a SecretStr."""
        with pytest.warns(DeprecationWarning, match=_DEPRECATED):
            plain = load_settings(database_url=_LEGACY_URL).database
        with pytest.warns(DeprecationWarning, match=_DEPRECATED):
            secret = load_settings(database_url=SecretStr(_LEGACY_URL)).database
        assert plain == secret
        assert plain.host == "legacy.example.com"


class TestReplacementLines:
    def test_masks_the_password_unless_asked(self) -> None:
        """replacement_lines() masks the password; show_password=True reveals it."""
        masked = replacement_lines(_LEGACY_URL)
        shown = replacement_lines(_LEGACY_URL, show_password=True)
        assert "DB_PASSWORD=**********" in masked
        assert "DB_PASSWORD=S3cr@t-pw" in shown
        assert not any("S3cr" in line for line in masked)

    def test_options_become_json(self) -> None:
        """Extra query options become one DB_OPTIONS JSON line."""
        lines = replacement_lines("postgresql://u@h/d?sslmode=require&target_session_attrs=any")
        assert "DB_SSL_MODE=require" in lines
        assert 'DB_OPTIONS={"target_session_attrs": "any"}' in lines

    @pytest.mark.parametrize(
        "url",
        [
            _LEGACY_URL,
            "postgres://u@h.example.com/d?sslmode=verify-full&application_name=api&x=1",
            "postgresql+asyncpg://u:p%2Fq@/d?host=/cloudsql/p:r:i&connect_timeout=3",
        ],
    )
    def test_lines_rebuild_the_same_database(
        self, monkeypatch: pytest.MonkeyPatch, url: str
    ) -> None:
        """Setting the lines instead of DATABASE_URL gives the same database configuration."""
        with pytest.MonkeyPatch.context() as legacy:
            legacy.setenv("DATABASE_URL", url)
            with pytest.warns(DeprecationWarning, match=_DEPRECATED):
                expected = load_settings().database
        for line in replacement_lines(url, show_password=True):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name, value)
        assert load_settings().database == expected

    def test_masks_password_options_unless_asked(self) -> None:
        """A *password* query option (sslpassword) is masked in DB_OPTIONS like the password."""
        url = "postgresql://u@h/d?sslpassword=Hunter2-pw&sslkey=/k.pem"
        masked = replacement_lines(url)
        assert 'DB_OPTIONS={"sslpassword": "**********", "sslkey": "/k.pem"}' in masked
        assert 'DB_OPTIONS={"sslpassword": "Hunter2-pw", "sslkey": "/k.pem"}' in (
            replacement_lines(url, show_password=True)
        )

    def test_refuses_a_non_postgres_url(self) -> None:
        """replacement_lines() raises a ConfigurationError for a URL it cannot translate."""
        with pytest.raises(ConfigurationError, match=r"^DATABASE_URL: scheme 'sqlite'"):
            replacement_lines("sqlite:///x.db")


class TestLoadSettings:
    def test_returns_a_fresh_instance_each_call(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """load_settings() reads the environment again on every call."""
        first = load_settings()
        monkeypatch.setenv("LOG_LEVEL", "ERROR")
        second = load_settings()
        assert first is not second
        assert (first.log_level, second.log_level) == ("INFO", "ERROR")

    def test_arguments_win(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Keyword arguments override the environment."""
        monkeypatch.setenv("LOG_LEVEL", "ERROR")
        assert load_settings(log_level="debug").log_level == "DEBUG"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            (field, value)
            for field in ("cors_origins", "cors_allow_methods", "cors_allow_headers")
            for value in (1, 2.5)
        ]
        + [("feature_flags", value) for value in (1, 2.5, ["beta"])],
    )
    def test_argument_of_a_wrong_type_is_a_finding(self, field: str, value: object) -> None:
        """A list or flags argument of the wrong type is a ConfigurationError, not a TypeError."""
        assert _error(**{field: value}).variables[0] == field.upper()

    def test_settings_are_frozen(self) -> None:
        """The settings cannot be changed after construction."""
        settings = load_settings()
        with pytest.raises(ValidationError):
            settings.debug = True  # type: ignore[misc]

    def test_signature(self) -> None:
        """load_settings() and get_settings() are typed to return EnvironmentSettings."""
        assert_type(load_settings(), EnvironmentSettings)
        assert_type(get_settings(), EnvironmentSettings)
        assert_type(variable_names(), tuple[str, ...])


class TestGetSettings:
    def test_is_cached(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """get_settings() returns the same instance until its cache is cleared."""
        first = get_settings()
        monkeypatch.setenv("LOG_LEVEL", "ERROR")
        assert get_settings() is first
        assert get_settings().log_level == "INFO"

    def test_cache_clear_reloads(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """get_settings.cache_clear() makes the next call read the environment again."""
        first = get_settings()
        monkeypatch.setenv("LOG_LEVEL", "ERROR")
        get_settings.cache_clear()
        second = get_settings()
        assert second is not first
        assert second.log_level == "ERROR"

    def test_a_refused_configuration_is_not_cached(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """After a ConfigurationError, fixing the environment is enough for the next call."""
        monkeypatch.setenv("DB_PORT", "abc")
        with pytest.raises(ConfigurationError):
            get_settings()
        monkeypatch.setenv("DB_PORT", "5433")
        assert get_settings().database.port == 5433


class TestVariableNames:
    def test_includes_the_documented_contract(self) -> None:
        """Every variable DESIGN.md promises operators is among variable_names()."""
        contract = {
            "DB_HOST", "DB_PORT", "DB_USERNAME", "DB_PASSWORD", "DB_DATABASE", "DB_DRIVER",
            "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_POOL_TIMEOUT", "DB_POOL_RECYCLE",
            "DB_ECHO_SQL", "DATABASE_URL", "ENVIRONMENT", "CORS_ORIGINS",
            "CORS_ALLOW_CREDENTIALS", "CORS_ALLOW_METHODS", "CORS_ALLOW_HEADERS",
            "SECRET_KEY", "LOG_LEVEL", "FEATURE_FLAGS",
            "DB_PASSWORD_FILE", "SECRET_KEY_FILE", "DATABASE_URL_FILE",
        }  # fmt: skip
        names = variable_names()
        assert contract <= set(names)
        assert len(names) == len(set(names))
        assert "DATABASE" not in names

    @pytest.mark.parametrize("name", [n for n in variable_names() if not n.endswith("_FILE")])
    def test_each_name_is_read(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        """Setting any listed variable changes the settings or is reported under that name."""
        before = _observable(load_settings())
        monkeypatch.setenv(name, "[not-valid")
        after = _outcome()
        if isinstance(after, ConfigurationError):
            assert name in after.variables
        else:
            assert _observable(after) != before


def _outcome(**overrides: Any) -> EnvironmentSettings | ConfigurationError:
    """The settings load_settings() builds, or the ConfigurationError it raises."""
    try:
        return load_settings(**overrides)
    except ConfigurationError as exc:
        return exc


def _observable(settings: EnvironmentSettings) -> dict[str, object]:
    """The settings as data, a generated development key counted as no key."""
    data = settings.model_dump()
    data["secret_key"] = None if settings.secret_key_generated else data["secret_key"]
    return data


class TestErrorReport:
    def test_all_problems_of_a_production_configuration_at_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Field errors and policy problems come in one error, one line per finding."""
        _setenv(
            monkeypatch,
            {
                **_PRODUCTION,
                "DB_PORT": "abc",
                "DB_POOL_SIZE": "-3",
                "CORS_ALLOW_METHODS": "GET,FETCH",
                "SECRET_KEY": "too-short-key",
                "DEBUG": "true",
                "DB_ECHO_SQL": "on",
                "DB_HOST": None,
                "LOG_LEVEL": "debug",
            },
        )
        error = _error()
        assert set(error.variables) == {
            "DB_PORT",
            "DB_POOL_SIZE",
            "CORS_ALLOW_METHODS",
            "SECRET_KEY",
            "DEBUG",
            "DB_ECHO_SQL",
            "DB_HOST",
            "LOG_LEVEL",
        }
        lines = str(error).splitlines()
        assert lines[0] == "invalid configuration (7 errors, 1 warning):"
        assert len(lines) == 1 + len(error.findings)
        for line in lines[1:]:
            match = _LINE.match(line.strip())
            assert match is not None, line
            assert match["variable"] in variable_names()
        severities = [f.severity for f in error.findings]
        assert severities == sorted(severities, key=lambda s: s is not Severity.ERROR)

    def test_field_errors_in_several_variables_are_all_reported(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Several bad values are all listed, not just the first."""
        _setenv(monkeypatch, {"DB_PORT": "x", "LOG_LEVEL": "loud", "ENVIRONMENT": "qa"})
        assert {"DB_PORT", "LOG_LEVEL", "ENVIRONMENT"} <= set(_error().variables)

    def test_a_single_finding_is_one_line(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With one finding the message is just that finding's line."""
        _setenv(monkeypatch, {**_PRODUCTION, "DEBUG": "1"})
        assert str(_error()) == (
            "DEBUG: is true in production (tracebacks and internals reach clients) - "
            "set DEBUG=false"
        )

    def test_is_a_value_error_without_a_visible_cause(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The error is a ValueError raised from None, so no pydantic error is printed with it."""
        monkeypatch.setenv("DB_PORT", "abc")
        error = _error()
        assert isinstance(error, ValueError)
        assert error.__cause__ is None
        assert error.__suppress_context__ is True
        assert "input_value" not in "".join(traceback.format_exception(error))

    def test_findings_are_finding_objects(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The error carries its findings as data for programs to inspect."""
        monkeypatch.setenv("DB_PORT", "abc")
        finding = _error().findings[0]
        assert isinstance(finding, Finding)
        assert (finding.variable, finding.severity, finding.rule) == (
            "DB_PORT",
            Severity.ERROR,
            None,
        )


class TestTypoSuggestions:
    @pytest.mark.parametrize(
        ("typo", "meant"),
        [
            ("DB_HSOT", "DB_HOST"),
            ("CORS_ORIGIN", "CORS_ORIGINS"),
            ("SECERT_KEY", "SECRET_KEY"),
            ("db_hsot", "DB_HOST"),
            ("DB_USER", "DB_USERNAME"),
            ("DB_PASS", "DB_PASSWORD"),
            ("DB_NAME", "DB_DATABASE"),
        ],
    )
    def test_error_when_the_real_variable_is_missing(
        self, monkeypatch: pytest.MonkeyPatch, typo: str, meant: str
    ) -> None:
        """A near miss for an unset variable refuses the configuration with a suggestion."""
        monkeypatch.setenv(typo, "value")
        error = _error()
        assert (
            f"{typo.upper()}: is not a variable agentifui-config reads - did you mean {meant}?"
            in _lines(error)
        )
        assert error.errors[0].rule == "unknown-variable"

    @pytest.mark.parametrize(
        ("typo", "meant", "value"),
        [
            ("DB_HSOT", "DB_HOST", "db.internal"),
            ("CORS_ORIGIN", "CORS_ORIGINS", "https://a.example.com"),
            ("SECERT_KEY", "SECRET_KEY", "k7Yx2pQ9vL4mN8rT1wZ5bC3dF6gH0jS2aE4uI8oP"),
            ("DB_USER", "DB_USERNAME", "app"),
        ],
    )
    def test_warning_when_the_real_variable_is_set(
        self,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        typo: str,
        meant: str,
        value: str,
    ) -> None:
        """A near miss next to the real variable is only logged as a warning."""
        _setenv(monkeypatch, {typo: "value", meant: value})
        load_settings()
        assert (
            f"{typo}: is not a variable agentifui-config reads - did you mean {meant}? (warning)"
            in _warnings_logged(caplog)
        )

    @pytest.mark.parametrize(
        ("name", "meant"),
        [
            ("TEST_DATABASE_URL", "DATABASE_URL"),
            ("DATABASE_URI", "DATABASE_URL"),
            ("SECRET_KEY_BASE", "SECRET_KEY_FILE"),
            ("DB_PASSWORD_FILES", "DB_PASSWORD_FILE"),
        ],
    )
    def test_near_miss_of_an_optional_alternative_is_a_warning(
        self,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        name: str,
        meant: str,
    ) -> None:
        """Names close to DATABASE_URL or a *_FILE variable (set by other tools) only warn."""
        monkeypatch.setenv(name, "value")
        load_settings()
        assert (
            f"{name}: is not a variable agentifui-config reads - did you mean {meant}? (warning)"
            in _warnings_logged(caplog)
        )

    @pytest.mark.parametrize(
        "name",
        ["REDIS_PASSWORD", "JWT_SECRET_KEY", "API_SECRET_KEY", "APP_ENVIRONMENT", "APP_LOG_LEVEL"],
    )
    def test_variables_of_other_tools_do_not_refuse(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str
    ) -> None:
        """Another tool's variable that shares words with ours is a logged hint, not an error."""
        monkeypatch.setenv(name, "value")
        load_settings()
        assert any(m.startswith(f"{name}: ") for m in _warnings_logged(caplog))

    @pytest.mark.parametrize(
        ("typo", "variable"), [("SECERT_KEY", "SECRET_KEY"), ("DB_PASWORD", "DB_PASSWORD")]
    )
    def test_near_miss_of_a_variable_given_by_its_file_is_a_warning(
        self,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
        typo: str,
        variable: str,
    ) -> None:
        """A value given by <VAR>_FILE is not lost: a near miss of <VAR> only warns."""
        secret = tmp_path / "secret"
        secret.write_text(VALID["SECRET_KEY"], encoding="utf-8")
        _setenv(monkeypatch, {typo: "value", variable + "_FILE": str(secret)})
        load_settings()
        assert (
            f"{typo}: is not a variable agentifui-config reads - did you mean {variable}? (warning)"
            in _warnings_logged(caplog)
        )

    def test_near_miss_of_a_variable_given_as_argument_is_a_warning(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A value given as an argument is not lost: a near miss of its variable only warns."""
        monkeypatch.setenv("LOGLEVEL", "debug")
        load_settings(log_level="INFO")
        assert (
            "LOGLEVEL: is not a variable agentifui-config reads - did you mean LOG_LEVEL? (warning)"
            in _warnings_logged(caplog)
        )

    def test_suggestions_join_the_other_findings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A typo is reported in the same error as field and policy problems."""
        _setenv(monkeypatch, {**_PRODUCTION, "DB_HOST": None, "DB_HSOT": "db", "DB_PORT": "x"})
        assert {"DB_HSOT", "DB_HOST", "DB_PORT"} <= set(_error().variables)


@contextmanager
def _logged_messages() -> Iterator[list[str]]:
    """Collect what the library logs inside the block (hypothesis runs many examples per test)."""
    messages: list[str] = []

    class _Collector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage() + repr(record.__dict__))

    handler = _Collector()
    logger = logging.getLogger(_LOGGER)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


# A secret no fixed text of the library could contain by chance: guillemets around >= 6 chars.
_SECRETS: Final = st.text(_CHARACTERS, min_size=6, max_size=40).map(
    lambda text: f"\u00ab{text}\u00bb"
)


def _leaked(secret: str, texts: list[str]) -> list[str]:
    """The texts that show *secret* as such, escaped by repr(), or percent-encoded."""
    forms = {
        secret,
        repr(secret)[1:-1],
        repr(secret.encode())[2:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    return [text for text in texts if any(form in text for form in forms)]


def _error_texts(error: ConfigurationError) -> list[str]:
    return [
        str(error),
        repr(error),
        repr(error.findings),
        "".join(traceback.format_exception(error)),
    ]


def _settings_texts(settings: EnvironmentSettings) -> list[str]:
    return [
        repr(settings),
        str(settings),
        repr(settings.database),
        str(settings.database),
        repr(settings.database.connection_info),
    ]


def _outcome_texts(**overrides: Any) -> list[str]:
    """All that load_settings() shows (error, repr, warnings, logs) for the environment."""
    with _logged_messages() as logged, warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            texts = _settings_texts(load_settings(**overrides))
        except ConfigurationError as exc:
            texts = _error_texts(exc)
    return [*texts, *logged, *(str(w.message) for w in warned)]


def _chained(error: BaseException) -> list[BaseException]:
    """Every exception chained to *error*, as __cause__ or __context__, however deep."""
    found: list[BaseException] = []
    link = error.__cause__ or error.__context__
    while link is not None and link not in found:
        found.append(link)
        link = link.__cause__ or link.__context__
    return found


_SECRET_EXAMPLES: Final = hypothesis.settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Ways to break a DATABASE_URL around a password, or not ('ok').
_URL_SHAPES: Final = {
    "ok": "postgresql://app:{pw}@db.internal:5432/app",
    "scheme": "mysql://app:{pw}@db.internal/app",
    "port": "postgresql://app:{pw}@db.internal:99999/app",
    "port-text": "postgresql://app:{pw}@db.internal:abc/app",
    "host": "postgresql://app:{pw}@bad_host!/app",
    "timeout": "postgresql://app:{pw}@db.internal/app?connect_timeout=-1",
    "sslmode": "postgresql://app:{pw}@db.internal/app?sslmode=bogus",
    "duplicate": "postgresql://app:{pw}@db.internal/app?a=1&a=2",
}


class TestSecretsNeverShown:
    @_SECRET_EXAMPLES
    @given(secret=_SECRETS)
    def test_secret_key(self, secret: str) -> None:
        """A SECRET_KEY (short or not, in a refused configuration) never shows."""
        with pytest.MonkeyPatch.context() as mp:
            _setenv(mp, {**_PRODUCTION, "SECRET_KEY": secret, "DB_PORT": "abc"})
            with pytest.raises(ConfigurationError) as info:
                load_settings()
            texts = _error_texts(info.value)
        assert _leaked(secret, texts) == []

    @_SECRET_EXAMPLES
    @given(secret=_SECRETS, shape=st.sampled_from(sorted(_URL_SHAPES)), encode=st.booleans())
    def test_database_url_password(self, secret: str, shape: str, encode: bool) -> None:
        """A DATABASE_URL's password never shows, whether the URL is accepted or refused."""
        password = quote(secret, safe="") if encode else secret
        url = _URL_SHAPES[shape].format(pw=password)
        with pytest.MonkeyPatch.context() as mp:
            _setenv(mp, {**_PRODUCTION, "DATABASE_URL": url})
            texts = _outcome_texts()
        assert _leaked(secret, texts) == []
        assert _leaked(url, texts) == []

    @_SECRET_EXAMPLES
    @given(secret=_SECRETS)
    def test_db_password_variable(self, secret: str) -> None:
        """A DB_PASSWORD in a refused production configuration never shows."""
        with pytest.MonkeyPatch.context() as mp:
            _setenv(mp, {**_PRODUCTION, "DB_PASSWORD": secret, "DB_PORT": "abc"})
            with pytest.raises(ConfigurationError) as info:
                load_settings()
            texts = _error_texts(info.value)
        assert _leaked(secret, texts) == []

    @_SECRET_EXAMPLES
    @given(
        secret=_SECRETS,
        wrap=st.sampled_from(["list", "dict", "tuple", "bytes", "set"]),
    )
    def test_db_password_of_a_weird_type(self, secret: str, wrap: str) -> None:
        """A password argument of the wrong type is refused without showing its content."""
        weird: object = {
            "list": [secret],
            "dict": {"value": secret},
            "tuple": (secret, secret),
            "bytes": secret.encode(),
            "set": {secret},
        }[wrap]
        with pytest.MonkeyPatch.context() as mp:
            _setenv(mp, {**_PRODUCTION, "DB_PORT": "abc"})
            texts = _outcome_texts(database={"password": weird})
        assert _leaked(secret, texts) == []

    @_SECRET_EXAMPLES
    @given(
        number=st.integers(min_value=10**9, max_value=10**18) | st.floats(min_value=1e9),
        field=st.sampled_from(["secret_key", "password"]),
    )
    def test_numeric_secret_argument(self, number: float, field: str) -> None:
        """A SECRET_KEY or password passed as a number is refused without showing it."""
        overrides: dict[str, Any] = (
            {"secret_key": number} if field == "secret_key" else {"database": {"password": number}}
        )
        texts = _outcome_texts(**overrides)
        variable = "SECRET_KEY" if field == "secret_key" else "DB_PASSWORD"
        assert f"{variable}: expected text" in texts[0]
        assert [text for text in texts if str(number) in text or repr(number) in text] == []

    @pytest.mark.parametrize("shape", ["port-text", "host", "sslmode"])
    def test_chained_exceptions_hold_no_secret(
        self, monkeypatch: pytest.MonkeyPatch, shape: str
    ) -> None:
        """Nothing is chained to the error (__context__ too: error trackers may walk it)."""
        url = _URL_SHAPES[shape].format(pw="Hunter2-pw")
        _setenv(monkeypatch, {**_PRODUCTION, "DATABASE_URL": url, "DB_PORT": "abc"})
        assert _chained(_error()) == []

    @_SECRET_EXAMPLES
    @given(secret=_SECRETS, other=_SECRETS)
    def test_accepted_configuration(self, secret: str, other: str) -> None:
        """Accepted settings show neither SECRET_KEY nor DB_PASSWORD in repr(), str() or logs."""
        with pytest.MonkeyPatch.context() as mp:
            _setenv(mp, {**VALID, "SECRET_KEY": secret * 5, "DB_PASSWORD": other})
            with _logged_messages() as logged:
                settings = load_settings()
        assert settings.secret_key is not None
        assert settings.secret_key.get_secret_value() == secret * 5
        assert settings.database.password.get_secret_value() == other
        texts = [*_settings_texts(settings), *logged]
        assert _leaked(secret, texts) == []
        assert _leaked(other, texts) == []


_FILE_VARIABLES: Final = tuple(n for n in variable_names() if n.endswith("_FILE"))


class TestArbitraryValues:
    @hypothesis.settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        values=st.dictionaries(st.sampled_from(variable_names()), _ENV_TEXT, min_size=1, max_size=3)
    )
    def test_any_text_gives_a_value_or_a_configuration_error(
        self, tmp_path: Path, values: dict[str, str]
    ) -> None:
        """Any text in any variable gives settings or a ConfigurationError, never another error."""
        absent = tmp_path / "absent"
        with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for name, text in values.items():
                missing_file = str(absent / (text.encode().hex()[:64] or "empty"))
                mp.setenv(name, missing_file if name in _FILE_VARIABLES else text)
            outcome = _outcome()
        if isinstance(outcome, ConfigurationError):
            assert outcome.findings
            for finding in outcome.findings:
                assert re.fullmatch(r"[A-Z][A-Z0-9_]*", finding.variable), finding
                assert len(str(finding).splitlines()) == 1, finding
        else:
            assert isinstance(outcome, EnvironmentSettings)


class TestKubernetesServiceLink:
    def test_db_port_service_link_is_explained(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A DB_PORT injected by a Kubernetes Service named 'db' gets an error that says so."""
        monkeypatch.setenv("DB_PORT", "tcp://10.0.0.11:5432")
        with pytest.raises(ConfigurationError) as refused:
            load_settings()
        (finding,) = [f for f in refused.value.findings if f.variable == "DB_PORT"]
        assert "Kubernetes service link" in finding.message
        assert "enableServiceLinks: false" in finding.remedy


class TestDatabaseArgument:
    def test_database_config_argument_is_used_whole(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A DatabaseConfig argument is not filled in by a DATABASE_URL in the environment."""
        monkeypatch.setenv("DATABASE_URL", "postgresql://ci:ci-password@ci-db:6543/ci")
        settings = load_settings(database=DatabaseConfig(host="db.internal"))
        assert settings.database == DatabaseConfig(host="db.internal")
        assert settings.database_url is None

    def test_pool_size_zero_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """DB_POOL_SIZE=0 would mean no limit to SQLAlchemy; it is refused."""
        monkeypatch.setenv("DB_POOL_SIZE", "0")
        with pytest.raises(ConfigurationError, match="DB_POOL_SIZE: must be at least 1"):
            load_settings()
