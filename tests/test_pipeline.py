"""Tests for the settings pipeline: each source read once, every finding in one report."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Self

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from pydantic import Field, model_validator
from pydantic_settings import DotEnvSettingsSource
from settings_support import VALID

from agentifui_config import ConfigurationError, EnvironmentSettings, Severity, load_settings
from agentifui_config import sources as sources_module
from agentifui_config.settings import variable_names
from agentifui_config.sources import FILE_SUFFIX, Origin

pytestmark = pytest.mark.usefixtures("clean_env")

_JWT: Final = "jwt needs SECRET_KEY"


class _JwtSettings(EnvironmentSettings):
    """A host's settings with a validator of its own, as a service would write it."""

    jwt_enabled: bool = Field(False, description="Sign sessions as JWTs.")

    @model_validator(mode="after")
    def _jwt_needs_a_key(self) -> Self:
        if self.jwt_enabled and self.secret_key is None:
            raise ValueError(_JWT)
        return self


def _setenv(monkeypatch: pytest.MonkeyPatch, values: Mapping[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def _production_without_key(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    values = {**VALID, "ENVIRONMENT": "production", "JWT_ENABLED": "true", **extra}
    _setenv(monkeypatch, {k: v for k, v in values.items() if k != "SECRET_KEY"})


class TestHostValidator:
    def test_is_one_more_finding(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A host validator's error joins the policy findings and the typo hints."""
        _production_without_key(monkeypatch, DB_HSOT="db.internal")
        with pytest.raises(ConfigurationError) as info:
            _JwtSettings()
        lines = str(info.value).splitlines()
        assert f"  configuration: {_JWT}" in lines
        assert "SECRET_KEY" in info.value.variables
        assert "DB_HSOT" in info.value.variables

    def test_joins_field_errors(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With a field refused too, the validator still runs on the rest and is reported."""
        _production_without_key(monkeypatch, DB_PORT="abc")
        with pytest.raises(ConfigurationError) as info:
            _JwtSettings()
        assert {"DB_PORT", "configuration", "SECRET_KEY"} <= set(info.value.variables)
        assert f"configuration: {_JWT}" in str(info.value)

    def test_passes_when_satisfied(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The same class loads once the validator's condition holds."""
        _setenv(monkeypatch, {**VALID, "ENVIRONMENT": "production", "JWT_ENABLED": "true"})
        assert _JwtSettings().jwt_enabled is True


class _Counter:
    """Wraps a function and counts its calls."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.function(*args, **kwargs)


class TestReadOnce:
    @pytest.mark.parametrize("valid", [True, False])
    def test_secret_file_is_read_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, valid: bool
    ) -> None:
        """A secret file is read once per load, whether the configuration is valid or not."""
        path = tmp_path / "password"
        path.write_text("Pw-once-5b8c2d\n", encoding="utf-8")
        monkeypatch.setenv("DB_PASSWORD" + FILE_SUFFIX, str(path))
        counter = _Counter(sources_module.read_secret_file)
        monkeypatch.setattr(sources_module, "read_secret_file", counter)
        if valid:
            assert load_settings().database.password.get_secret_value() == "Pw-once-5b8c2d"
        else:
            with pytest.raises(ConfigurationError, match="DB_PORT: expected a whole number"):
                load_settings(database={"port": "abc"}, log_level="loud")
        assert counter.calls == 1

    def test_env_file_is_read_once(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The .env file is read once per load, the misspelling check included."""
        path = tmp_path / ".env"
        path.write_text("DB_PORT=abc\nDB_HSOT=db.internal\n", encoding="utf-8")
        counter = _Counter(DotEnvSettingsSource._read_env_files)

        def counted(source: DotEnvSettingsSource) -> Any:
            return counter(source)

        monkeypatch.setattr(DotEnvSettingsSource, "_read_env_files", counted)
        with pytest.raises(ConfigurationError) as info:
            load_settings(path)
        assert {"DB_PORT", "DB_HSOT"} <= set(info.value.variables)
        assert counter.calls == 1


class TestInspect:
    def test_broken_configuration_keeps_what_was_read(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """inspect() returns the findings, the settings with defaults, and every origin."""
        _setenv(monkeypatch, {"DB_PORT": "abc", "DB_HOST": "db.internal"})
        outcome = EnvironmentSettings.inspect(debug=True)
        assert [f.variable for f in outcome.errors] == ["DB_PORT"]
        assert outcome.refused == {"DB_PORT"}
        assert isinstance(outcome.settings, EnvironmentSettings)
        assert outcome.settings.database.host == "db.internal"
        assert outcome.settings.database.port == 5432
        assert outcome.origins["DB_HOST"] is Origin.ENVIRONMENT
        assert outcome.origins["DEBUG"] is Origin.ARGUMENT

    def test_refused_database_url_leaves_its_parts_unjudged(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A refused DATABASE_URL is the finding; the parts it would give are not blamed."""
        env = {k: v for k, v in VALID.items() if not k.startswith("DB_")}
        _setenv(monkeypatch, {**env, "ENVIRONMENT": "production", "DATABASE_URL": "mysql://x"})
        outcome = EnvironmentSettings.inspect()
        assert outcome.refused == {"DATABASE_URL"}
        assert [f.variable for f in outcome.errors] == ["DATABASE_URL"]


_OPTIONAL: Final = tuple(name for name in variable_names() if not name.endswith(FILE_SUFFIX))


class TestEmptyMeansUnset:
    @hypothesis.settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(names=st.sets(st.sampled_from(_OPTIONAL)))
    def test_any_empty_variables_load_as_the_defaults(
        self, monkeypatch: pytest.MonkeyPatch, names: set[str]
    ) -> None:
        """Any set of variables given empty loads in development exactly as none given."""
        with monkeypatch.context() as patch:
            for name in names:
                patch.setenv(name, "")
            loaded = load_settings().model_dump(exclude={"secret_key"})
        assert loaded == load_settings().model_dump(exclude={"secret_key"})

    def test_empty_lines_in_the_env_file(self, tmp_path: Path) -> None:
        """Empty lines in a .env file count as unset too (DB_SSL_MODE=, DB_STATEMENT_TIMEOUT=)."""
        path = tmp_path / ".env"
        path.write_text("DB_STATEMENT_TIMEOUT=\nDB_SSL_MODE=\nLOG_LEVEL=\n", encoding="utf-8")
        settings = load_settings(path)
        assert settings.database.ssl_mode is None
        assert settings.database.statement_timeout is None
        assert settings.log_level == "INFO"


def test_warnings_are_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A load with only warnings returns the settings and logs each warning once.

    The generated development key is the exception: it is a warning of the
    warnings module, shown once per process, and not logged.
    """
    monkeypatch.setenv("REDIS_PASSWORD", "x")
    with caplog.at_level("WARNING", logger="agentifui_config"):
        settings = load_settings()
    assert settings.secret_key_generated
    logged = [r.getMessage() for r in caplog.records]
    assert [m for m in logged if m.startswith("REDIS_PASSWORD: ")] == [
        "REDIS_PASSWORD: is not a variable agentifui-config reads - did you mean "
        "DB_READ_PASSWORD? (warning)"
    ]
    assert not any(m.startswith("SECRET_KEY: ") for m in logged)
    assert all(f.severity is Severity.WARNING for f in EnvironmentSettings.inspect().findings)
