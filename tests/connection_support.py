"""Helpers of the tests on a real PostgreSQL: managers, direct connections, polling, a TCP proxy.

The proxy listens on 127.0.0.1 between a manager and the test server: it can
refuse connections, swallow traffic without answering (a "black hole"), delay
it, and forward again, so that outages can be staged mid-test.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final, Literal

import asyncpg

from agentifui_config import ConnectionManager

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

__all__ = [
    "CLEANUP_WAIT",
    "POOL_KEYS",
    "Proxy",
    "admin_connection",
    "asyncpg_connection",
    "backend_states",
    "database_exists",
    "eventually",
    "free_port",
    "managed",
    "proxy_to",
    "terminate_backends",
    "unique",
]

CLEANUP_WAIT: Final = 5.0
"""Seconds shielded clean-ups and server-side exits get to finish."""

POOL_KEYS: Final = frozenset(
    {
        "pool_size",
        "max_overflow",
        "checked_in",
        "checked_out_connections",
        "overflow_connections",
        "invalid_connections",
        "active_connections",
    }
)
"""The pool's figures, as the manager's metrics and the database's health details show them."""

_READ_SIZE: Final = 65536

_Mode = Literal["forward", "refuse", "black_hole"]
"""What a :class:`Proxy` does with traffic."""


def unique(database_config: DatabaseConfig, **update: Any) -> DatabaseConfig:
    """The run's database under an application name of its own, so its backends can be found."""
    name = f"agentifui-test-{secrets.token_hex(4)}"
    return database_config.model_copy(update={"application_name": name, **update})


@contextlib.asynccontextmanager
async def managed(config: DatabaseConfig, **options: Any) -> AsyncIterator[ConnectionManager]:
    """A manager built with *options*, initialized on *config* and disposed at once after."""
    manager = ConnectionManager(**options)
    await manager.initialize(config)
    try:
        yield manager
    finally:
        await manager.dispose(grace=0)


@contextlib.asynccontextmanager
async def asyncpg_connection(
    config: DatabaseConfig, host: str | None = None
) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    """A plain asyncpg connection to *config*'s database (through *host* when given)."""
    connection = await asyncpg.connect(
        host=host or config.host,
        port=config.port,
        user=config.username,
        password=config.password.get_secret_value() or None,
        database=config.database,
        timeout=10,
    )
    try:
        yield connection
    finally:
        await connection.close()


def admin_connection(
    server: PostgresServer,
) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection[asyncpg.Record]]:
    """A connection as *server*'s administrator, outside any manager under test."""
    return asyncpg_connection(server.admin)


async def database_exists(server: PostgresServer, name: str) -> bool:
    """Whether *server* holds a database called *name*."""
    async with admin_connection(server) as connection:
        found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    return found is not None


async def backend_states(server: PostgresServer, config: DatabaseConfig) -> list[str]:
    """The states of the server backends opened with *config*'s application name."""
    return [str(value) for value in await _per_backend(server, config, "coalesce(state, '')")]


async def terminate_backends(server: PostgresServer, config: DatabaseConfig) -> int:
    """Kill every server backend opened with *config*'s application name; return how many."""
    return len(await _per_backend(server, config, "pg_terminate_backend(pid)"))


async def _per_backend(server: PostgresServer, config: DatabaseConfig, column: str) -> list[Any]:
    """*column* evaluated, from an admin connection, for each backend of *config*'s application."""
    async with admin_connection(server) as admin:
        rows = await admin.fetch(
            f"SELECT {column} FROM pg_stat_activity"  # noqa: S608 - fixed expressions of this module
            " WHERE datname = $1 AND application_name = $2",
            config.database,
            config.application_name,
        )
    return [row[0] for row in rows]


async def eventually(condition: Any, timeout: float = CLEANUP_WAIT) -> bool:  # noqa: ASYNC109
    """Poll the async *condition* until it is true or *timeout* seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        if await condition():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class _Link:
    """One client connection through the proxy and, unless swallowed, its upstream twin."""

    def __init__(self, proxy: Proxy, client: asyncio.StreamWriter, *, frozen: bool) -> None:
        self.proxy = proxy
        self.writers = [client]
        self.frozen = frozen

    async def pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter | None) -> None:
        """Copy *source* to *sink* until either end closes; drop the bytes while frozen."""
        with contextlib.suppress(OSError):
            while data := await source.read(_READ_SIZE):
                if latency := self.proxy.latency:
                    self.proxy.delaying.set()
                    await asyncio.sleep(latency)
                if sink is not None and not self.frozen:
                    sink.write(data)
                    await sink.drain()
        self.kill()

    def kill(self) -> None:
        for writer in self.writers:
            writer.transport.abort()


class Proxy:
    """A TCP proxy from a random port of 127.0.0.1 to the test server, switchable mid-test.

    It forwards, refuses, swallows (``black_hole``) or delays (``latency``) traffic.
    """

    def __init__(self, target: DatabaseConfig) -> None:
        self._target = target
        self.mode: _Mode = "forward"
        self.port = 0
        self.latency = 0.0  # seconds each chunk waits before it is passed on
        self.delaying = asyncio.Event()  # set when a chunk has been held back
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def listen(self, port: int = 0) -> None:
        """Accept connections on *port* (by default a free one, then in :attr:`port`)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    def refuse(self) -> None:
        """Stop listening, so connecting is refused, and cut every connection."""
        self.mode = "refuse"
        self._close_listener()
        self._kill(self._links)

    def black_hole(self) -> None:
        """Accept connections but never answer; traffic on open ones is dropped too."""
        self.mode = "black_hole"
        for link in self._links:
            link.frozen = True

    async def restore(self) -> None:
        """Forward again; connections that lost traffic meanwhile are cut, as a network would."""
        if self.mode == "refuse":
            await self.listen(self.port)
        self.mode = "forward"
        self._kill({link for link in self._links if link.frozen})

    async def stop(self) -> None:
        """Close everything and wait (briefly: every socket is aborted) for the handlers to end."""
        self._close_listener()
        self._kill(self._links)
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _kill(self, links: set[_Link]) -> None:
        for link in list(links):
            link.kill()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(self, writer, frozen=self.mode != "forward")
        self._links.add(link)
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        try:
            if link.frozen:
                await link.pump(reader, None)
                return
            upstream_reader, upstream_writer = await self._open_upstream()
            link.writers.append(upstream_writer)
            await asyncio.gather(
                link.pump(reader, upstream_writer), link.pump(upstream_reader, writer)
            )
        except OSError:
            pass
        finally:
            link.kill()
            self._links.discard(link)

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        target = self._target
        if target.is_unix_socket:
            return await asyncio.open_unix_connection(f"{target.host}/.s.PGSQL.{target.port}")
        return await asyncio.open_connection(target.host, target.port)


@contextlib.asynccontextmanager
async def proxy_to(target: DatabaseConfig, port: int = 0) -> AsyncIterator[Proxy]:
    """A :class:`Proxy` to *target*'s server, listening on *port*, stopped on exit."""
    started = Proxy(target)
    await started.listen(port)
    try:
        yield started
    finally:
        await started.stop()
