"""A host project with its own settings class, nested group and policy, through every entry point.

The project is written with pytester: ``myapp/settings.py`` declares the class
as docs/extending.md shows, ``pyproject.toml`` names it for the CLI and for the
pytest plugin. Its own test suite, the CLI, the lifespan and ``mypy --strict``
(without the pydantic plugin) all run on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import pytest
from alembic import command
from alembic.config import Config
from cli_support import clean_environ, run_cli
from mypy import api as mypy_api

from agentifui_config import ConfigurationError, get_settings
from agentifui_config.cli import ExitCode
from agentifui_config.fastapi.lifespan import resolve_settings
from agentifui_config.migrations import init_migrations

pytestmark = pytest.mark.usefixtures("clean_env")

_SETTINGS: Final = '''\
"""The application's settings."""

from typing import ClassVar

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from agentifui_config import EnvironmentSettings, Environment, Severity
from agentifui_config.policies import RULES, Rule


class Security(BaseModel):
    """SECURITY__* variables."""

    password_bcrypt_rounds: int = Field(default=12, ge=4, le=31, description="bcrypt cost, 4-31.")
    jwt_secret: SecretStr = Field(default=SecretStr(""), description="Key that signs JWTs.")


class AppSettings(EnvironmentSettings):
    """The service's settings: the library's and its own."""

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        env_nested_delimiter="__", env_file=".env"
    )

    rules: ClassVar[tuple[Rule, ...]] = (
        *RULES,
        Rule(
            "allowed-hosts-wildcard",
            "ALLOWED_HOSTS",
            frozenset({Environment.PRODUCTION}),
            Severity.ERROR,
            lambda s: "*" in getattr(s, "allowed_hosts", ""),
            "allows every host in production",
            "list the host names served, e.g. ALLOWED_HOSTS=api.example.com",
        ),
    )

    allowed_hosts: str = Field(default="localhost", description="Host names served.")
    security: Security = Field(default=Security(), description="Security settings.")
'''

_USE: Final = '''\
"""Typed uses of the application's class, for mypy --strict without the pydantic plugin."""

from agentifui_config import get_settings, load_settings

from myapp.settings import AppSettings

settings: AppSettings = AppSettings()
cached: AppSettings = get_settings(AppSettings)
loaded: AppSettings = AppSettings.load()
rounds: int = loaded.security.password_bcrypt_rounds
base = load_settings(settings_class=AppSettings)
'''

_PYPROJECT: Final = """\
[tool.agentifui-config]
settings = "myapp.settings:AppSettings"

[tool.pytest.ini_options]
agentifui_settings = "myapp.settings:AppSettings"
asyncio_default_fixture_loop_scope = "function"
"""

_SUITE: Final = '''\
"""The application's own tests, on the plugin's fixtures."""

import pytest

from agentifui_config import ConfigurationError
from myapp.settings import AppSettings


def test_make_settings_builds_the_app_class(make_settings):
    settings = make_settings(allowed_hosts="api.example.com")
    assert isinstance(settings, AppSettings)
    assert settings.security.password_bcrypt_rounds == 12


def test_clean_env_hides_the_app_variables(clean_env):
    import os

    assert "ALLOWED_HOSTS" not in os.environ
    assert "SECURITY__PASSWORD_BCRYPT_ROUNDS" not in os.environ


def test_app_policy(make_settings):
    with pytest.raises(ConfigurationError, match="ALLOWED_HOSTS: allows every host"):
        make_settings(environment="production", allowed_hosts="*")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    """The host project on disk, importable."""
    pytester.makepyfile(**{"myapp/__init__": "", "myapp/settings": _SETTINGS, "myapp/use": _USE})
    (pytester.path / "pyproject.toml").write_text(_PYPROJECT, encoding="utf-8")
    pytester.syspathinsert()
    return pytester.path


def test_plugin_fixtures_build_the_app_class(
    project: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ini key names the class: make_settings builds it, clean_env hides its variables."""
    monkeypatch.setenv("ALLOWED_HOSTS", "leaked.example.com")
    monkeypatch.setenv("SECURITY__PASSWORD_BCRYPT_ROUNDS", "99")
    pytester.makepyfile(test_app=_SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)


def test_cli_covers_the_app_variables(project: Path) -> None:
    """check, show and env-template read the class named in pyproject.toml, or by --settings."""
    env = clean_environ(SECURITY__PASSWORD_BCRYPT_ROUNDS="abc", SECURITY__JWT_SECRET="Jwt-9f3e1a")
    check = run_cli("check", env=env, cwd=project)
    assert check.code == ExitCode.INVALID
    assert "SECURITY__PASSWORD_BCRYPT_ROUNDS: expected a whole number, got 'abc'" in check.stdout
    assert "bcrypt cost, 4-31." in check.stdout
    flagged = run_cli("check", "--settings", "myapp.settings:AppSettings", env=env, cwd=project)
    assert flagged.code == ExitCode.INVALID
    env = clean_environ(SECURITY__JWT_SECRET="Jwt-9f3e1a", ALLOWED_HOSTS="api.example.com")
    show = run_cli("show", "--format", "json", env=env, cwd=project)
    assert show.code == ExitCode.OK
    document = json.loads(show.stdout)
    assert document["ALLOWED_HOSTS"]["value"] == "api.example.com"
    assert document["SECURITY"]["value"]["jwt_secret"] == "**********"
    assert "Jwt-9f3e1a" not in show.output
    template = run_cli("env-template", env=clean_environ(), cwd=project).stdout
    assert "# SECURITY__PASSWORD_BCRYPT_ROUNDS=12\n" in template
    assert "# SECURITY__JWT_SECRET (secret)\n" in template
    assert "[allowed-hosts-wildcard]" in template


def test_lifespan_settings_source_takes_the_class(project: Path) -> None:
    """create_lifespan(AppSettings) and setup() load the app's class, cached per class."""
    # Importable once the project fixture has put it on sys.path.
    from myapp.settings import AppSettings  # type: ignore[import-not-found]

    settings = resolve_settings(AppSettings)
    assert isinstance(settings, AppSettings)
    assert settings is get_settings(AppSettings)


def test_env_py_takes_the_class_and_its_env_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """init_migrations(settings=) writes an env.py that loads the app's class and .env file."""
    ini = init_migrations(project / "migrations", settings="myapp.settings:AppSettings")
    env_py = (project / "migrations" / "env.py").read_text(encoding="utf-8")
    assert "from myapp.settings import AppSettings\n" in env_py
    assert "run_migrations(target_metadata, settings_class=AppSettings)" in env_py
    monkeypatch.chdir(project)
    (project / ".env").write_text("DB_HSOT=db.internal\n", encoding="utf-8")
    config = Config(str(ini))
    with pytest.raises(ConfigurationError, match=r"DB_HSOT: .* did you mean DB_HOST"):
        command.upgrade(config, "head", sql=True)


def test_mypy_strict_without_the_pydantic_plugin(project: Path) -> None:
    """The app's class, declared as the docs show, passes mypy --strict with no plugin."""
    stdout, stderr, status = mypy_api.run(
        ["--strict", "--no-incremental", "--config-file", "", str(project / "myapp")]
    )
    assert status == 0, stdout + stderr
