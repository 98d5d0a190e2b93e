"""Tests for a host application's own settings class: loading, caching, findings, .env file."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, assert_type

import pytest
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict
from settings_support import VALID

from agentifui_config import ConfigurationError, EnvironmentSettings, get_settings, load_settings

pytestmark = pytest.mark.usefixtures("clean_env")


class _Security(BaseModel):
    """A nested group, read from SECURITY__* variables."""

    password_bcrypt_rounds: int = Field(12, ge=4, description="bcrypt cost factor, 4-31.")
    jwt_secret: SecretStr = Field(SecretStr(""), description="Key that signs the JWTs.")


class _AppSettings(EnvironmentSettings):
    """A service's settings: the library's, plus a flat field and a nested group."""

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(env_nested_delimiter="__")

    allowed_hosts: str = Field("localhost", description="Comma-separated host names served.")
    security: _Security = Field(default_factory=_Security, description="Security settings.")


class TestLoading:
    def test_load_settings_builds_the_given_class(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """settings_class= builds the app's class, with its flat and nested variables read."""
        monkeypatch.setenv("ALLOWED_HOSTS", "api.example.com")
        monkeypatch.setenv("SECURITY__PASSWORD_BCRYPT_ROUNDS", "14")
        settings = load_settings(settings_class=_AppSettings)
        assert isinstance(settings, _AppSettings)
        assert settings.allowed_hosts == "api.example.com"
        assert settings.security.password_bcrypt_rounds == 14

    def test_classmethod_is_typed_for_the_class(self) -> None:
        """AppSettings.load() is typed as the app's class."""
        assert_type(_AppSettings.load(), _AppSettings)

    def test_get_settings_caches_one_instance_per_class(self) -> None:
        """get_settings(App) is cached apart from get_settings(), typed for the class."""
        app = get_settings(_AppSettings)
        assert_type(app, _AppSettings)
        assert get_settings(_AppSettings) is app
        assert type(get_settings()) is EnvironmentSettings
        get_settings.cache_clear()
        assert get_settings(_AppSettings) is not app


class TestNestedFindings:
    def test_names_the_real_variable_with_the_description(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An error in a nested group names SECURITY__<FIELD>, the description as remedy."""
        monkeypatch.setenv("SECURITY__PASSWORD_BCRYPT_ROUNDS", "abc")
        with pytest.raises(ConfigurationError) as info:
            _AppSettings.load()
        (error,) = info.value.errors
        assert str(error) == (
            "SECURITY__PASSWORD_BCRYPT_ROUNDS: expected a whole number, got 'abc' - "
            "bcrypt cost factor, 4-31."
        )

    def test_secret_field_is_never_shown(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A host SecretStr field's value stays out of its finding."""
        monkeypatch.setenv("SECURITY__JWT_SECRET", "Jwt-secret-4c1e9f")
        monkeypatch.setenv("SECURITY__PASSWORD_BCRYPT_ROUNDS", "2")
        with pytest.raises(ConfigurationError) as info:
            _AppSettings.load()
        assert [f.variable for f in info.value.errors] == ["SECURITY__PASSWORD_BCRYPT_ROUNDS"]
        assert "Jwt-secret-4c1e9f" not in str(info.value)

    def test_typo_of_a_nested_variable_is_suggested(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A near miss of the app's nested variable gets its "did you mean"."""
        monkeypatch.setenv("SECURITY__PASSWORD_BCRYPT_ROUNDZ", "14")
        with pytest.raises(ConfigurationError, match="did you mean SECURITY__PASSWORD_BCRYPT"):
            _AppSettings.load()


class _FileSettings(EnvironmentSettings):
    """A class whose .env file is set in its model_config."""

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(env_file=".env")


class TestConfiguredEnvFile:
    def test_is_read_and_checked_for_misspellings(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The env_file of model_config is read, and DB_HSOT in it is refused, not ignored."""
        monkeypatch.chdir(tmp_path)
        (tmp_path / ".env").write_text("DB_HSOT=db.internal\nDB_PORT=6543\n", encoding="utf-8")
        with pytest.raises(ConfigurationError, match=r"DB_HSOT: .* did you mean DB_HOST"):
            _FileSettings.load()
        (tmp_path / ".env").write_text("DB_HOST=db.internal\n", encoding="utf-8")
        assert load_settings(settings_class=_FileSettings).database.host == "db.internal"


def test_production_without_cors_origins_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production with CORS_ORIGINS never set is an error naming it, not a silent localhost."""
    for name, value in VALID.items():
        if name != "CORS_ORIGINS":
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.variables == ("CORS_ORIGINS",)
    assert "is not set in production" in str(info.value)
