"""Tests for the settings fixtures of agentifui_config.testing.plugin: clean_env, make_settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import assert_type

import pytest
from plugin_support import InnerSuite

from agentifui_config import ConfigurationError, Environment, EnvironmentSettings, get_settings
from agentifui_config.testing.fixtures import SettingsFactory, hidden_variables

_DEVELOPER = {
    "DB_HOST": "dev-db.internal",
    "DB_PASSWORD": "developer-password",
    "DB_USER": "developer",
    "DATABASE_URL": "postgresql://developer:pw@legacy/app",
    "SECRET_KEY": "developer-secret-key-0123456789abcdef",
    "SECRET_KEY_FILE": "/nonexistent/secret",
    "CORS_ORIGINS": "https://dev.example",
    "CORS_ORIGIN": "https://typo.example",
    "ENVIRONMENT": "staging",
    "LOG_LEVEL": "DEBUG",
}


@pytest.fixture
def developer_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """A developer's configuration in the environment and a .env file in the working directory."""
    for name, value in _DEVELOPER.items():
        monkeypatch.setenv(name, value)
    (tmp_path / ".env").write_text("DB_HOST=from-dotenv\nSECRET_KEY=dotenv-secret\n")
    monkeypatch.chdir(tmp_path)
    return _DEVELOPER


class TestCleanEnv:
    def test_hides_the_developer_variables(
        self, developer_env: dict[str, str], clean_env: pytest.MonkeyPatch
    ) -> None:
        """Every configuration variable, its _FILE form and near misses are unset in the test."""
        assert not set(developer_env) & set(os.environ)

    def test_keeps_unrelated_variables(self, clean_env: pytest.MonkeyPatch) -> None:
        """Variables that are not configuration, such as PATH and the test URL, stay."""
        assert "PATH" in os.environ
        assert "AGENTIFUI_TEST_DATABASE_URL" not in hidden_variables()

    def test_returns_monkeypatch_to_set_variables(
        self, clean_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The fixture gives the test's monkeypatch, for the variables the test does want."""
        assert clean_env is monkeypatch
        clean_env.setenv("DB_HOST", "db.test")
        assert get_settings().database.host == "db.test"

    def test_settings_cache_is_cleared(self, clean_env: pytest.MonkeyPatch) -> None:
        """get_settings() starts the test empty, whatever an earlier test cached."""
        assert get_settings.cache_info().currsize == 0

    def test_hidden_variables_lists_near_misses(self) -> None:
        """A DB_ name or a near miss of ours is hidden; an unrelated name is not."""
        hidden = hidden_variables(["DB_NAME", "db_user", "CORS_ORIGIN", "HOME", "LOGLEVEL"])
        assert {"DB_NAME", "db_user", "CORS_ORIGIN", "LOGLEVEL"} <= hidden
        assert "HOME" not in hidden
        assert {"DATABASE_URL", "DB_PASSWORD_FILE", "SECRET_KEY_FILE", "DB_HOST_FILE"} <= hidden

    def test_hidden_variables_ignores_case(self) -> None:
        """One of our names in another case is hidden: the settings read it all the same."""
        hidden = hidden_variables(["secret_key", "Debug", "cors_origins", "database_url"])
        assert {"secret_key", "Debug", "cors_origins", "database_url"} <= hidden


class TestMakeSettings:
    def test_reads_only_the_overrides(
        self, developer_env: dict[str, str], make_settings: SettingsFactory
    ) -> None:
        """Neither the developer's environment nor the .env file reaches the settings."""
        settings = make_settings()
        assert settings.database.host == "localhost"
        assert settings.environment is Environment.DEVELOPMENT
        assert settings.database_url is None
        assert settings.cors_origins == ["http://localhost:3000"]

    def test_applies_overrides_and_validates(self, make_settings: SettingsFactory) -> None:
        """Overrides are validated and judged as load_settings() does."""
        production = {
            "environment": "production",
            "database": {"host": "db.prod", "username": "app", "password": "pw", "database": "app"},
            "cors_origins": ["https://app.example"],
        }
        settings = make_settings(**production, secret_key=secrets.token_urlsafe(48))
        assert_type(settings, EnvironmentSettings)
        assert settings.environment is Environment.PRODUCTION
        with pytest.raises(ConfigurationError, match="SECRET_KEY: is shorter than 32"):
            make_settings(**production, secret_key="short")

    def test_database_override(self, make_settings: SettingsFactory) -> None:
        """The database can be given as a mapping of DatabaseConfig fields."""
        settings = make_settings(database={"host": "db.test", "port": 6543})
        assert (settings.database.host, settings.database.port) == ("db.test", 6543)


_ISOLATION = """
import os

from agentifui_config import get_settings


def test_hidden(clean_env):
    assert "DB_HOST" not in os.environ and "SECRET_KEY" not in os.environ
    assert get_settings().database.host == "localhost"


def test_settings_factory(make_settings):
    assert make_settings(log_level="warn").log_level == "WARNING"
    assert make_settings().database.host == "localhost"


def test_restored_after_the_test():
    assert os.environ["DB_HOST"] == "dev-db.internal"
"""


_GENERATED_KEY = """
from agentifui_config import load_settings


def test_development_settings(clean_env):
    assert load_settings().secret_key_generated
"""


class TestInnerSuite:
    def test_generated_key_is_shown_not_an_error_in_a_strict_suite(
        self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A suite with filterwarnings = error passes and lists the generated-key warning."""
        suite = InnerSuite(pytester, monkeypatch, "postgresql://unused@127.0.0.1:1/postgres")
        suite.ini()
        suite.files(test_generated=_GENERATED_KEY)
        result = suite.run()
        result.assert_outcomes(passed=1, warnings=1)
        result.stdout.fnmatch_lines(["*GeneratedSecretKeyWarning: SECRET_KEY: is not set*"])

    @pytest.mark.parametrize(
        "narrowed",
        [
            "error::agentifui_config.GeneratedSecretKeyWarning",
            "error:SECRET_KEY:UserWarning",
            "error::UserWarning:agentifui_config",
        ],
        ids=["category", "message", "module"],
    )
    def test_a_suite_that_names_the_warning_decides(
        self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, narrowed: str
    ) -> None:
        """A suite whose filters pick out the warning, by category, message or module, decides."""
        suite = InnerSuite(pytester, monkeypatch, "postgresql://unused@127.0.0.1:1/postgres")
        suite.ini(f"    {narrowed}")
        suite.files(test_generated=_GENERATED_KEY)
        suite.run().assert_outcomes(failed=1)

    @pytest.mark.parametrize(
        "lines",
        [("ignore::UserWarning",), ("ignore::UserWarning", "error::UserWarning:other_package")],
        ids=["ignored", "then-an-error-for-another-module"],
    )
    def test_a_suite_that_ignores_user_warnings_sees_none(
        self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, lines: tuple[str, ...]
    ) -> None:
        """The plugin's filter does not bring back a warning the suite's own filters ignore."""
        suite = InnerSuite(pytester, monkeypatch, "postgresql://unused@127.0.0.1:1/postgres")
        suite.ini(*(f"    {line}" for line in lines))
        suite.files(test_generated=_GENERATED_KEY)
        result = suite.run()
        result.assert_outcomes(passed=1)
        result.stdout.no_fnmatch_line("*GeneratedSecretKeyWarning*")

    def test_isolation_in_a_host_suite(
        self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A host suite's tests see no developer configuration, and the next test gets it back."""
        suite = InnerSuite(pytester, monkeypatch, "postgresql://unused@127.0.0.1:1/postgres")
        for name, value in _DEVELOPER.items():
            monkeypatch.setenv(name, value)
        suite.ini()
        suite.files(test_isolation=_ISOLATION)
        suite.run().assert_outcomes(passed=3)
