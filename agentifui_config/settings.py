"""``EnvironmentSettings``: a service's whole configuration, read, validated and judged once.

Values come from, in this order of precedence: arguments, environment
variables, secret files (``<VAR>_FILE``), the ``.env`` file given to
:func:`load_settings`, and the defaults. Field errors, cross-field rules and
environment policies are collected and raised together as one
:class:`~agentifui_config.errors.ConfigurationError` that names variables and
never shows a secret.
"""

from __future__ import annotations

import functools
import logging
import os
import pkgutil
import secrets
import warnings
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, Self, TypeVar, overload

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agentifui_config.cors import parse_methods, parse_origins
from agentifui_config.database import DatabaseConfig, replacement_lines
from agentifui_config.environment import Environment
from agentifui_config.errors import (
    ConfigurationError,
    Finding,
    GeneratedSecretKeyWarning,
    Severity,
)
from agentifui_config.parsing import parse_flags, parse_list
from agentifui_config.pipeline import Outcome, misspellings, run
from agentifui_config.pipeline import variable_names as pipeline_variable_names
from agentifui_config.policies import RULES, Rule, evaluate
from agentifui_config.sources import open_sources, sources_for

__all__ = [
    "LOG_LEVELS",
    "EnvironmentSettings",
    "configuration_warnings",
    "get_settings",
    "load_settings",
    "replacement_lines",
    "settings_class_named",
    "variable_names",
]

_LOG = logging.getLogger("agentifui_config")

_S = TypeVar("_S", bound="EnvironmentSettings")

LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
"""The accepted ``LOG_LEVEL`` values, least to most severe."""

# The warnings said through the warnings module rather than logged, by rule id:
# about the process rather than one load, they are shown once per process by
# Python's default filter, and the standard filters silence them or make them errors.
_WARNING_CATEGORIES: Final[Mapping[str, type[Warning]]] = {
    "secret-key-generated": GeneratedSecretKeyWarning,
}


class EnvironmentSettings(BaseSettings):
    """The configuration of a service, validated for the environment it runs in.

    Construct it through :func:`load_settings` (fresh) or :func:`get_settings`
    (cached). Each field is read from the upper-case variable of the same name;
    :attr:`database` from the ``DB_*`` variables. ``repr()`` masks secrets.

    Raises:
        ConfigurationError: On construction, listing every finding at once.
    """

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        validate_default=True,
        env_file_encoding="utf-8",
        # An empty value for an optional variable means unset (DB_SSL_MODE= loads).
        env_ignore_empty=True,
    )

    rules: ClassVar[tuple[Rule, ...]] = RULES
    """The policies that judge these settings; a subclass adds its own: ``(*RULES, Rule(...))``."""

    environment: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="development, staging or production (any case; dev, stage, prod).",
    )
    database: DatabaseConfig = Field(
        default_factory=DatabaseConfig, description="The database, from the DB_* variables."
    )
    database_url: SecretStr | None = Field(
        default=None, description="Legacy single database URL; DB_* variables win over its parts."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=["http://localhost:3000"],
        description="Allowed origins: '*' or scheme://host[:port], comma-separated or JSON.",
    )
    cors_allow_credentials: bool = Field(default=True, description="Allow cookies and credentials.")
    cors_allow_methods: Annotated[list[str], NoDecode] = Field(
        default=["*"], description="Allowed HTTP methods or '*', comma-separated or JSON."
    )
    cors_allow_headers: Annotated[list[str], NoDecode] = Field(
        default=["*"], description="Allowed request headers or '*', comma-separated or JSON."
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signing key; at least 32 characters outside development."
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    feature_flags: Annotated[dict[str, bool], NoDecode] = Field(
        default_factory=dict, description="Flags as name=on,other=off or a JSON object."
    )
    debug: bool = Field(default=False, description="Debug mode; never in production.")

    def __init__(self, **values: Any) -> None:
        # env -> parse -> config -> policy, each source read once: see agentifui_config.pipeline.
        outcome = run(self, _arguments(values), EnvironmentSettings)
        if any(f.severity is Severity.ERROR for f in outcome.findings):
            # Raised with nothing chained: pydantic's error keeps every input in its details.
            raise ConfigurationError(outcome.findings) from None
        for finding in outcome.findings:
            _report_warning(finding)
        if self.database_url is not None and self.database_url.get_secret_value():
            _warn_legacy_url(self.database_url)

    @classmethod
    def load(cls, env_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Self:
        """Read, validate and judge the configuration as this class; see :func:`load_settings`.

        Args:
            env_file: A ``.env`` file; by default the ``env_file`` of ``model_config``.
            **overrides: Field values that win over every source.

        Raises:
            ConfigurationError: Every problem found, in one report.
        """
        values = overrides if env_file is None else {"_env_file": env_file, **overrides}
        return cls(**values)

    @classmethod
    def inspect(cls, env_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Outcome:
        """Load as :func:`load_settings` does, but return what was found instead of raising.

        For tools that report on a broken configuration (``agentifui-config show``):
        nothing is logged or warned.

        Args:
            env_file: A ``.env`` file, as for :func:`load_settings`.
            **overrides: Field values that win over every source.

        Returns:
            Every finding, the settings built with failed fields at their defaults
            (``None`` when a source could not be read), and where each value came from.
        """
        given = overrides if env_file is None else {"_env_file": env_file, **overrides}
        return run(cls.__new__(cls), _arguments(dict(given)), EnvironmentSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: Any,
        env_settings: Any,
        dotenv_settings: Any,
        file_secret_settings: Any,
    ) -> tuple[Any, ...]:
        """Arguments, environment, ``<VAR>_FILE`` secret files, ``.env`` file, defaults.

        ``DB_*`` variables from every source are gathered into :attr:`database`,
        so a ``DB_HOST`` line in the ``.env`` file reaches it.
        """
        return (init_settings, *sources_for(settings_cls, dotenv_settings, env_settings))

    @field_validator("environment", mode="before")
    @classmethod
    def _parse_environment(cls, value: object) -> Environment:
        return Environment.parse(value if isinstance(value, Environment) else str(value))

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: str | list[str]) -> list[str]:
        return parse_origins(value)

    @field_validator("cors_allow_methods", mode="before")
    @classmethod
    def _parse_methods(cls, value: str | list[str]) -> list[str]:
        return parse_methods(value)

    @field_validator("cors_allow_headers", mode="before")
    @classmethod
    def _parse_headers(cls, value: str | list[str]) -> list[str]:
        return parse_list(value, variable="CORS_ALLOW_HEADERS")

    @field_validator("feature_flags", mode="before")
    @classmethod
    def _parse_flags(cls, value: str | Mapping[str, object]) -> dict[str, bool]:
        return parse_flags(value, variable="FEATURE_FLAGS")

    @field_validator("log_level", mode="before")
    @classmethod
    def _parse_log_level(cls, value: object) -> str:
        level = str(value).strip().upper()
        level = "WARNING" if level == "WARN" else level
        if level not in LOG_LEVELS:
            raise ConfigurationError(
                f"unknown level {str(value)!r}",
                variable="LOG_LEVEL",
                remedy=f"use one of {', '.join(LOG_LEVELS)} (any case)",
            )
        return level

    @field_validator("secret_key", mode="after")
    @classmethod
    def _default_secret_key(cls, value: SecretStr | None, info: Any) -> SecretStr | None:
        if value is None and info.data.get("environment") is Environment.DEVELOPMENT:
            return SecretStr(secrets.token_urlsafe(48))
        return value

    @property
    def secret_key_generated(self) -> bool:
        """Whether :attr:`secret_key` was generated for this process (development only)."""
        return self.secret_key is not None and "secret_key" not in self.model_fields_set

    def is_enabled(self, flag: str) -> bool:
        """Whether the feature flag *flag* is on; an unknown flag is off."""
        return self.feature_flags.get(flag, False)


def settings_class_named(name: str) -> type[EnvironmentSettings]:
    """The settings class named ``module:attribute`` (``myapp.settings:AppSettings``), imported.

    The one way the command line and the pytest plugin name an application's class.

    Raises:
        ConfigurationError: The name cannot be imported, or is not a subclass of
            :class:`EnvironmentSettings`.
    """
    remedy = "name the class as package.module:ClassName, importable from here"
    try:
        found = pkgutil.resolve_name(name)
    except (ImportError, AttributeError, ValueError) as exc:
        reason = f"cannot import {name!r} ({type(exc).__name__}: {exc})"
        raise ConfigurationError(reason, variable="settings", remedy=remedy) from None
    if not (isinstance(found, type) and issubclass(found, EnvironmentSettings)):
        reason = f"{name!r} is not a subclass of EnvironmentSettings"
        raise ConfigurationError(reason, variable="settings", remedy=remedy)
    return found


def _arguments(values: dict[str, Any]) -> dict[str, Any]:
    if isinstance(values.get("database"), DatabaseConfig):
        # A DatabaseConfig argument is used as a whole: no DATABASE_URL from the
        # environment may fill the parts it leaves at their defaults.
        values.setdefault("database_url", None)
    return values


def variable_names() -> tuple[str, ...]:
    """Every environment variable the settings read, in schema order."""
    return pipeline_variable_names(EnvironmentSettings)


def configuration_warnings(
    settings: EnvironmentSettings, env_file: str | os.PathLike[str] | None = None
) -> list[Finding]:
    """The warnings that loading *settings* logged, as findings, for tools that report them.

    :func:`load_settings` raises the errors it finds and logs the warnings;
    ``agentifui-config check`` asks here for the same warnings: the broken
    rules of severity warning and the near misses of variable names.

    Args:
        settings: Settings that loaded, so that they hold no errors.
        env_file: The ``.env`` file they were loaded with.

    Returns:
        The warnings, in the order loading logs them.
    """
    present = open_sources(type(settings), {"_env_file": env_file}).present
    findings = evaluate(settings, settings.rules) + misspellings(type(settings), present, {})
    return [f for f in findings if f.severity is Severity.WARNING]


def _report_warning(finding: Finding) -> None:
    """Issue *finding* as its warning category, or log it when it has none."""
    category = _WARNING_CATEGORIES.get(finding.rule or "")
    if category is None:
        _log_finding(finding)
        return
    # Attributed to this line, not to the caller: one registry entry, so the
    # default filter shows it once per process wherever the settings are loaded.
    warnings.warn(str(finding), category, stacklevel=1)


def _log_finding(finding: Finding) -> None:
    _LOG.warning(
        "%s",
        finding,
        extra={
            "event_name": "configuration_warning",
            "rule": finding.rule,
            "variable": finding.variable,
        },
    )


def _warn_legacy_url(url: SecretStr) -> None:
    lines = replacement_lines(url.get_secret_value())
    text = "DATABASE_URL is deprecated; replace it with:\n" + "\n".join(
        f"  {line}" for line in lines
    )
    _LOG.warning(text, extra={"event_name": "legacy_database_url", "replacement": lines})
    warnings.warn(text, DeprecationWarning, stacklevel=5)


def load_settings(
    env_file: str | os.PathLike[str] | None = None,
    *,
    settings_class: type[EnvironmentSettings] | None = None,
    **overrides: Any,
) -> EnvironmentSettings:
    """Read, validate and judge the configuration; a fresh instance on every call.

    Args:
        env_file: A ``.env`` file to read below the environment in precedence;
            a missing file is ignored. By default, the ``env_file`` of the settings
            class's ``model_config`` (none for :class:`EnvironmentSettings`).
        settings_class: The application's own subclass of :class:`EnvironmentSettings`;
            ``EnvironmentSettings`` by default. For the subclass's type,
            call ``AppSettings.load()`` (:meth:`EnvironmentSettings.load`).
        **overrides: Field values that win over every source (``environment=``,
            ``database=``, ...).

    Raises:
        ConfigurationError: Every problem found, in one report.
    """
    return (settings_class or EnvironmentSettings).load(env_file, **overrides)


@functools.cache
def _cached(settings_class: type[EnvironmentSettings]) -> EnvironmentSettings:
    return settings_class.load()


class _SettingsCache:
    """:func:`get_settings`: one cached instance per settings class."""

    @overload
    def __call__(self) -> EnvironmentSettings: ...
    @overload
    def __call__(self, settings_class: type[_S]) -> _S: ...
    def __call__(self, settings_class: type[EnvironmentSettings] | None = None) -> Any:
        """The process's settings of *settings_class*, loaded once.

        Raises:
            ConfigurationError: Every problem found, in one report.
        """
        return _cached(settings_class or EnvironmentSettings)

    def cache_clear(self) -> None:
        """Forget every cached instance; the next call loads again."""
        _cached.cache_clear()

    def cache_info(self) -> functools._CacheInfo:
        """How many instances are cached (``currsize``), as ``functools.cache`` reports it."""
        return _cached.cache_info()


get_settings: Final = _SettingsCache()
"""The process's settings, loaded once per class; ``get_settings.cache_clear()`` forgets them.

``get_settings()`` gives the :class:`EnvironmentSettings`, ``get_settings(AppSettings)``
the application's own class, each cached on its own.
"""
