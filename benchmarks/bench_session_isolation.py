"""What isolating one test costs: a rolled-back session against a database copied from a template.

Run it as ``python benchmarks/bench_session_isolation.py`` (``--tests N`` for
more rounds). It uses the server named by ``AGENTIFUI_TEST_DATABASE_URL``, or
starts a throwaway embedded one (extra ``embedded``), builds a migrated
database, and times one "test" both ways in the same run:

- **rolled back**: what the ``connection_manager`` and ``db_session`` fixtures
  do for each test: a new ``ConnectionManager`` on the migrated database, a
  session inside an outer transaction, the test's work with a ``commit()``,
  the rollback, the manager disposed;
- **template**: what a database-per-test fixture does: ``CREATE DATABASE ...
  TEMPLATE migrated`` (on an admin connection kept open, its cheapest form),
  a ``ConnectionManager`` on the copy, the same work committed for real, the
  manager disposed and the copy dropped.

It prints the median per-test time of each and their ratio, and, for scale,
the rolled-back session alone on a manager shared by every test (what a
session-scoped manager would cost, were it not tied to one event loop).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import asyncpg
from sqlalchemy import Column, ForeignKey, Identity, Index, Integer, MetaData, String, Table
from sqlalchemy import text as sql

from agentifui_config import ConnectionManager, DatabaseConfig
from agentifui_config.testing.postgres import (
    PostgresServer,
    postgres_server,
    temporary_database,
)
from agentifui_config.testing.schema import create_tables
from agentifui_config.testing.sessions import rolled_back_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

_METADATA = MetaData()
Table(
    "authors",
    _METADATA,
    Column("id", Integer, Identity(), primary_key=True),
    Column("name", String(100), nullable=False),
)
Table(
    "notes",
    _METADATA,
    Column("id", Integer, Identity(), primary_key=True),
    Column("author_id", Integer, ForeignKey("authors.id"), nullable=False),
    Column("text", String(200), nullable=False),
    Index("ix_notes_author", "author_id"),
)

_INSERT_AUTHOR = sql("INSERT INTO authors (name) VALUES ('Ada') RETURNING id")
_INSERT_NOTE = sql("INSERT INTO notes (author_id, text) VALUES (:author, 'hello')")
_COUNT = sql("SELECT count(*) FROM notes")


async def _work(session: AsyncSession) -> None:
    """The test's own work: two inserts, a commit, a query."""
    author = (await session.execute(_INSERT_AUTHOR)).scalar_one()
    await session.execute(_INSERT_NOTE, {"author": author})
    await session.commit()
    assert (await session.execute(_COUNT)).scalar_one() == 1


async def _rolled_back(migrated: DatabaseConfig) -> None:
    manager = ConnectionManager()
    await manager.initialize(migrated)
    try:
        async with rolled_back_session(manager.engine) as session:
            await _work(session)
    finally:
        await manager.dispose()


async def _on_shared_engine(manager: ConnectionManager) -> None:
    async with rolled_back_session(manager.engine) as session:
        await _work(session)


async def _from_template(admin: asyncpg.Connection, migrated: DatabaseConfig, name: str) -> None:
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated.database}"')
    try:
        manager = ConnectionManager()
        await manager.initialize(migrated.model_copy(update={"database": name}))
        try:
            async with manager.session() as session:
                await _work(session)
        finally:
            await manager.dispose()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def _timed(rounds: int, test: Callable[[int], Awaitable[None]]) -> list[float]:
    await test(-1)  # warm up: imports, the server's caches
    timings = []
    for index in range(rounds):
        started = time.perf_counter()
        await test(index)
        timings.append(time.perf_counter() - started)
    return timings


async def _measure(server: PostgresServer, migrated: DatabaseConfig, rounds: int) -> None:
    admin_config = server.admin
    admin = await asyncpg.connect(
        host=admin_config.host,
        port=admin_config.port,
        user=admin_config.username,
        password=admin_config.password.get_secret_value() or None,
        database=admin_config.database,
    )
    try:
        rolled = await _timed(rounds, lambda _: _rolled_back(migrated))
        shared = ConnectionManager()
        await shared.initialize(migrated)
        try:
            pooled = await _timed(rounds, lambda _: _on_shared_engine(shared))
        finally:
            await shared.dispose()
        copied = await _timed(
            rounds,
            lambda i: _from_template(admin, migrated, f"{migrated.database}_copy{i + 1}"),
        )
    finally:
        await admin.close()
    per_rolled = statistics.median(rolled) * 1000
    per_copied = statistics.median(copied) * 1000
    print(f"rolled-back session (db_session):      {per_rolled:8.2f} ms per test")
    print(f"database per test from a template:     {per_copied:8.2f} ms per test")
    print(f"ratio (template / rolled back):        {per_copied / per_rolled:8.1f}x")
    print(
        f"(the rolled-back session alone, on a manager shared by all tests: "
        f"{statistics.median(pooled) * 1000:.2f} ms)"
    )


def main() -> None:
    """Time both ways of isolating a test on one server and print the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=30, help="tests timed each way (default 30)")
    rounds = parser.parse_args().tests
    with postgres_server() as server, temporary_database(server) as migrated:
        create_tables(migrated, _METADATA)
        kind = "embedded" if server.embedded else "from AGENTIFUI_TEST_DATABASE_URL"
        print(f"server: {server.admin.masked_url} ({kind}); median of {rounds} tests each way")
        asyncio.run(_measure(server, migrated, rounds))


if __name__ == "__main__":
    main()
