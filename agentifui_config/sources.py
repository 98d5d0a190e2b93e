"""Where settings come from: environment, ``<VAR>_FILE`` secret files, a ``.env`` file.

pydantic-settings reads the environment and the ``.env`` file; these sources add
two things to it. The flat ``DB_*`` variables of every source are gathered into
the nested ``database`` value (pydantic-settings' own nesting would need a
delimiter and would not let a nested settings class see the parent's ``.env``
file). And a variable ``<VAR>_FILE`` names a file holding a secret, the Docker
and Kubernetes convention.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic_settings import (
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
)

from agentifui_config.database import DB_PREFIX, DatabaseConfig
from agentifui_config.errors import ConfigurationError
from agentifui_config.parsing import parse_database_url
from agentifui_config.secrecy import SECRET_VARIABLES

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo
    from pydantic_settings import BaseSettings

__all__ = ["FILE_SUFFIX", "SECRET_FILE_VARIABLES", "Origin", "sources_for", "value_origins"]

FILE_SUFFIX: Final = "_FILE"
"""Appended to a secret variable's name to give the variable naming its file."""

SECRET_FILE_VARIABLES: Final = SECRET_VARIABLES
"""The variables that may be given as ``<VAR>_FILE``: the secret ones."""

# Where each secret variable's value goes in the settings' input.
_SECRET_TARGETS: Final[Mapping[str, tuple[str, ...]]] = {
    "DB_PASSWORD": ("database", "password"),
    "SECRET_KEY": ("secret_key",),
    "DATABASE_URL": ("database_url",),
}

_DATABASE_FIELD: Final = "database"


class _FlatDatabaseMixin:
    """Reads ``DB_<FIELD>`` variables into ``{"database": {...}}``, not a ``DATABASE`` value."""

    env_vars: Mapping[str, str | None]

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name == _DATABASE_FIELD:
            return None, field_name, False
        value: tuple[Any, str, bool] = super().get_field_value(field, field_name)  # type: ignore[misc]
        return value

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = super().__call__()  # type: ignore[misc]
        database = {
            name: self._decoded(name, value)
            for name in DatabaseConfig.model_fields
            if (value := self.env_vars.get((DB_PREFIX + name).lower())) is not None
        }
        if database:
            data[_DATABASE_FIELD] = database
        return _without_empty_secrets(data)

    def _decoded(self, name: str, value: str) -> Any:
        """*value* JSON-decoded for a complex field (``DB_OPTIONS``), as pydantic-settings would.

        Undecodable text is passed on as given, for validation to report.
        """
        if not self.field_is_complex(DatabaseConfig.model_fields[name]):  # type: ignore[attr-defined]
            return value
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value


class _EnvSource(_FlatDatabaseMixin, EnvSettingsSource):
    """Environment variables, ``DB_*`` included."""


class _DotEnvSource(_FlatDatabaseMixin, DotEnvSettingsSource):
    """The ``.env`` file, ``DB_*`` lines included; unrelated lines are ignored."""


class _SecretFileSource(PydanticBaseSettingsSource):
    """Secrets read from the files named by ``<VAR>_FILE`` in the environment or ``.env`` file."""

    def __init__(
        self, settings_cls: type[BaseSettings], lookups: Sequence[EnvSettingsSource]
    ) -> None:
        super().__init__(settings_cls)
        self._lookups = lookups

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Not used: :meth:`__call__` returns all values at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for variable, target in _SECRET_TARGETS.items():
            path = self._path_for(variable + FILE_SUFFIX)
            if path:
                _assign(data, target, _read_secret(variable + FILE_SUFFIX, path))
        return _without_empty_secrets(data)

    def _path_for(self, variable: str) -> str | None:
        for lookup in self._lookups:
            if value := lookup.env_vars.get(variable.lower()):
                return value
        return None


def _without_empty_secrets(data: dict[str, Any]) -> dict[str, Any]:
    """*data* without the secret variables that are set but empty, which count as unset.

    As in the official Docker images, an empty ``SECRET_KEY`` (a compose file's
    ``${SECRET_KEY}`` left unset) must not hide ``SECRET_KEY_FILE`` nor the key
    development generates.
    """
    for target in _SECRET_TARGETS.values():
        *parents, leaf = target
        holder: Any = data
        for key in parents:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and holder.get(leaf) == "":
            del holder[leaf]
    if data.get(_DATABASE_FIELD) == {}:
        del data[_DATABASE_FIELD]
    return data


def _assign(data: dict[str, Any], target: tuple[str, ...], value: str) -> None:
    *parents, leaf = target
    for key in parents:
        data = data.setdefault(key, {})
    data[leaf] = value


def _read_secret(variable: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    # Raised outside the handler: a chained UnicodeDecodeError would hold the file's bytes.
    raise ConfigurationError(
        f"cannot read the secret file {path!r} ({reason})",
        variable=variable,
        remedy="point it at a readable UTF-8 file, or unset it and set the variable itself",
    ) from None


def sources_for(
    settings_cls: type[BaseSettings], dotenv_settings: PydanticBaseSettingsSource
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The environment, secret-file and ``.env`` sources, highest precedence first.

    Args:
        settings_cls: The settings class being built.
        dotenv_settings: pydantic-settings' own ``.env`` source, whose file
            (the ``_env_file`` argument or the class default) is reused.
    """
    env = _EnvSource(settings_cls)
    dotenv = _DotEnvSource(
        settings_cls,
        env_file=getattr(dotenv_settings, "env_file", None),
        env_file_encoding=getattr(dotenv_settings, "env_file_encoding", None),
    )
    return env, _SecretFileSource(settings_cls, (env, dotenv)), dotenv


class Origin(enum.StrEnum):
    """Where a setting's value came from, as ``agentifui-config show`` reports it."""

    ARGUMENT = "argument"
    ENVIRONMENT = "environment"
    SECRET_FILE = "secret file"  # noqa: S105 - a label, not a password
    DOTENV = ".env file"
    DATABASE_URL = "DATABASE_URL"
    DEFAULT = "default"
    OTHER = "other source"


def value_origins(
    settings_cls: type[BaseSettings],
    *,
    env_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Origin]:
    """Where each setting's value comes from, asked of the settings' own sources.

    The sources are the ones ``settings_cls.settings_customise_sources()``
    returns, called in precedence order as loading calls them, so the answer
    cannot drift from what loading does; nothing is parsed here. ``DB_*`` parts
    that only a ``DATABASE_URL`` gives come from :attr:`Origin.DATABASE_URL`.

    Args:
        settings_cls: The settings class (``EnvironmentSettings``).
        env_file: The ``.env`` file loading reads, as given to ``load_settings()``.
        overrides: The arguments given to ``load_settings()``.

    Returns:
        Each field's variable (``SECRET_KEY``, ``DB_HOST``), in schema order, with its origin.

    Raises:
        ConfigurationError: A secret file cannot be read, or ``DATABASE_URL`` is not a
            PostgreSQL URL (loading raises the same).
    """
    found: dict[str, tuple[Origin, Any]] = {}
    for source in _sources(settings_cls, env_file, dict(overrides or {})):
        origin = _origin_of(source)
        for variable, value in _variables(settings_cls, source()):
            found.setdefault(variable, (origin, value))
    url = _reveal(found.get("DATABASE_URL", (Origin.DEFAULT, None))[1])
    if url:
        for name in parse_database_url(url):
            found.setdefault(DB_PREFIX + name.upper(), (Origin.DATABASE_URL, None))
    names = [name.upper() for name in settings_cls.model_fields if name != _DATABASE_FIELD]
    names += [DB_PREFIX + name.upper() for name in DatabaseConfig.model_fields]
    return {name: found.get(name, (Origin.DEFAULT, None))[0] for name in names}


def _sources(
    settings_cls: type[BaseSettings],
    env_file: str | os.PathLike[str] | None,
    overrides: dict[str, Any],
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The sources loading uses, built as pydantic-settings builds them for the hook."""
    sources: tuple[PydanticBaseSettingsSource, ...] = settings_cls.settings_customise_sources(
        settings_cls,
        init_settings=InitSettingsSource(settings_cls, init_kwargs=overrides),
        env_settings=EnvSettingsSource(settings_cls),
        dotenv_settings=DotEnvSettingsSource(
            settings_cls, env_file=None if env_file is None else Path(env_file)
        ),
        file_secret_settings=SecretsSettingsSource(settings_cls),
    )
    return sources


def _origin_of(source: PydanticBaseSettingsSource) -> Origin:
    # DotEnvSettingsSource derives from EnvSettingsSource: test it first.
    kinds: tuple[tuple[type[PydanticBaseSettingsSource], Origin], ...] = (
        (InitSettingsSource, Origin.ARGUMENT),
        (DotEnvSettingsSource, Origin.DOTENV),
        (EnvSettingsSource, Origin.ENVIRONMENT),
        (_SecretFileSource, Origin.SECRET_FILE),
    )
    return next((origin for kind, origin in kinds if isinstance(source, kind)), Origin.OTHER)


def _variables(
    settings_cls: type[BaseSettings], data: Mapping[str, Any]
) -> Iterator[tuple[str, Any]]:
    """The variables (and values) a source's output sets; ``database`` spread into ``DB_*``."""
    for name, value in data.items():
        if name == _DATABASE_FIELD:
            given = DatabaseConfig.model_fields if isinstance(value, DatabaseConfig) else value
            yield from ((DB_PREFIX + str(key).upper(), None) for key in given)
        elif name in settings_cls.model_fields:
            yield name.upper(), value


def _reveal(value: Any) -> str:
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal() if callable(reveal) else value or "")
