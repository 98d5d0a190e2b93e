"""The connect arguments each driver takes for TLS, timeouts and the application name.

These settings are not URL query options: asyncpg, for one, takes ``ssl`` and
``timeout`` as keyword arguments and the rest as ``server_settings``. One small
builder per driver turns a :class:`~agentifui_config.DatabaseConfig` into them.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from agentifui_config.drivers import driver_package

if TYPE_CHECKING:
    from agentifui_config.database import DatabaseConfig

__all__ = ["connect_args_for"]


def _statement_timeout_ms(config: DatabaseConfig) -> str | None:
    if config.statement_timeout is None:
        return None
    return str(max(1, round(config.statement_timeout * 1000)))


def _unique_statement_name() -> str:
    """A prepared-statement name no other client of a PgBouncer server can have used."""
    return f"__asyncpg_{uuid.uuid4()}__"


def _asyncpg(config: DatabaseConfig) -> dict[str, Any]:
    args: dict[str, Any] = {
        "timeout": config.connect_timeout,
        "command_timeout": config.command_timeout,
    }
    if config.ssl_mode is not None:
        args["ssl"] = config.ssl_mode.value
    server_settings = {
        name: value
        for name, value in (
            ("application_name", config.application_name),
            ("statement_timeout", _statement_timeout_ms(config)),
        )
        if value is not None
    }
    if server_settings:
        args["server_settings"] = server_settings
    if config.pgbouncer:
        # PgBouncer in transaction mode hands each transaction to any server
        # connection, where a cached or named prepared statement may not exist.
        args["statement_cache_size"] = 0
        args["prepared_statement_cache_size"] = 0
        args["prepared_statement_name_func"] = _unique_statement_name
    return args


def _psycopg(config: DatabaseConfig) -> dict[str, Any]:
    args: dict[str, Any] = {"connect_timeout": max(1, math.ceil(config.connect_timeout))}
    if config.ssl_mode is not None:
        args["sslmode"] = config.ssl_mode.value
    if config.application_name is not None:
        args["application_name"] = config.application_name
    if (timeout := _statement_timeout_ms(config)) is not None:
        args["options"] = f"-c statement_timeout={timeout}"
    if config.pgbouncer:
        args["prepare_threshold"] = None
    return args


_BUILDERS: Final[Mapping[str, Callable[[DatabaseConfig], dict[str, Any]]]] = {
    "asyncpg": _asyncpg,
    "psycopg": _psycopg,
    "psycopg_async": _psycopg,
}


def connect_args_for(config: DatabaseConfig) -> dict[str, Any]:
    """The keyword arguments for the driver's ``connect()`` that carry the session settings.

    Returns:
        ``connect_args`` for ``create_async_engine``; empty for a driver this
        module does not know, which then gets only what its URL says.
    """
    driver = driver_package(config.driver)
    builder = _BUILDERS.get(driver)
    return builder(config) if builder is not None else {}
