"""The one rule for secrets: which names hold them, how they are masked, how text is scrubbed.

Every place that shows a value (errors, reprs, dumps, masked URLs, log lines,
health payloads, the CLI) asks this module whether a name is secret and masks
with its one placeholder, :data:`MASK`. It is the leaf of the package: it
imports nothing from it at run time, so every other module may use it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

if TYPE_CHECKING:
    from agentifui_config.database import DatabaseConfig
    from agentifui_config.settings import EnvironmentSettings

__all__ = [
    "HIDDEN_VARIABLES",
    "MASK",
    "REVEAL_SECRETS",
    "SECRET_NAME_PARTS",
    "SECRET_VARIABLES",
    "config_secrets",
    "is_secret_name",
    "mask",
    "name_pattern",
    "scrub",
    "scrub_config",
    "settings_secrets",
    "url_secrets",
]

MASK: Final = "**********"
"""What is shown in place of a secret value, everywhere; pydantic's ``SecretStr`` shows the same."""

REVEAL_SECRETS: Final = "reveal_secrets"
"""The serialisation context key that makes a dump hold the real secret values.

``config.model_dump_json(context={REVEAL_SECRETS: True})`` (or ``model_dump``)
gives a :class:`~agentifui_config.DatabaseConfig`'s password and secret options
in clear, to hand the configuration to another process; without it they are masked.
"""

SECRET_VARIABLES: Final = (
    "DB_PASSWORD",
    "DB_READ_PASSWORD",
    "SECRET_KEY",
    "DATABASE_URL",
    "MIGRATION_DATABASE_URL",
)
"""The variables whose whole value is a secret; each may also be given as ``<VAR>_FILE``."""

HIDDEN_VARIABLES: Final = frozenset({*SECRET_VARIABLES, "DB_OPTIONS"})
"""The variables whose value an error never shows: the secret ones, and ``DB_OPTIONS``,
whose options may be secret (``sslpassword``)."""

SECRET_NAME_PARTS: Final = (
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "access_key",
    "private_key",
    "authorization",
    "bearer",
    "cookie",
    "credential",
    "session_id",
    "dsn",
    "database_url",
    "connection_string",
    "jwt",
)
"""Parts of names whose values are secret: driver options (``sslpassword``) and log keys
(``db_password``, ``X-Api-Key``). Any case; ``_`` matches ``-`` or nothing. Not a bare
``key``: ``sslkey`` names a file, which is worth showing."""


def name_pattern(parts: Iterable[str]) -> str:
    """A regex matching any of *parts* in a name, where ``_`` matches ``_``, ``-`` or nothing.

    Args:
        parts: Name parts such as :data:`SECRET_NAME_PARTS`; compile case-insensitively.
    """
    return "|".join(
        "[_-]?".join(re.escape(word) for word in part.replace("-", "_").split("_"))
        for part in parts
    )


_SECRET_NAME: Final = re.compile(name_pattern(SECRET_NAME_PARTS), re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def is_secret_name(name: str) -> bool:
    """Whether a value named *name* is a secret: ``sslpassword``, ``api-key``, ``db_password``.

    The one rule for driver options (masked URLs, dumps, the ``DB_*`` lines that
    replace a URL, the CLI's ``show``) and for log keys (the log redaction).
    """
    return _SECRET_NAME.search(name) is not None


def mask(value: object) -> str:
    """Return the placeholder shown instead of a secret value (empty stays visibly empty).

    *value* may be a plain value or a pydantic ``SecretStr``.
    """
    reveal = getattr(value, "get_secret_value", None)
    plain = reveal() if callable(reveal) else value
    return MASK if plain not in (None, "") else "''"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret in *text* with :data:`MASK`.

    Longer secrets are replaced first, so a secret that contains another is not
    left half visible. The percent-encoded forms are replaced too, since that is
    how a password appears inside a URL.
    """
    forms = {form for s in secrets if s for form in (s, quote(s, safe=""), quote_plus(s))}
    for secret in sorted(forms, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def url_secrets(url: str) -> list[str]:
    """The password of *url*, as written and decoded, and its secret query options' values.

    The password is read as SQLAlchemy's URL parser reads it: from the ``:``
    after the user name to the next ``@``, so a password written with ``/``,
    ``#`` or ``?`` unescaped, which that parser accepts, is found whole (the
    standard ``urlsplit`` would end it early). Text that is not a URL is a
    secret as a whole.
    """
    scheme, separator, rest = url.partition("://")
    password, after = _password_and_rest(rest) if separator else ("", rest)
    try:
        query = urlsplit(f"{scheme}://{after}").query if separator else urlsplit(url).query
    except ValueError:
        return [url]
    options = [v for k, v in parse_qsl(query) if is_secret_name(k)]
    return [password, unquote(password), *options]


def _password_and_rest(rest: str) -> tuple[str, str]:
    """The password in *rest* (a URL after ``://``) and what follows its ``@``.

    The user name ends at the first ``:`` or ``/``; a ``:`` there begins the
    password, which the next ``@`` ends. Without that ``@`` there is no
    password (``host:5432/db``).
    """
    user_end = next((i for i, char in enumerate(rest) if char in ":/"), len(rest))
    if rest[user_end : user_end + 1] != ":":
        return "", rest
    password, at, after = rest[user_end + 1 :].partition("@")
    return (password, after) if at else ("", rest)


def config_secrets(config: DatabaseConfig | None) -> list[str]:
    """The secret values of a database configuration: passwords, secret options, migration URL's."""
    if config is None:
        return []
    options = [value for key, value in config.options.items() if is_secret_name(key)]
    url = config.migration_url.get_secret_value() if config.migration_url else ""
    reads = [config.read_password.get_secret_value()] if config.read_password else []
    return [
        config.password.get_secret_value(),
        *reads,
        *options,
        *(url_secrets(url) if url else []),
    ]


def settings_secrets(settings: EnvironmentSettings | None) -> list[str]:
    """The secret values of settings: ``SECRET_KEY``, ``DATABASE_URL``'s and the database's."""
    if settings is None:
        return []
    url = settings.database_url.get_secret_value() if settings.database_url else ""
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    return [key, *(url_secrets(url) if url else []), *config_secrets(settings.database)]


def scrub_config(text: str, config: DatabaseConfig | None) -> str:
    """*text* with *config*'s password and secret options masked, for errors and health reports."""
    return scrub(text, config_secrets(config))
