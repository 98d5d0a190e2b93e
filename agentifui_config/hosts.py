"""Where the server is: host names, addresses, socket directories and host lists, checked.

:class:`~agentifui_config.DatabaseConfig` validates ``DB_HOST``,
``DB_MIGRATION_HOST``, ``DB_READ_HOSTS`` and ``DB_PORT`` with these functions;
they hold no state and load nothing beyond the standard library and the parsers.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from agentifui_config.errors import ConfigurationError
from agentifui_config.url_parsing import parse_host_ports

__all__ = [
    "checked_host",
    "checked_read_hosts",
    "host_entry",
    "is_valid_host",
    "refuse_service_link",
]

_DNS_LABEL: Final = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
# What Kubernetes puts in DB_PORT for a Service named "db" (its docker-link variables).
_SERVICE_LINK: Final = re.compile(r"\s*tcp://[^\s/]+:\d+\s*")


def refuse_service_link(value: object) -> object:
    """*value* unchanged, unless it is a Kubernetes service link (``tcp://10.0.0.1:5432``).

    Raises:
        ConfigurationError: *value* is a service link, naming ``DB_PORT``.
    """
    if isinstance(value, str) and _SERVICE_LINK.fullmatch(value):
        raise ConfigurationError(
            f"{value.strip()!r} is a Kubernetes service link, not a port "
            "(a Service named 'db' sets DB_PORT in every pod of its namespace)",
            variable="DB_PORT",
            remedy="set DB_PORT to a number in the pod spec, or enableServiceLinks: false",
        )
    return value


def checked_host(value: str | None) -> str | None:
    """A host setting, stripped and checked; several comma-separated hosts each with its port.

    Raises:
        ValueError: A host is not valid, or cannot travel in a multi-host URL.
    """
    if value is None:
        return None
    if "," in value:
        # Several hosts: the driver tries them in turn (failover), each with its port.
        return ",".join(host_entry(*pair, multi=True) for pair in parse_host_ports(value))
    host = value.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if is_valid_host(host):
        return host
    raise ValueError(f"{value!r} is not a host name, an IP address or an absolute socket directory")


def checked_read_hosts(value: object) -> object:
    """``DB_READ_HOSTS`` as a tuple of checked ``host[:port]`` entries; blank is none.

    Anything but text or a sequence is returned for the field's own validation to refuse.

    Raises:
        ValueError: An entry is not a valid host or port.
    """
    if not value or (isinstance(value, str) and not value.strip()):
        return ()
    if not isinstance(value, str | list | tuple):
        return value
    return tuple(host_entry(*pair, multi=False) for pair in parse_host_ports(value))


def host_entry(host: str, port: int | None, *, multi: bool) -> str:
    """``host`` or ``host:port`` for one entry of a host list, once the host is checked.

    Raises:
        ValueError: The host is not valid, or cannot travel in a multi-host URL.
    """
    if not is_valid_host(host):
        raise ValueError(
            f"{host!r} is not a host name, an IP address or an absolute socket directory"
        )
    if multi and (":" in host or host.startswith("/")):
        # SQLAlchemy's multi-host URL splits each entry at ':' and has no socket form.
        raise ValueError(f"{host!r}: a list of hosts takes host names and IPv4 addresses only")
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_valid_host(host: str) -> bool:
    """Whether *host* is a DNS name, an IP address or an absolute unix-socket directory."""
    if host.startswith("/"):
        return "\x00" not in host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    labels = host.removesuffix(".").split(".")
    if all(label.isdigit() for label in labels):
        return False  # looks like an IPv4 address, and ip_address() said it is not one
    return len(host) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in labels)
