"""Which PostgreSQL server a test run uses, told in its header and summary.

The header says where the server comes from before any test runs: the URL of
``AGENTIFUI_TEST_DATABASE_URL`` (its password masked), or the embedded server,
started when a test first needs it. The summary says which server the tests
ran on (``embedded PostgreSQL 16.4 at ...``), or why the tests that needed one
were skipped. Nothing here connects or imports the driver: the plugin stays
light to load.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Final

import pytest

from agentifui_config.secrecy import MASK, scrub, url_secrets

__all__ = [
    "SERVER_USED",
    "SKIPPED_BECAUSE",
    "configured_url",
    "embedded_installable",
    "header_line",
    "summary_lines",
]

# agentifui_config.testing.postgres.URL_VARIABLE, not imported from there: that loads asyncpg.
_URL_VARIABLE: Final = "AGENTIFUI_TEST_DATABASE_URL"
_PREFIX: Final = "agentifui-config: "

SERVER_USED: Final = pytest.StashKey[str]()
"""The config stash key holding the server the run's tests used, as the summary shows it."""

SKIPPED_BECAUSE: Final = pytest.StashKey[str]()
"""The config stash key holding why the tests that need PostgreSQL were skipped."""


def configured_url() -> str | None:
    """The value of ``AGENTIFUI_TEST_DATABASE_URL``; ``None`` when it is unset or blank."""
    value = os.environ.get(_URL_VARIABLE, "").strip()
    return value or None


def embedded_installable() -> bool:
    """Whether the embedded server's package, pgserver, is installed (it is not imported)."""
    try:
        return importlib.util.find_spec("pgserver") is not None
    except (ImportError, ValueError):
        return False


def header_line() -> str:
    """The header line naming the server the run will use, without its password."""
    url = configured_url()
    if url is not None:
        shown = _masked(url)
        if shown is None:
            return f"{_PREFIX}PostgreSQL from {_URL_VARIABLE}, which is not a valid URL"
        return f"{_PREFIX}PostgreSQL at {shown} ({_URL_VARIABLE})"
    if embedded_installable():
        return f"{_PREFIX}embedded PostgreSQL (pgserver), started when a test first needs it"
    return (
        f"{_PREFIX}no PostgreSQL: {_URL_VARIABLE} is not set and pgserver is not installed, "
        "so the tests that need it are skipped"
    )


def summary_lines(config: pytest.Config) -> list[str]:
    """The summary lines: the server the tests ran on, or why they were skipped."""
    lines = []
    if SERVER_USED in config.stash:
        lines.append(f"{_PREFIX}the tests ran on {config.stash[SERVER_USED]}")
    if SKIPPED_BECAUSE in config.stash:
        lines.append(
            f"{_PREFIX}the tests that need PostgreSQL were skipped: {config.stash[SKIPPED_BECAUSE]}"
        )
    return lines


def _masked(url: str) -> str | None:
    """*url* as written, its password and secret options masked; ``None`` if no PostgreSQL URL.

    Read with the standard library, as the secret rule reads URLs: building
    SQLAlchemy's URL would load SQLAlchemy in every run, before any test needs it.
    """
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme.lower().startswith("postgres"):
        return None
    masked = f"{scheme}://{_password_masked(rest)}"
    return scrub(masked, url_secrets(masked))


def _password_masked(rest: str) -> str:
    """*rest*, a URL after its ``://``, masked from its first ``:`` to its last ``@``.

    A password written unescaped may hold ``/``, ``#``, ``?``, ``@`` or ``:``,
    where ``urlsplit`` ends the user part early and leaves the rest of the
    password in the host, path or query. The last ``@`` is taken even in a path
    or query: masking a host or a path too shows less, never the password.
    """
    at = rest.rfind("@")
    colon = rest.find(":", 0, max(at, 0))
    if colon < 0:
        return rest
    return f"{rest[: colon + 1]}{MASK}{rest[at:]}"
