"""Throwaway PostgreSQL servers for the replica and failover tests: a primary and its standbys.

The servers come from the machine's own PostgreSQL binaries (``pg_config
--bindir``, else the newest ``/usr/lib/postgresql/*/bin``), each in a temporary
directory on a free port of 127.0.0.1. PostgreSQL refuses to run as root, so
as root the binaries run as the ``postgres`` system user. A standby is a
``pg_basebackup -R`` copy of the primary, streaming from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import asyncpg
from connection_support import free_port
from sqlalchemy import text

from agentifui_config import ConnectionManager, DatabaseConfig

_TIMEOUT: Final = 60
_WHERE: Final = text("SELECT inet_server_port(), pg_is_in_recovery()")
_SERVER_USER: Final = "postgres"


def find_bindir() -> tuple[Path | None, str]:
    """The directory of initdb, pg_ctl and pg_basebackup, or None and why there is none."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["pg_config", "--bindir"],  # noqa: S607 - found on PATH as the packages install it
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        candidates.append(Path(out.stdout.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    candidates.extend(versions)
    for path in candidates:
        if all((path / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup")):
            if os.geteuid() == 0 and not _has_user(_SERVER_USER):
                return None, "running as root without a 'postgres' user to run PostgreSQL as"
            return path, ""
    return None, "no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) on this machine"


def _version(path: Path) -> float:
    try:
        return float(path.parent.name)
    except ValueError:
        return 0.0


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class Node:
    """One server: its data directory, port and whether it runs."""

    def __init__(self, bindir: Path, root: Path, name: str) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / name
        self.port = free_port()
        self.running = False

    def run(self, tool: str, *args: str) -> None:
        """Run a PostgreSQL tool, as the ``postgres`` user when this process is root."""
        user = _SERVER_USER if os.geteuid() == 0 else None
        subprocess.run(  # noqa: S603 - the machine's own PostgreSQL tools, fixed arguments
            [str(self.bindir / tool), *args],
            check=True,
            capture_output=True,
            timeout=_TIMEOUT + 10,
            user=user,
            cwd=self.root,
        )

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off"
        )
        log = str(self.data.with_suffix(".log"))
        wait = ("-w", "-t", str(_TIMEOUT))
        self.run("pg_ctl", "-D", str(self.data), *wait, "-l", log, "-o", options, "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if it runs."""
        if self.running:
            self.running = False
            self.run("pg_ctl", "-D", str(self.data), "-w", "-t", str(_TIMEOUT), "-m", mode, "stop")

    def promote(self) -> None:
        """Promote a standby to primary, waiting until it accepts writes."""
        self.run("pg_ctl", "-D", str(self.data), "-w", "-t", str(_TIMEOUT), "promote")

    @property
    def config(self) -> DatabaseConfig:
        """A configuration reaching this server alone, with short timeouts."""
        return DatabaseConfig(host="127.0.0.1", port=self.port, connect_timeout=3.0, pool_size=2)

    async def fetchval(self, query: str) -> object:
        """One value from a fresh connection to this server."""
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", timeout=5
        )
        try:
            return await connection.fetchval(query)
        finally:
            await connection.close()


class Cluster:
    """A primary and its streaming standbys in one temporary directory."""

    def __init__(self, bindir: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="agentifui-replicas-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, _SERVER_USER)
        self.bindir = bindir
        self.primary = Node(bindir, self.root, "primary")
        self.standbys: list[Node] = []

    def init_primary(self) -> Node:
        """Initialise and start the primary."""
        self.primary.run(
            "initdb", "-D", str(self.primary.data), "-U", "postgres", "--auth=trust", "-N"
        )
        self.primary.start()
        return self.primary

    def add_standby(self) -> Node:
        """A new standby streaming from the primary, started."""
        node = Node(self.bindir, self.root, f"standby{len(self.standbys) + 1}")
        source = ["-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"]
        node.run("pg_basebackup", *source, "-D", str(node.data), "-R", "-X", "stream", "-c", "fast")
        node.start()
        self.standbys.append(node)
        return node

    async def caught_up(self, node: Node, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        """Wait until *node* has replayed everything the primary has written so far."""
        target = await self.primary.fetchval("SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + timeout
        query = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
        while not await node.fetchval(query):
            assert time.monotonic() < deadline, f"{node.data.name} did not catch up"
            await asyncio.sleep(0.05)

    def close(self) -> None:
        """Stop every server and remove the directory."""
        try:
            for node in (*self.standbys, self.primary):
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    node.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def cluster(standbys: int) -> Iterator[Cluster]:
    """A running primary with *standbys* streaming standbys, stopped and removed afterwards.

    Skips the calling test where no server binaries can be had.
    """
    import pytest

    bindir, reason = find_bindir()
    if bindir is None:
        pytest.skip(reason)
    made = Cluster(bindir)
    try:
        made.init_primary()
        for _ in range(standbys):
            made.add_standby()
        yield made
    finally:
        made.close()


def running(standbys: int) -> Iterator[Cluster]:
    """:func:`cluster` for a fixture to ``yield from``."""
    with cluster(standbys) as made:
        yield made


def replicas_config(replication: Cluster, **fields: object) -> DatabaseConfig:
    """The primary with every standby as a read replica, unless *fields* say otherwise."""
    reads = ",".join(f"127.0.0.1:{node.port}" for node in replication.standbys)
    return DatabaseConfig(
        **{**replication.primary.config.model_dump(), "read_hosts": reads, **fields}
    )


async def read_from(manager: ConnectionManager, key: str | None = None) -> tuple[int, bool]:
    """The port of the server a read session (for caller *key*) reads from, and if a standby."""
    async with manager.read_session(key) as session:
        port, standby = (await session.execute(_WHERE)).one()
    return int(port), bool(standby)
