"""How the commands load the settings, so that no secret reaches the output.

:func:`load` reads the settings as the service would, without the log lines
and deprecation warnings loading emits (the commands report those findings
themselves), and hands every secret it saw to the console to mask: which values
are secret is :mod:`agentifui_config.secrecy`'s rule, as everywhere else.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tomllib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel, SecretStr
from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource

from agentifui_config.database import DatabaseConfig
from agentifui_config.errors import ConfigurationError, Finding, Severity
from agentifui_config.policies import RULES
from agentifui_config.secrecy import SECRET_VARIABLES, is_secret_name, settings_secrets, url_secrets
from agentifui_config.settings import EnvironmentSettings, settings_class_named

if TYPE_CHECKING:
    from agentifui_config.cli.console import Console
    from agentifui_config.pipeline import Outcome

__all__ = ["env_file_path", "environment_value", "inspect", "load", "settings_class_of"]

_KEY_RULES: Final = frozenset(
    rule.id for rule in RULES if rule.variable == "SECRET_KEY" and rule.severity is Severity.WARNING
)
"""The rules whose warnings concern ``SECRET_KEY`` alone (the key generated for development):
reported only by a command that uses the key."""

_LEGACY_URL: Final = Finding(
    "DATABASE_URL",
    "is deprecated; DB_* variables replace it",
    "print the equivalent lines with: agentifui-config convert-url",
    Severity.WARNING,
    rule="legacy-database-url",
)


def env_file_path(given: str | None) -> Path | None:
    """The ``--env-file`` path, checked to be a readable text file.

    ``load_settings()`` ignores a missing file; on the command line a mistyped
    path must not be ignored silently.

    Raises:
        ConfigurationError: The file does not exist, cannot be read or is not UTF-8.
    """
    if given is None:
        return None
    path = Path(given)
    try:
        path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        raise ConfigurationError(
            f"cannot read {given!r} ({reason or type(exc).__name__})",
            variable="--env-file",
            remedy="give the path of a readable UTF-8 .env file, or leave the option out",
        ) from None
    return path


def load(
    console: Console,
    env_file: str | None,
    settings_class: type[EnvironmentSettings] = EnvironmentSettings,
    *,
    uses_secret_key: bool = False,
    **overrides: Any,
) -> tuple[EnvironmentSettings, list[Finding]]:
    """Load the settings as ``load_settings()`` does, quietly, and protect their secrets.

    Args:
        console: Receives every secret value seen, to mask it in the output.
        env_file: The ``--env-file`` option.
        settings_class: The application's settings class (``--settings``).
        uses_secret_key: Whether the command uses ``SECRET_KEY``
            (:attr:`~agentifui_config.cli.commands.Command.uses_secret_key`); if
            not, a key generated for development is no finding of its.
        **overrides: Field values that win over every source (``environment=``).

    Returns:
        The settings and the warnings loading found, the legacy ``DATABASE_URL`` among them.

    Raises:
        ConfigurationError: The configuration has errors; every finding is listed.
    """
    outcome = inspect(
        console, env_file, settings_class, uses_secret_key=uses_secret_key, **overrides
    )
    if outcome.errors or not isinstance(outcome.settings, EnvironmentSettings):
        raise ConfigurationError(outcome.findings)
    return outcome.settings, list(outcome.findings)


def inspect(
    console: Console,
    env_file: str | None,
    settings_class: type[EnvironmentSettings] = EnvironmentSettings,
    *,
    uses_secret_key: bool = False,
    **overrides: Any,
) -> Outcome:
    """Load the settings as ``load_settings()`` does, quietly, without raising for findings.

    Args:
        console: Receives every secret value seen, to mask it in the output.
        env_file: The ``--env-file`` option.
        settings_class: The application's settings class (``--settings``).
        uses_secret_key: Whether the command uses ``SECRET_KEY``; if not, the
            warnings about the key alone are left out of the findings.
        **overrides: Field values that win over every source (``environment=``).

    Returns:
        What loading found; the legacy ``DATABASE_URL`` is a warning among the findings.

    Raises:
        ConfigurationError: The ``--env-file`` cannot be read.
    """
    path = env_file_path(env_file)
    console.protect(*_raw_secrets(path))
    with _quiet():
        outcome = settings_class.inspect(path, **overrides)
    if not uses_secret_key:
        outcome.findings[:] = [f for f in outcome.findings if f.rule not in _KEY_RULES]
    settings = outcome.settings
    if isinstance(settings, EnvironmentSettings):
        console.protect(*settings_secrets(settings), *_own_secrets(settings))
        if settings.database_url is not None and settings.database_url.get_secret_value():
            outcome.findings.append(_LEGACY_URL)
    return outcome


def _own_secrets(settings: BaseModel) -> list[SecretStr]:
    """The ``SecretStr`` values of an application's own fields, nested groups included."""
    found: list[SecretStr] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            found.append(value)
        elif isinstance(value, BaseModel) and not isinstance(value, DatabaseConfig):
            found.extend(_own_secrets(value))
    return found


def settings_class_of(args: argparse.Namespace) -> type[EnvironmentSettings]:
    """The settings class of ``--settings``, else of ``[tool.agentifui-config] settings``.

    The current directory is put on ``sys.path`` first, as for ``python -m``, so
    that the application's package imports.

    Raises:
        ConfigurationError: The class named cannot be imported, or is not a settings class.
    """
    name = getattr(args, "settings", None) or _pyproject_settings(Path("pyproject.toml"))
    if not name:
        return EnvironmentSettings
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    return settings_class_named(name)


def _pyproject_settings(path: Path) -> str | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    value = data.get("tool", {}).get("agentifui-config", {}).get("settings")
    return value if isinstance(value, str) else None


def environment_value(variable: str) -> str | None:
    """The value of *variable* in the environment, read as the settings read it (any case)."""
    return EnvSettingsSource(EnvironmentSettings).env_vars.get(variable.lower())


def _raw_secrets(env_file: Path | None) -> list[str]:
    """The secret values as given in the environment and the ``.env`` file, before any parsing.

    Protected before loading, so that even an error that echoed a value it
    failed to parse would be masked. That is each secret variable's value, the
    password and secret options of one that is a URL, and the secret ``DB_OPTIONS``.
    """
    sources = [EnvSettingsSource(EnvironmentSettings).env_vars]
    if env_file is not None:
        sources.append(DotEnvSettingsSource(EnvironmentSettings, env_file=env_file).env_vars)
    values = [
        value
        for env_vars in sources
        for name in SECRET_VARIABLES
        if (value := env_vars.get(name.lower()))
    ]
    options = [
        secret
        for env_vars in sources
        if (text := env_vars.get("db_options"))
        for secret in _secret_options(text)
    ]
    return [*values, *(s for value in values for s in url_secrets(value)), *options]


def _secret_options(text: str) -> list[str]:
    """The secret option values in a raw ``DB_OPTIONS`` JSON object; all of it if unreadable."""
    try:
        options = json.loads(text)
    except (ValueError, RecursionError):
        return [text]
    if not isinstance(options, dict):
        return [text]
    return [str(value) for key, value in options.items() if is_secret_name(str(key))]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hold back the log lines and warnings loading emits; the commands report the findings."""
    logger = logging.getLogger("agentifui_config")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.removeHandler(handler)
