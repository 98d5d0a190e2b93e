"""A :class:`~agentifui_config.DatabaseConfig`'s URL, and the variables that name its fields.

The URL is always composed from the parts through SQLAlchemy's :class:`URL`,
never by string formatting, so a password holding ``@``, ``/`` or ``%``
survives; a legacy ``DATABASE_URL`` is decomposed the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, quote_plus

from agentifui_config.secrecy import MASK, is_secret_name, mask
from agentifui_config.url_parsing import parse_database_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from agentifui_config.database import DatabaseConfig

__all__ = [
    "DB_PREFIX",
    "FIELD_VARIABLES",
    "MIGRATION_URL_VARIABLE",
    "SESSION_ATTRS",
    "compose_url",
    "field_for",
    "masked_url",
    "replacement_lines",
    "variable_for",
]

DB_PREFIX: Final = "DB_"
"""The prefix of the environment variables that fill a :class:`DatabaseConfig`."""

SESSION_ATTRS: Final = "target_session_attrs"
"""The libpq/asyncpg option choosing among several hosts by their role."""

MIGRATION_URL_VARIABLE: Final = "MIGRATION_DATABASE_URL"
"""The variable holding a whole URL for migrations; the field ``migration_url``."""

FIELD_VARIABLES: Final[Mapping[str, str]] = {"migration_url": MIGRATION_URL_VARIABLE}
"""The fields read from a variable of their own name rather than ``DB_<FIELD>``."""

# FIELD_VARIABLES read the other way: the field each own-named variable fills.
_VARIABLE_FIELDS: Final[Mapping[str, str]] = {name: f for f, name in FIELD_VARIABLES.items()}


def variable_for(field: str) -> str:
    """The environment variable that fills the :class:`DatabaseConfig` field *field*.

    ``DB_<FIELD>`` (``DB_HOST``), except :data:`FIELD_VARIABLES`'s own names.
    """
    return FIELD_VARIABLES.get(field) or DB_PREFIX + field.upper()


def field_for(variable: str) -> str:
    """The :class:`DatabaseConfig` field that *variable* (``DB_HOST``) fills."""
    upper = variable.upper()
    return _VARIABLE_FIELDS.get(upper) or upper.removeprefix(DB_PREFIX).lower()


def compose_url(config: DatabaseConfig) -> URL:
    """*config*'s connection URL as a :class:`sqlalchemy.engine.URL`, password included.

    A unix-socket directory travels as the ``host`` query option, which is
    how asyncpg and libpq read it (SQLAlchemy would bracket a host holding
    ``:``). Several hosts travel in SQLAlchemy's multi-host form.
    """
    from sqlalchemy.engine import URL  # noqa: PLC0415 - loaded by the first URL built

    query: dict[str, str | tuple[str, ...]] = dict(config.options)
    host: str | None = config.host
    if len(hosts := config.hosts) > 1:
        # SQLAlchemy's multi-host form, which asyncpg tries in turn; the primary
        # pool takes only the host that accepts writes.
        query["host"] = tuple(f"{name}:{port}" for name, port in hosts)
        query.setdefault(SESSION_ATTRS, "read-write")
        return URL.create(
            config.driver,
            username=config.username,
            password=config.password.get_secret_value() or None,
            database=config.database,
            query=query,
        )
    if config.is_unix_socket:
        query["host"] = config.host
        host = None
    return URL.create(
        config.driver,
        username=config.username,
        password=config.password.get_secret_value() or None,
        host=host,
        port=config.port,
        database=config.database,
        query=query,
    )


def masked_url(url: URL) -> str:
    """*url* as text with the password (and any secret option) masked."""
    hidden = {key: MASK for key in url.query if is_secret_name(key)}
    if url.password is not None:
        url = url.set(password=MASK)
    text = url.update_query_dict(hidden).render_as_string(hide_password=False)
    # The URL is percent-encoded; show the mask as it is.
    return text.replace(quote_plus(MASK), MASK).replace(quote(MASK, safe=""), MASK)


def replacement_lines(url: str, *, show_password: bool = False) -> list[str]:
    """The ``DB_*`` lines equivalent to a legacy ``DATABASE_URL``, password masked unless asked.

    Raises:
        ConfigurationError: The URL is not a PostgreSQL URL.
    """
    return [
        f"{variable_for(name)}={_env_value(name, value, show_password)}"
        for name, value in parse_database_url(url).items()
    ]


def _env_value(name: str, value: object, show_password: bool) -> str:
    """One ``DB_*`` value of :func:`replacement_lines`: the password and secret options masked."""
    if name == "password" and not show_password:
        return mask(value)
    if isinstance(value, dict):
        # An option such as sslpassword is masked as masked_url masks it.
        hidden = {k: mask(v) for k, v in value.items() if is_secret_name(k)}
        return json.dumps(value if show_password else {**value, **hidden})
    return str(value)
