"""The direct migration target: ``DB_MIGRATION_HOST``/``_PORT`` or ``MIGRATION_DATABASE_URL``.

A session advisory lock taken through a pooler in transaction mode can be
stranded on a server session, so the locked upgrade connects past the pooler
when a direct target is set. Two ways to name it, never both:

- ``DB_MIGRATION_HOST`` and/or ``DB_MIGRATION_PORT``: the primary's database,
  user and settings, reached at another host or port;
- ``MIGRATION_DATABASE_URL``: a whole URL, parsed as ``DATABASE_URL`` is, which
  may name its own user, password and database (a role with DDL rights). The
  parts it gives win; what it leaves out is the primary's, except the password
  when it names another user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from agentifui_config.errors import ConfigurationError, Finding
from agentifui_config.secrecy import REVEAL_SECRETS
from agentifui_config.url_parsing import parse_database_url
from agentifui_config.urls import MIGRATION_URL_VARIABLE, field_for, variable_for

if TYPE_CHECKING:
    from pydantic import SecretStr

    from agentifui_config.database import DatabaseConfig

__all__ = ["checked_migration_url", "direct_config"]

# The fields MIGRATION_DATABASE_URL may not be given with.
_CLASHING: Final = ("migration_host", "migration_port")

# What a direct target never takes from the primary: it is reached past the pooler.
_DIRECT: Final[Mapping[str, Any]] = {
    "pgbouncer": False,
    "migration_host": None,
    "migration_port": None,
    "migration_url": None,
}

_C = TypeVar("_C", bound="DatabaseConfig")


def checked_migration_url(
    cls: type[DatabaseConfig], value: SecretStr | None, given: Mapping[str, Any]
) -> SecretStr | None:
    """*value* once it is a database URL *cls* accepts and no other direct target is set.

    Args:
        cls: The configuration class, which validates the URL's parts.
        value: The ``MIGRATION_DATABASE_URL`` given; blank counts as unset.
        given: The fields validated so far (``migration_host``, ``migration_port``).

    Raises:
        ConfigurationError: Findings naming ``MIGRATION_DATABASE_URL``, its value never shown.
    """
    if value is None or not value.get_secret_value().strip():
        return None
    clashes = " and ".join(
        variable_for(field) for field in _CLASHING if given.get(field) is not None
    )
    if clashes:
        raise ConfigurationError(
            f"is set together with {clashes}; both name the migration target",
            variable=MIGRATION_URL_VARIABLE,
            remedy=f"give the host and port in the URL and unset {clashes}, "
            f"or unset {MIGRATION_URL_VARIABLE}",
        )
    try:
        cls.from_url(value.get_secret_value())
    except ConfigurationError as exc:
        findings = exc.findings
    else:
        return value
    raise ConfigurationError([_renamed(finding) for finding in findings]) from None


def _renamed(finding: Finding) -> Finding:
    """A finding about a part of the URL (``DB_PORT``), told of ``MIGRATION_DATABASE_URL``."""
    part = field_for(finding.variable)
    message = finding.message if part == "database_url" else f"its {part}: {finding.message}"
    return Finding(MIGRATION_URL_VARIABLE, message, finding.remedy)


def direct_config(config: _C) -> _C | None:
    """The configuration migrations connect with, past the pooler, or ``None`` when none is set.

    Raises:
        ConfigurationError: ``MIGRATION_DATABASE_URL`` is not valid (checked when
            *config* was built, so only for a configuration built without validation).
    """
    if config.migration_url is not None:
        return _from_url(config, config.migration_url.get_secret_value())
    if config.migration_host is None and config.migration_port is None:
        return None
    direct = {
        "host": config.migration_host or _moved(config, config.migration_port),
        "port": config.migration_port or config.port,
        **_DIRECT,
    }
    return config.model_copy(update=direct)


def _moved(config: DatabaseConfig, port: int | None) -> str:
    """The primary's ``host``, each host of a ``DB_HOST`` list at *port* when one is given.

    An entry's own port wins over ``port`` (``DB_HOST=pgb-a:6432,pgb-b:6432``):
    ``DB_MIGRATION_PORT`` must move it too, or migrations would still reach the
    pooler. Entries of a list are host names or IPv4 addresses, so ``host:port``
    needs no brackets.
    """
    if port is None or len(config.hosts) == 1:
        return config.host
    return ",".join(f"{host}:{port}" for host, _ in config.hosts)


def _from_url(config: _C, url: str) -> _C:
    """*config* with the parts *url* gives in place of its own, validated."""
    parts: dict[str, Any] = dict(parse_database_url(url, variable=MIGRATION_URL_VARIABLE))
    if parts.get("username", config.username) != config.username:
        parts.setdefault("password", "")  # another role never gets the primary role's password
    if "password" in parts:
        parts["password_file"] = None  # the URL's password is the one to use
    options = {**config.options, **parts.pop("options", {})}
    fields = config.model_dump(context={REVEAL_SECRETS: True})
    return type(config).model_validate({**fields, **parts, "options": options, **_DIRECT})
