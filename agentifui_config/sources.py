"""Where settings come from: environment, ``<VAR>_FILE`` secret files, a ``.env`` file.

pydantic-settings reads the environment and the ``.env`` file; these sources add
two things to it. The flat ``DB_*`` variables of every source are gathered into
the nested ``database`` value (pydantic-settings' own nesting would need a
delimiter and would not let a nested settings class see the parent's ``.env``
file). And a variable ``<VAR>_FILE`` names a file holding a secret, the Docker
and Kubernetes convention.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource, PydanticBaseSettingsSource

from agentifui_config.database import DB_PREFIX, DatabaseConfig
from agentifui_config.errors import ConfigurationError

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo
    from pydantic_settings import BaseSettings

__all__ = ["FILE_SUFFIX", "SECRET_FILE_VARIABLES", "sources_for"]

FILE_SUFFIX: Final = "_FILE"
"""Appended to a secret variable's name to give the variable naming its file."""

SECRET_FILE_VARIABLES: Final = ("DB_PASSWORD", "SECRET_KEY", "DATABASE_URL")
"""The variables that may be given as ``<VAR>_FILE``."""

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
        return data

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
        return data

    def _path_for(self, variable: str) -> str | None:
        for lookup in self._lookups:
            if value := lookup.env_vars.get(variable.lower()):
                return value
        return None


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
