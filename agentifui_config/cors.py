"""Parsers for the CORS variables: origins as browsers send them, and HTTP methods."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

from agentifui_config.errors import ConfigurationError
from agentifui_config.parsing import parse_list

__all__ = ["HTTP_METHODS", "parse_methods", "parse_origins"]

HTTP_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
"""The methods ``CORS_ALLOW_METHODS`` accepts, besides ``*``."""

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# A host as a browser's Origin header carries it: ASCII (IDNA) labels or an IPv4
# address; an IPv6 literal is checked by ipaddress instead.
_HOST: Final = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
# Characters an Origin never holds, which urlsplit would keep in the host or drop
# silently: whitespace (a trailing ' #' left 'https://app.example.com ' behind),
# and an empty query or fragment.
_NEVER_IN_AN_ORIGIN: Final = re.compile(r"[\s?#]")


def parse_origins(value: str | Sequence[str], *, variable: str = "CORS_ORIGINS") -> list[str]:
    """Read origins as ``*`` or ``scheme://host[:port]``, in the form browsers send them.

    Each origin is split by :func:`urllib.parse.urlsplit`; its host is
    required, and whitespace, ``?`` and ``#`` are refused anywhere in it. A
    trailing ``/`` is removed, scheme and host are lower-cased and a default
    port (``:443`` for https) is dropped, since a browser's ``Origin`` header
    never carries one.

    Raises:
        ConfigurationError: An item is not an http or https origin.
    """
    return [_normalise_origin(origin, variable) for origin in parse_list(value, variable=variable)]


def parse_methods(value: str | Sequence[str], *, variable: str = "CORS_ALLOW_METHODS") -> list[str]:
    """Read HTTP methods (any case, upper-cased) or ``*``.

    Raises:
        ConfigurationError: An item is not an HTTP method.
    """
    methods = [method.upper() for method in parse_list(value, variable=variable)]
    unknown = [method for method in methods if method != "*" and method not in HTTP_METHODS]
    if unknown:
        raise ConfigurationError(
            f"{', '.join(map(repr, unknown))} is not an HTTP method",
            variable=variable,
            remedy=f"use '*' or some of {', '.join(sorted(HTTP_METHODS))}",
        )
    return methods


def _normalise_origin(origin: str, variable: str) -> str:
    if origin == "*":
        return origin
    if _NEVER_IN_AN_ORIGIN.search(origin):
        raise _not_an_origin(origin, variable)
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:  # a malformed IPv6 literal or port
        raise _not_an_origin(origin, variable) from None
    scheme = parts.scheme.lower()
    valid = (
        scheme in _DEFAULT_PORTS
        and bool(parts.hostname)
        and parts.path in ("", "/")
        and not (parts.query or parts.fragment or parts.username or parts.password)
    )
    if not valid or parts.hostname is None:
        raise _not_an_origin(origin, variable)
    if "*" in parts.hostname:
        # Browsers send one exact origin and the CORS middleware compares it as text.
        raise ConfigurationError(
            f"{origin!r} has a wildcard in its host, which no browser's Origin ever matches",
            variable=variable,
            remedy="list each origin (https://a.example.com,https://b.example.com), "
            "or give '*' alone",
        )
    if not _is_host(parts.hostname):
        raise _not_an_origin(origin, variable)
    # urlsplit drops an IPv6 literal's brackets; browsers send them in the Origin header.
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}"


def _is_host(hostname: str) -> bool:
    """Whether *hostname* (lower-cased, brackets removed) is a host a browser can send."""
    if ":" not in hostname:
        return _HOST.fullmatch(hostname) is not None
    try:
        ipaddress.IPv6Address(hostname)
    except ValueError:
        return False
    return True


def _not_an_origin(origin: str, variable: str) -> ConfigurationError:
    return ConfigurationError(
        f"{origin!r} is not an origin",
        variable=variable,
        remedy="give '*' or scheme://host[:port] with http or https and no path",
    )
