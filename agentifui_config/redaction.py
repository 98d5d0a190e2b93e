"""Masking secrets in log events and text: the :class:`RedactSecrets` processor.

It needs no logging set-up: :mod:`agentifui_config.logging` puts it in every
line's processor chain, and a host with its own structlog configuration can add
it to its chain. Which keys are secret, and the mask, come from
:mod:`agentifui_config.secrecy`, the rule every other place follows too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, quote_plus

from pydantic import SecretStr

from agentifui_config.secrecy import (
    SECRET_NAME_PARTS,
    mask,
    name_pattern,
    scrub,
    settings_secrets,
)

if TYPE_CHECKING:
    from structlog.typing import EventDict, WrappedLogger

    from agentifui_config.settings import EnvironmentSettings

__all__ = ["SECRET_KEY_PARTS", "RedactSecrets", "without_background"]

SECRET_KEY_PARTS: Final = SECRET_NAME_PARTS
"""Parts of key names whose values are masked; the same as ``secrecy.SECRET_NAME_PARTS``."""

_MAX_DEPTH: Final = 8
_CACHED_KEYS: Final = 1024
_WORDS_SHOWN: Final = frozenset({"true", "false", "none", "null"})
# Possessive quantifiers (Python 3.11) and token-start lookbehinds keep every
# pattern linear in the text's length, however hostile the text.
_URL: Final = re.compile(
    r"(?<![a-z0-9+.\-])(?P<scheme>[a-z][a-z0-9+.\-]*+://)(?P<rest>[^\s\"'<>\\]++)", re.IGNORECASE
)
_USER_END: Final = frozenset("/?#@")
# An HTTP header line: the whole value is the credential (``Basic``, cookies, ...).
_HEADER: Final = re.compile(
    r"(?<![\w-])(?P<name>(?:proxy-)?authorization|(?:set-)?cookie|(?:x-)?api-key|x-auth-token)"
    r"(?P<sep>\s*+:\s*+)"
    r"(?P<value>[^\r\n\"'\\]++)",
    re.IGNORECASE,
)
# The link SQLAlchemy appends to an error's text, on a line of its own.
_BACKGROUND: Final = re.compile(r"\(Background on this error at: [^\s)\"'\\]*+\)")
_BACKGROUND_START: Final = "(Background on this error at: "
_BEARER: Final = re.compile(r"(?P<scheme>\bbearer\s++)(?P<value>[\w\-.~+/]++=*)", re.IGNORECASE)


class RedactSecrets:
    """A structlog processor that masks secrets in an event's values, nested ones included.

    Two rules apply. By key: the value of every key whose name contains one of
    :data:`SECRET_KEY_PARTS` or *extra_secret_keys* (``db_password``,
    ``X-Api-Key``, ``Set-Cookie``) is masked whole, unless it is a number, a
    boolean or ``None`` (``prompt_tokens=812`` is a count, not a secret). By
    content: in every string, the event message and rendered tracebacks
    included, each of *secrets* is masked wherever it appears, and so are the
    password of any ``scheme://user:password@host`` URL, the values of
    ``password=...`` and ``"password": ...`` pairs, of ``Authorization:`` and
    ``Cookie:`` header lines, and ``Bearer`` tokens.

    Run it after ``format_exc_info``, so that tracebacks are text when it sees
    them. ``repr()`` tells how many secrets it holds, never their values.

    Args:
        secrets: Values to mask wherever they appear; empty ones are ignored.
        extra_secret_keys: Key name parts to treat as secret besides
            :data:`SECRET_KEY_PARTS`.
    """

    def __init__(
        self,
        secrets: Iterable[str | SecretStr | None] = (),
        *,
        extra_secret_keys: Iterable[str] = (),
    ) -> None:
        """Compile the patterns once: scrubbing runs for every log line."""
        plain = {_reveal(s) for s in secrets} - {""}
        self._count = len(plain)
        # Each secret as written, and as JSON, repr() or a URL escape it.
        self._secrets = tuple(sorted({v for s in plain for v in _spellings(s)}, key=len)[::-1])
        self._extra_keys = tuple(k for k in extra_secret_keys if k.strip("_- "))
        parts = (*SECRET_KEY_PARTS, *self._extra_keys)
        keys = name_pattern(parts)
        self._secret_key = re.compile(keys, re.IGNORECASE)
        # key=value, or a quoted key and a colon ("key": value); a bare "KEY: text"
        # is prose, like the library's own "SECRET_KEY: is too short" findings.
        self._pair = re.compile(
            rf"(?<![\w.\-])(?=[\w.\-]*?(?:{keys}))(?P<key>[\w.\-]++)"
            r"(?P<sep>\s*+=\s*+|[\"']\s*+:\s*+)"
            r"(?P<value>\"[^\"\r\n]*+\"|'[^'\r\n]*+'"
            r"|(?:(?:bearer|basic|digest|token)\s+)?[^\s\"'&,;<>\\)}\]]++)",
            re.IGNORECASE,
        )
        # Cheap substring tests that rule a pattern out before the regex runs.
        self._hints = tuple({spelling for p in parts for spelling in _key_spellings(p)})
        self._known_keys: dict[str, bool] = {}

    @classmethod
    def from_settings(
        cls,
        settings: EnvironmentSettings,
        *,
        extra_secrets: Iterable[str | SecretStr | None] = (),
        extra_secret_keys: Iterable[str] = (),
    ) -> RedactSecrets:
        """The redactor for *settings*: each value ``secrecy.settings_secrets()`` names is masked.

        That is ``SECRET_KEY``, ``DB_PASSWORD``, the secret ``DB_OPTIONS`` and,
        of ``DATABASE_URL``, the password and secret query options, so a logged
        URL still names its host and database.

        Args:
            settings: The configuration whose secret values are masked.
            extra_secrets: Further values to mask (an API key the service holds).
            extra_secret_keys: Further key name parts whose values are masked.
        """
        values = [*settings_secrets(settings), *extra_secrets]
        return cls(values, extra_secret_keys=extra_secret_keys)

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        """Mask the secrets in *event_dict*, in place, and return it."""
        for key, value in event_dict.items():
            event_dict[key] = self._value(key, value, 0)
        return event_dict

    def __repr__(self) -> str:
        return f"RedactSecrets(secrets={self._count}, extra_keys={self._extra_keys!r})"

    def is_secret_key(self, key: object) -> bool:
        """Whether values under the key *key* are masked."""
        if not isinstance(key, str):
            return False
        known = self._known_keys.get(key)
        if known is None:
            known = self._secret_key.search(key) is not None
            if len(self._known_keys) < _CACHED_KEYS:
                self._known_keys[key] = known
        return known

    def redact(self, value: object) -> object:
        """*value* with every secret masked: strings scrubbed, containers copied and walked."""
        return self._walk(value, 0)

    def scrub(self, text: str) -> str:
        """*text* with known secrets, URL passwords, secret pairs, headers and tokens masked."""
        text = self.scrub_rendered(text)
        lower = text.lower()
        if any(hint in lower for hint in self._hints):
            text = _HEADER.sub(_mask_value, self._pair.sub(_mask_value, text))
        return _BEARER.sub(_mask_value, text) if "bearer" in lower else text

    def scrub_rendered(self, line: str) -> str:
        """A rendered log line with the known secrets and URL passwords masked.

        The last guard after rendering: a key or pair rule would now mask a
        count in ``"max_tokens": 4096``, so only these two rules run.
        """
        if any(secret in line for secret in self._secrets):
            line = scrub(line, self._secrets)
        return _URL.sub(_mask_userinfo, line) if "://" in line else line

    def _value(self, key: object, value: object, depth: int) -> object:
        """*value* masked whole if *key* looks secret, else walked."""
        if self.is_secret_key(key) and not _is_plain_scalar(value):
            return mask(value)
        return self._walk(value, depth)

    def _walk(self, value: object, depth: int) -> object:
        """*value* with the secrets inside it masked, *depth* levels down."""
        if isinstance(value, str):
            return self.scrub(value)
        if _is_plain_scalar(value) or hasattr(type(value), "__structlog__"):
            return value
        if depth < _MAX_DEPTH and isinstance(value, Mapping):
            return {
                self._walk(k, depth + 1): self._value(k, v, depth + 1) for k, v in value.items()
            }
        if depth < _MAX_DEPTH and isinstance(value, list | tuple) and not _is_named(value):
            items = [self._walk(v, depth + 1) for v in value]
            return items if isinstance(value, list) else tuple(items)
        # Renderers show any other object, and anything nested deeper, as its
        # repr(): scrub that text, so a secret in an object's fields is masked too.
        return self.scrub(_safe_repr(value))


def without_background(text: str) -> str:
    r"""*text* without SQLAlchemy's ``(Background on this error at: <link>)`` line.

    The link helps a developer reading a traceback; in an operator's one-line
    message (a CLI error, a log line) it only breaks the line in two. The line
    break before it goes too, whether a real one or ``\n`` as JSON and
    ``repr()`` render it.
    """
    if _BACKGROUND_START not in text:
        return text
    parts = _BACKGROUND.split(text)
    kept = [_without_trailing_break(part) for part in parts[:-1]]
    return "".join([*kept, parts[-1]])


def _without_trailing_break(text: str) -> str:
    text = text.rstrip()
    while text.endswith("\\n"):
        text = text[:-2].rstrip()
    return text


def _mask_userinfo(match: re.Match[str]) -> str:
    """``scheme://user:password@host...`` with the password masked, up to the last ``@``."""
    user, colon, after = match["rest"].partition(":")
    password, at, host = after.rpartition("@")
    if not (colon and at) or _USER_END.intersection(user):
        return match[0]
    return f"{match['scheme']}{user}:{mask(password)}@{host}"


def _mask_value(match: re.Match[str]) -> str:
    """The match with its ``value`` group masked (inside its quotes), unless a constant."""
    start, end = match.span("value")
    value = match["value"]
    if value[:1] in "\"'" and len(value) > 1:  # a quoted value: keep the quotes
        start, end, value = start + 1, end - 1, value[1:-1]
    if not value or value.lower() in _WORDS_SHOWN:
        return match[0]
    offset = match.start()
    return f"{match[0][: start - offset]}{mask(value)}{match[0][end - offset :]}"


def _reveal(value: str | SecretStr | None) -> str:
    """The plain text of a secret given in any form; ``""`` for none."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value or ""


def _spellings(secret: str) -> set[str]:
    """*secret* as written, and as JSON, ``repr()`` and URL encoding escape it."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
    }


def _key_spellings(part: str) -> set[str]:
    """How *part* can be written in a key, lower-cased: ``api_key``, ``api-key``, ``apikey``."""
    words = part.lower().replace("-", "_").split("_")
    return {separator.join(words) for separator in ("_", "-", "")}


def _is_plain_scalar(value: object) -> bool:
    """Whether *value* is a number, a boolean or ``None``: shown even under a secret key."""
    return value is None or isinstance(value, bool | int | float)


def _is_named(value: list[object] | tuple[object, ...]) -> bool:
    """Whether *value* is a namedtuple or another subclass, whose repr() tells more."""
    return type(value) not in (list, tuple)


def _safe_repr(value: object) -> str:
    """``repr(value)``, or a placeholder naming the type when that raises."""
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not lose the log line
        return f"<{type(value).__qualname__} object, repr() failed>"
