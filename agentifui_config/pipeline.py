"""The settings pipeline: env -> parse -> config -> policy, each source read once.

1. **env**: every source (arguments, environment, secret files, ``.env``) is
   asked once (:func:`agentifui_config.sources.open_sources`); where each value
   came from is kept.
2. **parse**: a legacy ``DATABASE_URL`` is split into the database parts it gives.
3. **config**: the values are validated; each failing field is a finding and is
   built at its default instead. A failing validator of the whole model (a host
   application's own ``model_validator``) is one more finding.
4. **policy**: the rules and the misspelling check judge what was built.

The :class:`Outcome` holds the findings, the settings built (failed fields at
their defaults) and the origins; the settings class raises or logs from it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import SettingsError

from agentifui_config.database import URL_FIELDS, DatabaseConfig, variable_for
from agentifui_config.errors import (
    ConfigurationError,
    ErrorLocation,
    Finding,
    Severity,
    findings_from_errors,
)
from agentifui_config.misnames import misnamed_variables
from agentifui_config.policies import RULES, evaluate
from agentifui_config.secrecy import HIDDEN_VARIABLES
from agentifui_config.sources import FILE_SUFFIX, SECRET_FILE_VARIABLES, Origin, open_sources
from agentifui_config.url_parsing import parse_database_url

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo
    from pydantic_settings import BaseSettings

__all__ = ["Outcome", "misspellings", "run", "variable_fields", "variable_names"]

_S = TypeVar("_S", bound="BaseSettings")

_DATABASE: Final = "database"


@dataclass(slots=True)
class Outcome:
    """What loading found: the findings, the settings built and where each value came from.

    Attributes:
        findings: Every error and warning, in report order (errors first).
        settings: The settings built, failed fields at their defaults; ``None`` when
            not even that could be built (a source could not be read).
        origins: Each variable a source set, with its origin; unlisted ones are defaults.
        refused: The variables whose value was refused (an error names them).
    """

    findings: list[Finding] = field(default_factory=list)
    settings: BaseSettings | None = None
    origins: dict[str, Origin] = field(default_factory=dict)
    refused: frozenset[str] = frozenset()

    @property
    def errors(self) -> list[Finding]:
        """The findings that refuse the configuration."""
        return [f for f in self.findings if f.severity is Severity.ERROR]


def run(instance: _S, values: Mapping[str, Any], fallback: type[BaseSettings]) -> Outcome:
    """Run the pipeline, building *instance* from *values* (the constructor's arguments).

    Args:
        instance: The settings object under construction.
        values: Its constructor's arguments, ``_env_file`` included.
        fallback: The library's settings class, judged in place of *instance* when
            a validator of the whole model refuses every build (the library's
            rules still run, on the library's fields).

    Returns:
        The outcome; :attr:`Outcome.settings` is *instance* when it could be built.
    """
    cls = type(instance)
    outcome = Outcome()
    try:
        sources = open_sources(cls, values)
    except (OSError, UnicodeDecodeError) as exc:
        outcome.findings.append(_unreadable_env_file(values.get("_env_file"), exc))
        return outcome
    try:
        reading = sources.read()
    except (ConfigurationError, SettingsError) as exc:
        outcome.findings.extend(_findings_of(exc))
        outcome.findings.extend(misspellings(cls, sources.present, values))
        return outcome
    outcome.origins = reading.origins
    data, unread = _parse(reading.values, outcome)
    outcome.settings = _configure(instance, data, outcome, fallback)
    if outcome.settings is not None:
        skip = unread | {f.variable for f in outcome.findings}
        rules = getattr(outcome.settings, "rules", RULES)
        judged = evaluate(outcome.settings, rules)  # type: ignore[arg-type]
        outcome.findings.extend(f for f in judged if f.variable not in skip)
    known = {f.variable for f in outcome.findings}
    outcome.findings.extend(
        f for f in misspellings(cls, sources.present, values) if f.variable not in known
    )
    outcome.findings.sort(key=lambda f: f.severity is not Severity.ERROR)
    return outcome


def _parse(data: dict[str, Any], outcome: Outcome) -> tuple[dict[str, Any], frozenset[str]]:
    """*data* with ``DATABASE_URL`` split into the database parts, and the variables left unread.

    A refused ``DATABASE_URL`` leaves the parts it would have given unread, not
    unset: no rule may judge their defaults.
    """
    url = data.get("database_url")
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    if not text:
        return data, frozenset()
    explicit = data.get(_DATABASE, {})
    if isinstance(explicit, DatabaseConfig):
        explicit = explicit.model_dump(include=explicit.model_fields_set)
    try:
        parts = parse_database_url(str(text))
    except ConfigurationError as exc:
        outcome.findings.extend(exc.findings)
        outcome.refused |= {"DATABASE_URL"}
        unread = {variable_for(name) for name in URL_FIELDS - set(explicit)}
        return {**data, "database_url": None}, frozenset(unread)
    return {**data, _DATABASE: {**parts, **explicit}}, frozenset()


def _configure(
    instance: _S, data: dict[str, Any], outcome: Outcome, fallback: type[BaseSettings]
) -> BaseSettings | None:
    """Validate *data* into *instance*, failed fields at their defaults; findings into *outcome*."""
    errors = _validate(instance, data)
    if errors is None:
        return instance
    findings = _findings(type(instance), errors)
    outcome.findings.extend(findings)
    outcome.refused |= {f.variable for f in findings}
    data = _without(data, [tuple(e["loc"]) for e in errors if e["loc"]])
    again = _validate(instance, data)
    if again is None:
        return instance
    # Only a validator of the whole model is left: with the fields valid, it ran this time.
    seen = {(f.variable, f.message) for f in outcome.findings}
    outcome.findings.extend(
        f for f in _findings(type(instance), again) if (f.variable, f.message) not in seen
    )
    judged = fallback.__new__(fallback)
    return judged if _validate(judged, data) is None else None


def _validate(instance: BaseSettings, data: dict[str, Any]) -> list[Any] | None:
    """Validate *data* into *instance* (no source is read); pydantic's errors, or ``None``."""
    try:
        BaseModel.__init__(instance, **data)
    except ValidationError as exc:
        return list(exc.errors(include_url=False))
    return None


def _without(data: dict[str, Any], locations: list[ErrorLocation]) -> dict[str, Any]:
    """*data* without the failing values, so that their defaults apply.

    A failing part of a group given as a mapping (``database.port``) is dropped
    from the group; anything else drops the whole field.
    """
    result = dict(data)
    for top, *rest in locations:
        group = result.get(str(top))
        if rest and isinstance(group, Mapping) and rest[0] in group:
            result[str(top)] = {k: v for k, v in group.items() if k != rest[0]}
        else:
            result.pop(str(top), None)
    return result


def _findings(cls: type[BaseSettings], errors: list[Any]) -> list[Finding]:
    variable = functools.partial(_variable, _delimiter(cls))
    return findings_from_errors(errors, variable, _hidden(cls), _remedies(cls))


def _delimiter(cls: type[BaseSettings]) -> str:
    """How a nested group's variables join the group and the field: ``SECURITY__ROUNDS``."""
    return str(cls.model_config.get("env_nested_delimiter") or "__")


def _variable(delimiter: str, loc: ErrorLocation) -> str:
    """The variable behind an error location; the model as a whole is "configuration".

    ``DB_*`` for the database; a host's nested group is the group and the field
    joined by the nested delimiter (``SECURITY__PASSWORD_BCRYPT_ROUNDS``).
    """
    if not loc:
        return "configuration"
    if loc[0] == _DATABASE and len(loc) > 1:
        return variable_for(str(loc[1]))
    if len(loc) > 1 and isinstance(loc[1], str):
        return f"{loc[0]}{delimiter}{loc[1]}".upper()
    return str(loc[0]).upper()


def _groups(cls: type[BaseSettings]) -> Iterator[tuple[str, FieldInfo]]:
    """Each variable of *cls* with its field: nested groups' fields under their own names."""
    delimiter = _delimiter(cls)
    for name, info in cls.model_fields.items():
        yield name.upper(), info
        group = info.annotation
        if name == _DATABASE or not (isinstance(group, type) and issubclass(group, BaseModel)):
            continue
        for inner, inner_info in group.model_fields.items():
            yield f"{name}{delimiter}{inner}".upper(), inner_info


@functools.cache
def variable_fields(cls: type[BaseSettings]) -> Mapping[str, FieldInfo]:
    """The field behind each variable *cls* reads: ``DB_*``, its own, its nested groups'."""
    fields = {variable_for(name): info for name, info in DatabaseConfig.model_fields.items()}
    fields.update(_groups(cls))
    return fields


@functools.cache
def _remedies(cls: type[BaseSettings]) -> Mapping[str, str]:
    """Each variable's field description: what a finding about it offers as the remedy."""
    remedies = {
        variable_for(name): info.description or ""
        for name, info in DatabaseConfig.model_fields.items()
    }
    remedies.update((variable, info.description or "") for variable, info in _groups(cls))
    return remedies


@functools.cache
def _hidden(cls: type[BaseSettings]) -> frozenset[str]:
    """The variables whose value no finding shows: the library's, and a host's ``SecretStr``."""
    secret = {variable for variable, info in _groups(cls) if "SecretStr" in str(info.annotation)}
    return HIDDEN_VARIABLES | secret


def _findings_of(exc: ConfigurationError | SettingsError) -> list[Finding]:
    if isinstance(exc, ConfigurationError):
        return list(exc.findings)
    return [Finding("configuration", "a value could not be decoded", str(exc))]


def _unreadable_env_file(env_file: object, exc: OSError | UnicodeDecodeError) -> Finding:
    reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
    return Finding(
        "env_file",
        f"cannot read the .env file {str(env_file)!r} ({reason or type(exc).__name__})",
        "save it as UTF-8 text, or give another file",
    )


@functools.cache
def variable_names(cls: type[BaseSettings]) -> tuple[str, ...]:
    """Every environment variable *cls* reads, in schema order."""
    top = [variable for variable, _ in _groups(cls) if variable != _DATABASE.upper()]
    db = [variable_for(name) for name in DatabaseConfig.model_fields]
    files = [name + FILE_SUFFIX for name in SECRET_FILE_VARIABLES]
    # DB_PASSWORD_FILE is both a field (the file kept for rotation) and a secret file.
    return tuple(dict.fromkeys((*top, *db, *files)))


def misspellings(
    cls: type[BaseSettings], present: Collection[str], values: Mapping[str, Any]
) -> list[Finding]:
    """The misspelling check: variables set (*present*) that look like those *cls* reads.

    Args:
        cls: The settings class.
        present: The names of the variables set, as :class:`~agentifui_config.sources.Sources`
            found them.
        values: The arguments the settings were built with, which give values too.
    """
    return misnamed_variables(present, values, variable_names(cls), cls.model_fields)
