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
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeAlias

from agentifui_config.drivers import driver_package
from agentifui_config.errors import ConfigurationError, Finding, Severity
from agentifui_config.sources import read_secret_file

if TYPE_CHECKING:
    from agentifui_config.database import DatabaseConfig

__all__ = [
    "Credentials",
    "PasswordProvider",
    "file_credentials",
    "password_file",
    "pool_recycle_for",
    "replica_credentials",
]

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

    Kubernetes updates a mounted secret in place: each new connection looks at
    the file again (in a worker thread), so it logs in with the current
    password while open connections keep theirs. The file is read only when
    its status (modification time, size, inode) changed; a file that vanishes
    or cannot be read keeps the last password read, with a warning. A trailing
    line break is dropped, as for ``DB_PASSWORD_FILE``.

    Args:
        path: The secret file.
        lifetime: Seconds after which a pooled connection is renewed, if any.
    """
    return Credentials(_RotatedFile(Path(path), variable="credentials").read, lifetime=lifetime)


def file_credentials(config: DatabaseConfig) -> Credentials | None:
    """The credentials of ``DB_PASSWORD_FILE``, read again once it changes, or ``None``.

    ``None`` without a :attr:`~agentifui_config.DatabaseConfig.password_file`
    and for a driver other than asyncpg, whose ``connect()`` takes no callable
    password: it logs in with the password read at start.
    """
    return _rotated(config, config.password_file, config.password.get_secret_value())


def replica_credentials(config: DatabaseConfig, shared: Credentials | None) -> Credentials | None:
    """What the read replicas of *config* log in with, given the primary's *shared* credentials.

    *shared* unless ``DB_READ_PASSWORD`` (or ``DB_READ_PASSWORD_FILE``) gives the
    replicas a password of their own: then ``DB_READ_PASSWORD_FILE``'s, read
    again once it changes as ``DB_PASSWORD_FILE`` is, or ``None``, the
    password read at start (in each read target's configuration).
    """
    if config.read_password is None and config.read_password_file is None:
        return shared
    start = config.read_password.get_secret_value() if config.read_password else ""
    return _rotated(config, config.read_password_file, start, "DB_READ_PASSWORD_FILE")


def _rotated(
    config: DatabaseConfig, path: str | None, last: str, variable: str = "DB_PASSWORD_FILE"
) -> Credentials | None:
    """Credentials reading *path* again once it changes, *last* read at start; asyncpg only."""
    if path is None or driver_package(config.driver) != "asyncpg":
        return None
    return Credentials(_RotatedFile(Path(path), last=last or None, variable=variable).read)


# A file changed less than this long ago may change again within the same
# timestamp (file systems stamp with a coarse clock): it is read every time.
_RACY_NS: Final = 2_000_000_000
_READABLE: Final = "point it at a readable UTF-8 file"


class _RotatedFile:
    """A secret file read again only once its status changes; the last good password kept."""

    def __init__(
        self, path: Path, *, last: str | None = None, variable: str = "DB_PASSWORD_FILE"
    ) -> None:
        """Read *path* on the first call, or *last* (the password read at start) if it fails.

        *variable* is what errors and warnings name: the setting that gave *path*.
        """
        self._path = path
        self._variable = variable
        self._state: tuple[tuple[int, int, int] | None, str | None] = (None, last)
        self._failing = False

    def read(self) -> str:
        """The file's password, from the cache when the file's status is unchanged.

        Raises:
            ConfigurationError: The file cannot be read and no password was ever read.
        """
        key, password = self._state
        try:
            status = self._path.stat()
        except OSError:
            new = None  # the read below fails too, and says why
        else:
            new = (status.st_mtime_ns, status.st_size, status.st_ino)
            if new == key and password is not None and not self._racy(status.st_mtime_ns):
                return password
        try:
            password = read_secret_file(self._path, self._variable, _READABLE)
        except ConfigurationError as error:
            return self._fallback(password, error)
        self._state, self._failing = (new, password), False
        return password

    @staticmethod
    def _racy(mtime_ns: int) -> bool:
        return time.time_ns() - mtime_ns < _RACY_NS

    def _fallback(self, password: str | None, error: ConfigurationError) -> str:
        """*password*, the last one read, with a warning the first time; or raise *error*."""
        if password is None:
            raise error
        if not self._failing:
            self._failing = True
            _LOG.warning(
                "%s: %s; new connections keep the last password read until it can be read again",
                self._variable,
                error.findings[0].message,
                extra={"event_name": "password_file_unreadable", "variable": self._variable},
            )
        return password


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
