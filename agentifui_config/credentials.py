"""Rotating credentials: a password or token fetched for each new connection.

Short-lived credentials (AWS RDS IAM tokens, Cloud SQL and Azure Entra
tokens, a Kubernetes secret file that is rotated) cannot sit in the URL. A
:class:`Credentials` holds a provider, a callable (sync or async) that returns
the password to use, and asyncpg calls it for every new connection through its
callable ``password`` argument; a sync provider runs in a worker thread, so a
slow token service never blocks the event loop. Pooled connections are renewed
before the token's lifetime ends, by keeping ``pool_recycle`` below it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeAlias

from agentifui_config.errors import ConfigurationError, Finding, Severity

if TYPE_CHECKING:
    from agentifui_config.database import DatabaseConfig

__all__ = ["Credentials", "PasswordProvider", "password_file", "pool_recycle_for"]

_LOG = logging.getLogger("agentifui_config")

PasswordProvider: TypeAlias = Callable[[], str | Awaitable[str]]
"""A callable, sync or async, that returns the password (or token) for one new connection."""

_RECYCLE_SHARE: Final = 0.8
"""The share of the credentials' lifetime after which a pooled connection is renewed."""


@dataclass(frozen=True)
class Credentials:
    """A password provider, called for each new connection, and how long what it returns lasts.

    Example:
        >>> creds = Credentials(lambda: "token", lifetime=900)
        >>> creds.lifetime
        900

    Attributes:
        provider: Returns the password for one new connection; a sync one runs
            in a worker thread.
        lifetime: Seconds a password stays valid for new logins (an RDS IAM
            token: 900); pooled connections are renewed before it ends.
            ``None`` when it does not expire.
    """

    provider: PasswordProvider = field(repr=False)
    lifetime: float | None = None

    def __post_init__(self) -> None:
        """Refuse a lifetime that is not a positive number of seconds."""
        if self.lifetime is not None and not self.lifetime > 0:
            raise ConfigurationError(
                f"lifetime must be a positive number of seconds, got {self.lifetime!r}",
                variable="credentials",
                remedy="give the seconds a password stays valid, or None when it does not expire",
            )

    async def password(self) -> str:
        """Call the provider off the event loop when it is sync, and return its password.

        This is what asyncpg calls for each new connection.
        """
        if inspect.iscoroutinefunction(self.provider):
            return await self.provider()  # type: ignore[no-any-return]
        result = await asyncio.to_thread(self.provider)
        return await result if inspect.isawaitable(result) else result


def password_file(path: str | os.PathLike[str], *, lifetime: float | None = None) -> Credentials:
    """Credentials read from a file for each new connection, as a rotated secret is.

    Kubernetes updates a mounted secret in place: each new connection reads
    the file again (in a worker thread), so it logs in with the current
    password while open connections keep theirs. A trailing line break is
    dropped, as for ``DB_PASSWORD_FILE``.

    Args:
        path: The secret file.
        lifetime: Seconds after which a pooled connection is renewed, if any.
    """
    source = Path(path)

    def read() -> str:
        return source.read_text(encoding="utf-8").rstrip("\r\n")

    return Credentials(read, lifetime=lifetime)


def pool_recycle_for(config: DatabaseConfig, credentials: Credentials | None) -> int:
    """The ``pool_recycle`` to use: the configured one, kept below the credentials' lifetime.

    A configured recycle longer than the lifetime is shortened to 80 % of it,
    and the change is logged as a warning finding that names ``DB_POOL_RECYCLE``.
    """
    if credentials is None or credentials.lifetime is None:
        return config.pool_recycle
    limit = max(1, int(credentials.lifetime * _RECYCLE_SHARE))
    if config.pool_recycle <= limit:
        return config.pool_recycle
    finding = Finding(
        "DB_POOL_RECYCLE",
        f"{config.pool_recycle} s is longer than the credentials' lifetime of "
        f"{credentials.lifetime:g} s; connections are renewed after {limit} s instead",
        f"set DB_POOL_RECYCLE to {limit} or less",
        severity=Severity.WARNING,
    )
    _LOG.warning(
        "%s", finding, extra={"event_name": "configuration_warning", "variable": finding.variable}
    )
    return limit
