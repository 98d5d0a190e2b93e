"""What a rolling start costs: eight replicas calling ``upgrade()`` at once, against one.

Run it as ``python benchmarks/bench_migration_start.py`` (``--rounds N`` for
more). It uses the server named by ``AGENTIFUI_TEST_DATABASE_URL``, or starts a
throwaway embedded one (extra ``embedded``), and the migration scripts of the
test suite (three revisions). Each replica is a process of its own, as on a
real deploy; each warms up (imports, the migration scripts) before a barrier
releases them all together, and times only its ``upgrade()``.

- **at head**: one replica, then eight at once, upgrading a database already at
  head. The lock-free check makes each one status query: eight should take no
  more than 1.3 times as long as one (the target) where each has a core of its
  own, as replicas on their own machines do. On a machine with fewer cores the
  processes share them, so the run also times the floor of that sharing,
  eight replicas each opening a connection for one plain query, and the
  locked path that each replica took before the check (an upgrade to the head
  revision by name, which goes through the lock);
- **one pending**: eight at once against a database one revision behind; the
  revision must be applied exactly once.

It prints the median, over the rounds, of the slowest replica's time, and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentifui_config.migrations import get_migration_status, upgrade
from agentifui_config.testing.postgres import postgres_server, temporary_database

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

SAMPLE: Final = Path(__file__).parent.parent / "tests" / "migrations_sample"
_REPLICAS: Final = 8
_TARGET: Final = 1.3
_DEADLINE: Final = 120.0


_HEAD: Final = "c3"


async def _scalar(config: DatabaseConfig, query: str, **params: str) -> int:
    """The one value *query* returns, on a connection of its own as a replica opens one."""
    engine = create_async_engine(config.sqlalchemy_url, poolclass=NullPool)
    async with engine.connect() as connection:
        value = await connection.scalar(text(query), params)
    await engine.dispose()
    return int(value or 0)


async def _plain_query(config: DatabaseConfig) -> None:
    await _scalar(config, "SELECT 1")


async def _replica(config: DatabaseConfig, how: str, start: Barrier, took: Queue[float]) -> None:
    await get_migration_status(config, SAMPLE)  # warm up: imports, the scripts, the server
    await _plain_query(config)
    start.wait(timeout=_DEADLINE)
    started = time.perf_counter()
    if how == "query":
        await _plain_query(config)
    else:
        await upgrade(config, SAMPLE, how, lock_timeout=_DEADLINE)
    took.put(time.perf_counter() - started)


def replica(config: DatabaseConfig, how: str, start: Barrier, took: Queue[float]) -> None:
    """One replica starting: the body of each spawned process.

    Args:
        config: The database.
        how: ``head`` or a revision to upgrade to, or ``query`` for one plain query.
        start: The barrier that releases every replica together.
        took: Where the replica puts the seconds its start took.
    """
    asyncio.run(_replica(config, how, start, took))


def _start(config: DatabaseConfig, replicas: int, how: str = "head") -> float:
    """Seconds the slowest of *replicas* processes, released together, took to start."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(replicas)
    took: Queue[float] = context.Queue()
    processes = [
        context.Process(target=replica, args=(config, how, start, took)) for _ in range(replicas)
    ]
    for process in processes:
        process.start()
    timings = [took.get(timeout=_DEADLINE) for _ in processes]
    for process in processes:
        process.join(_DEADLINE)
        if process.exitcode != 0:
            raise SystemExit(f"a replica failed with exit code {process.exitcode}")
    return max(timings)


async def _runs(config: DatabaseConfig, revision: str) -> int:
    query = "SELECT count(*) FROM migration_runs WHERE revision = :revision"
    return await _scalar(config, query, revision=revision)


def _median(config: DatabaseConfig, rounds: int, replicas: int, how: str) -> float:
    return statistics.median(_start(config, replicas, how) for _ in range(rounds))


def _verdict(ratio: float) -> str:
    return "ok" if ratio <= _TARGET else f"over the {_TARGET}x target"


def _at_head(config: DatabaseConfig, rounds: int) -> None:
    asyncio.run(upgrade(config, SAMPLE))
    one = _median(config, rounds, 1, "head")
    many = _median(config, rounds, _REPLICAS, "head")
    floor = _median(config, rounds, _REPLICAS, "query")
    locked = _median(config, rounds, _REPLICAS, _HEAD)
    cores = os.cpu_count() or 1
    print(f"at head, 1 replica:                      {one * 1000:8.1f} ms")
    print(f"at head, {_REPLICAS} replicas at once:             {many * 1000:8.1f} ms")
    print(f"  ratio ({_REPLICAS} / 1):                          {many / one:8.2f}x", end="")
    print(f" ({_verdict(many / one)}; {cores} cores for {_REPLICAS} processes)")
    print(f"{_REPLICAS} replicas, one plain query each:        {floor * 1000:8.1f} ms")
    print(f"  ratio (at head / plain query):          {many / floor:8.2f}x", end="")
    print(f" ({_verdict(many / floor)})")
    print(f"{_REPLICAS} replicas through the lock at head:     {locked * 1000:8.1f} ms")
    print(f"  ratio (through the lock / at head):     {locked / many:8.2f}x")


def _one_pending(config: DatabaseConfig) -> int:
    asyncio.run(upgrade(config, SAMPLE, "b2"))
    took = _start(config, _REPLICAS)
    applied = asyncio.run(_runs(config, "c3"))
    print(f"one pending, {_REPLICAS} replicas at once:         {took * 1000:8.1f} ms")
    print(f"times the pending revision ran:          {applied:8d} (must be 1)")
    return applied


def main() -> None:
    """Time replicas starting against a database at head, and one behind; print the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="starts timed each way (default 5)")
    rounds = parser.parse_args().rounds
    with postgres_server() as server:
        kind = "embedded" if server.embedded else "from AGENTIFUI_TEST_DATABASE_URL"
        print(f"server: {server.admin.masked_url} ({kind}); median of {rounds} starts")
        with temporary_database(server) as config:
            _at_head(config, rounds)
        with temporary_database(server) as config:
            applied = _one_pending(config)
    if applied != 1:
        raise SystemExit(f"the pending revision ran {applied} times")


if __name__ == "__main__":
    main()
