"""Where settings come from: environment, ``<VAR>_FILE`` secret files, a ``.env`` file.

pydantic-settings reads the environment and the ``.env`` file; these sources add
two things to it. The flat ``DB_*`` variables of every source are gathered into
the nested ``database`` value (pydantic-settings' own nesting would need a
delimiter and would not let a nested settings class see the parent's ``.env``
file). And a variable ``<VAR>_FILE`` names a file holding a secret, the Docker
and Kubernetes convention.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic_settings import (
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
)

from agentifui_config.database import DatabaseConfig, field_for, variable_for
from agentifui_config.errors import ConfigurationError
from agentifui_config.secrecy import SECRET_VARIABLES
from agentifui_config.url_parsing import parse_database_url

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo
    from pydantic_settings import BaseSettings

__all__ = [
    "FILE_SUFFIX",
    "SECRET_FILE_VARIABLES",
    "Origin",
    "Reading",
    "Sources",
    "field_variables",
    "open_sources",
    "read_secret_file",
    "sources_for",
    "value_origins",
]

FILE_SUFFIX: Final = "_FILE"
"""Appended to a secret variable's name to give the variable naming its file."""

SECRET_FILE_VARIABLES: Final = SECRET_VARIABLES
"""The variables that may be given as ``<VAR>_FILE``: the secret ones."""

_DATABASE_FIELD: Final = "database"


def _secret_target(variable: str) -> tuple[str, ...]:
    """Where *variable*'s value goes in the settings' input: a ``DatabaseConfig`` field or its own.

    ``DB_PASSWORD`` and ``MIGRATION_DATABASE_URL`` fill fields of ``database``,
    by the names :func:`~agentifui_config.urls.variable_for` gives them; the
    others (``SECRET_KEY``) the settings field of their own name.
    """
    field = field_for(variable)
    if field in DatabaseConfig.model_fields and variable_for(field) == variable:
        return (_DATABASE_FIELD, field)
    return (variable.lower(),)


# Where each secret variable's value goes in the settings' input.
_SECRET_TARGETS: Final = {name: _secret_target(name) for name in SECRET_VARIABLES}


class _FlatDatabaseMixin:
    """Reads ``DB_<FIELD>`` variables into ``{"database": {...}}``, not a ``DATABASE`` value.

    An empty value counts as unset, as ``env_ignore_empty`` makes it for the other fields.
    """

    env_vars: Mapping[str, str | None]
    given: dict[str, Any] | None = None

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
            if (value := self.env_vars.get(variable_for(name).lower())) not in (None, "")
        }
        if database:
            data[_DATABASE_FIELD] = database
        # Kept for value_origins(): where a value came from, without reading the source again.
        self.given = _without_empty_secrets(data)
        return self.given

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

    given: dict[str, Any] | None = None

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
                _assign(data, target, read_secret_file(path, variable + FILE_SUFFIX))
        self.given = _without_empty_secrets(data)
        return self.given

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


_SET_IT_ITSELF: Final = "point it at a readable UTF-8 file, or unset it and set the variable itself"


def read_secret_file(
    path: str | os.PathLike[str], variable: str, remedy: str = _SET_IT_ITSELF
) -> str:
    """The secret in the file at *path*, its trailing line break dropped.

    Raises:
        ConfigurationError: The file cannot be read as UTF-8 text; it names
            *variable*, the path and the reason, and chains nothing: a
            ``UnicodeDecodeError`` holds the file's bytes.
    """
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    # Raised outside the handler, so that not even __context__ holds the decode error.
    raise ConfigurationError(
        f"cannot read the secret file {str(path)!r} ({reason})", variable=variable, remedy=remedy
    ) from None


def sources_for(
    settings_cls: type[BaseSettings],
    dotenv_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource | None = None,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The environment, secret-file and ``.env`` sources, highest precedence first.

    Args:
        settings_cls: The settings class being built.
        dotenv_settings: pydantic-settings' own ``.env`` source, whose file
            (the ``_env_file`` argument or the class default) is reused.
        env_settings: pydantic-settings' own environment source, reused likewise.
    """
    env = _reused(_EnvSource, EnvSettingsSource, env_settings) or _EnvSource(settings_cls)
    dotenv = _reused(_DotEnvSource, DotEnvSettingsSource, dotenv_settings) or _DotEnvSource(
        settings_cls,
        env_file=getattr(dotenv_settings, "env_file", None),
        env_file_encoding=getattr(dotenv_settings, "env_file_encoding", None),
    )
    return env, _SecretFileSource(settings_cls, (env, dotenv)), dotenv


_E = TypeVar("_E", bound=EnvSettingsSource)


def _reused(
    kind: type[_E], base: type[EnvSettingsSource], source: PydanticBaseSettingsSource | None
) -> _E | None:
    """*source*, pydantic-settings' own *base*, as our *kind*: same options and variables.

    pydantic-settings has read the environment or the ``.env`` file when it built
    *source*; building another would read it again. Another class (a host's own
    source) is not taken apart: ``None``.
    """
    if type(source) is not base:
        return None
    ours = kind.__new__(kind)
    ours.__dict__.update(vars(source))
    return ours


class Origin(enum.StrEnum):
    """Where a setting's value came from, as ``agentifui-config show`` reports it."""

    ARGUMENT = "argument"
    ENVIRONMENT = "environment"
    SECRET_FILE = "secret file"  # noqa: S105 - a label, not a password
    DOTENV = ".env file"
    DATABASE_URL = "DATABASE_URL"
    DEFAULT = "default"
    OTHER = "other source"


@dataclass(frozen=True, slots=True)
class Reading:
    """What the sources gave, each asked once: the merged values, and where each came from.

    Attributes:
        values: The input for validation, as pydantic-settings merges the sources.
        origins: Each variable the sources set (``SECRET_KEY``, ``DB_HOST``), with its origin.
    """

    values: dict[str, Any]
    origins: dict[str, Origin]


@dataclass(frozen=True, slots=True)
class Sources:
    """The settings' sources, built as pydantic-settings builds them, not yet asked.

    Attributes:
        settings_cls: The settings class being built.
        sources: The sources in precedence order, highest first.
        init_kwargs: The field values given as arguments.
        present: The names of the variables set in the environment and the ``.env`` file,
            upper-cased, whether the settings read them or not (the misspelling check's input).
    """

    settings_cls: type[BaseSettings]
    sources: tuple[PydanticBaseSettingsSource, ...]
    init_kwargs: dict[str, Any]
    present: frozenset[str]

    def read(self) -> Reading:
        """Ask each source once, in precedence order, and merge as pydantic-settings does.

        ``DB_*`` parts that only a ``DATABASE_URL`` gives come from :attr:`Origin.DATABASE_URL`.

        Raises:
            ConfigurationError: A secret file cannot be read.
            SettingsError: A source cannot decode a value.
        """
        merged = self.settings_cls._settings_build_values(self.sources, self.init_kwargs)
        return Reading(merged, _origins(self.settings_cls, self.sources, self.init_kwargs))


def open_sources(settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> Sources:
    """The sources loading reads: those ``settings_cls.settings_customise_sources()`` orders.

    Args:
        settings_cls: The settings class being built.
        values: The constructor's arguments: field values, and pydantic-settings'
            options such as ``_env_file``.

    Raises:
        OSError: The ``.env`` file cannot be read.
        UnicodeDecodeError: The ``.env`` file is not UTF-8 text.
    """
    options = {name: value for name, value in values.items() if name.startswith("_")}
    fields = {name: value for name, value in values.items() if not name.startswith("_")}
    sources, init_kwargs = settings_cls._settings_init_sources(**options, _init_kwargs=fields)
    present = frozenset(
        name.upper()
        for source in sources
        if isinstance(source, EnvSettingsSource)
        for name in source.env_vars
    )
    return Sources(settings_cls, sources, init_kwargs, present)


def _origins(
    settings_cls: type[BaseSettings],
    sources: Sequence[PydanticBaseSettingsSource],
    init_kwargs: Mapping[str, Any],
) -> dict[str, Origin]:
    """Each variable a source set, with the origin of the source of highest precedence."""
    found: dict[str, tuple[Origin, Any]] = {}
    for source in sources:
        given = init_kwargs if isinstance(source, InitSettingsSource) else _given(source)
        for variable, value in _variables(settings_cls, given or {}):
            found.setdefault(variable, (_origin_of(source), value))
    url = _reveal(found.get("DATABASE_URL", (Origin.DEFAULT, None))[1])
    with contextlib.suppress(ConfigurationError):  # validation reports a refused URL
        for name in parse_database_url(url) if url else ():
            found.setdefault(variable_for(name), (Origin.DATABASE_URL, None))
    return {name: origin for name, (origin, _) in found.items()}


def _given(source: PydanticBaseSettingsSource) -> Mapping[str, Any] | None:
    """What one of this module's sources gave when asked, or ``None`` for another source."""
    given: Mapping[str, Any] | None = getattr(source, "given", None)
    return given


def value_origins(
    settings_cls: type[BaseSettings],
    *,
    env_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Origin]:
    """Where each setting's value comes from, asked of the settings' own sources.

    The sources are read as loading reads them (:func:`open_sources`), so the answer
    cannot drift from what loading does; nothing is validated here.

    Args:
        settings_cls: The settings class (``EnvironmentSettings``).
        env_file: The ``.env`` file loading reads, as given to ``load_settings()``.
        overrides: The arguments given to ``load_settings()``.

    Returns:
        Each field's variable (``SECRET_KEY``, ``DB_HOST``), in schema order, with its origin.

    Raises:
        ConfigurationError: A secret file cannot be read (loading raises the same).
    """
    values = {"_env_file": env_file, **(overrides or {})}
    origins = open_sources(settings_cls, values).read().origins
    return {name: origins.get(name, Origin.DEFAULT) for name in field_variables(settings_cls)}


def field_variables(settings_cls: type[BaseSettings]) -> list[str]:
    """The variable of each field of *settings_cls*, ``database`` spread into ``DB_*``."""
    names = [name.upper() for name in settings_cls.model_fields if name != _DATABASE_FIELD]
    return names + [variable_for(name) for name in DatabaseConfig.model_fields]


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
            yield from ((variable_for(str(key)), None) for key in given)
        elif name in settings_cls.model_fields:
            yield name.upper(), value


def _reveal(value: Any) -> str:
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal() if callable(reveal) else value or "")
