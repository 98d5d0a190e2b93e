"""The targets reads are routed to: one configuration per replica, with its login.

Derived from the primary's :class:`~agentifui_config.DatabaseConfig`: each
``DB_READ_HOSTS`` entry (or a standby of a multi-host primary) shares the
primary's settings and login unless ``DB_READ_PASSWORD`` gives the replicas
their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import SecretStr

from agentifui_config.errors import ConfigurationError
from agentifui_config.url_parsing import parse_host_ports
from agentifui_config.urls import SESSION_ATTRS

if TYPE_CHECKING:
    from agentifui_config.database import DatabaseConfig

__all__ = ["checked_read_login", "read_configs"]

# What reads from a multi-host primary ask for: a standby when one answers.
_PREFER: Final = "prefer-standby"

# The fields of a read target's own login, cleared on the target itself.
_READ_LOGIN: Final[Mapping[str, None]] = dict.fromkeys(
    ("read_username", "read_password", "read_password_file")
)

_C = TypeVar("_C", bound="DatabaseConfig")


def read_configs(config: DatabaseConfig) -> tuple[DatabaseConfig, ...]:
    """The configurations reads are routed to, in rotation order: see ``read_targets``.

    One per ``read_hosts`` entry, or one ``prefer-standby`` target for a
    multi-host primary without any; each logs in as ``read_username`` with
    ``read_password`` (and its file) when a read password is given, else as the primary.
    """
    options = {k: v for k, v in config.options.items() if k != SESSION_ATTRS}
    update: dict[str, Any] = {"read_hosts": (), "options": options, **_READ_LOGIN}
    if config.read_password is not None or config.read_password_file is not None:
        update["username"] = config.read_username or config.username
        update["password"] = config.read_password or SecretStr("")
        update["password_file"] = config.read_password_file
    if not config.read_hosts:
        if len(config.hosts) == 1:
            return ()
        return (
            config.model_copy(update={**update, "options": {**options, SESSION_ATTRS: _PREFER}}),
        )
    return tuple(
        config.model_copy(update={**update, "host": host, "port": port or config.port})
        for host, port in parse_host_ports(config.read_hosts)
    )


def checked_read_login(config: _C) -> _C:
    """*config*, unless it names a read user without a read password.

    Raises:
        ConfigurationError: ``DB_READ_USERNAME`` is set without ``DB_READ_PASSWORD``.
    """
    if config.read_username is None or config.read_password is not None:
        return config
    if config.read_password_file is not None:
        return config
    raise ConfigurationError(
        "is set without DB_READ_PASSWORD; the replicas would log in as that user "
        "with the primary's password",
        variable="DB_READ_USERNAME",
        remedy="set DB_READ_PASSWORD (or DB_READ_PASSWORD_FILE) to that user's password, "
        "or unset DB_READ_USERNAME to read as DB_USERNAME",
    )
