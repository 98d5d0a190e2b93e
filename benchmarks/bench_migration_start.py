"""What a rolling start costs: eight replicas calling ``upgrade()`` at once, against one.

Run it as ``python benchmarks/bench_migration_start.py`` (``--rounds N`` for
more). It uses the server named by ``AGENTIFUI_TEST_DATABASE_URL``, or starts a
throwaway embedded one (extra ``embedded``), and the migration scripts of the
test suite (three revisions). Each replica is a process of its own, as on a
real deploy, started once and reused for every round. Before each start it
warms up (one plain query; for most rows, the scripts read once, as a health
probe or an earlier call reads them), then a barrier releases the replicas
together, and each times only its own call. A row's time is the slowest
replica's, the median over the rounds, whose rows are measured interleaved.

- **at head**: ``upgrade()`` of a database already at head: one version query
  each, no lock; given a configuration, with the scripts read and with the
  scripts still to read (a replica's first call), and given a manager whose
  pool is open (what a FastAPI lifespan does).
- **floor**: one connection opened for one plain query, by a fresh engine, as
  a replica opens one: what the machine charges any eight processes that
  start together.
- **through the lock**: an upgrade to the head revision by name, which skips
  the check and queues at the lock, as every replica did before it.
- **one pending**: eight at once against a database one revision behind; the
  revision must be applied exactly once.

Eight replicas at head should take no more than 1.3 times as long as one
where each has a core of its own, as replicas on their own machines do. On a
machine with fewer cores than replicas the eight processes share them, and so
does the floor: there the target is held against the floor instead. The
output ends with ``ratio <name>: <x>`` lines, and the target as a ``goal`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import TYPE_CHECKING, Final

from harness import RATIO_PREFIX, print_goal
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentifui_config import ConnectionManager
from agentifui_config.migrations import clear_script_cache, get_migration_status, upgrade
from agentifui_config.testing.postgres import postgres_server, temporary_database

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

SAMPLE: Final = Path(__file__).parent.parent / "tests" / "migrations_sample"
_REPLICAS: Final = 8
_TARGET: Final = 1.3
_DEADLINE: Final = 120.0
_HEAD: Final = "c3"

# What a replica does when released: upgrade a configuration to head with the
# scripts read ("head") or still to read ("cold"), upgrade an initialized
# manager to head ("manager"), one plain query ("query"), or upgrade to a
# revision named, through the lock.
_TRIALS: Final = {
    "at head, 1": ("head", 1),
    "at head, 8": ("head", _REPLICAS),
    "floor, 1": ("query", 1),
    "floor, 8": ("query", _REPLICAS),
    "at head, scripts unread, 1": ("cold", 1),
    "at head, scripts unread, 8": ("cold", _REPLICAS),
    "at head, manager, 1": ("manager", 1),
    "at head, manager, 8": ("manager", _REPLICAS),
    "through the lock, 8": (_HEAD, _REPLICAS),
}


@dataclass(frozen=True)
class Job:
    """One replica's start: what it runs against the database, and whether others start with it.

    Attributes:
        config: The database.
        how: ``head``, ``cold``, ``manager``, ``query`` or a revision, as in ``_TRIALS``.
        together: Wait at the barrier for the other replicas.
    """

    config: DatabaseConfig
    how: str
    together: bool


async def _scalar(config: DatabaseConfig, query: str, **params: str) -> int:
    """The one value *query* returns, on a connection of its own as a replica opens one."""
    engine = create_async_engine(config.sqlalchemy_url, poolclass=NullPool)
    async with engine.connect() as connection:
        value = await connection.scalar(text(query), params)
    await engine.dispose()
    return int(value or 0)


async def _attempt(job: Job, start: Barrier) -> float:
    """Warm up for *job*, wait for the others, then time the job alone."""
    await _scalar(job.config, "SELECT 1")  # the server's caches, the driver's first use
    if job.how == "cold":
        clear_script_cache()
    else:
        await get_migration_status(job.config, SAMPLE)
    manager = ConnectionManager()
    if job.how == "manager":
        await manager.initialize(job.config)  # as a lifespan does before it upgrades
    try:
        if job.together:
            start.wait(timeout=_DEADLINE)
        started = time.perf_counter()
        await _timed(job, manager)
        return time.perf_counter() - started
    finally:
        await manager.dispose()


async def _timed(job: Job, manager: ConnectionManager) -> None:
    """What a replica does once released, the part that is timed."""
    if job.how == "query":
        await _scalar(job.config, "SELECT 1")
    elif job.how == "manager":
        await upgrade(manager, SAMPLE, lock_timeout=_DEADLINE)
    else:
        revision = "head" if job.how == "cold" else job.how
        await upgrade(job.config, SAMPLE, revision, lock_timeout=_DEADLINE)


def replica(jobs: Queue[Job | None], start: Barrier, took: Queue[float | str]) -> None:
    """The body of each replica process: run the jobs it is given until told to stop.

    Args:
        jobs: Where the replica finds its next start, ``None`` to stop.
        start: The barrier that releases the replicas of one start together.
        took: Where it puts the seconds a start took, or what went wrong.
    """
    while (job := jobs.get()) is not None:
        try:
            took.put(asyncio.run(_attempt(job, start)))
        except Exception as exc:  # reported to the parent, which stops
            took.put(f"{type(exc).__name__}: {exc}")


class _Replicas:
    """Replica processes started once, each told what to run at each start."""

    def __init__(self, jobs: list[Queue[Job | None]], took: Queue[float | str]) -> None:
        self._jobs = jobs
        self._took = took

    def start(self, config: DatabaseConfig, how: str, replicas: int) -> float:
        """Seconds the slowest of *replicas* replicas, released together, took."""
        for jobs in self._jobs[:replicas]:
            jobs.put(Job(config, how, together=replicas > 1))
        timings = [self._took.get(timeout=_DEADLINE) for _ in range(replicas)]
        failures = [timing for timing in timings if isinstance(timing, str)]
        if failures:
            raise SystemExit(f"a replica failed: {failures[0]}")
        return max(float(timing) for timing in timings)


@contextlib.contextmanager
def _replicas(count: int) -> Iterator[_Replicas]:
    context = get_context("spawn")
    # Every start of several replicas uses all of them, so one barrier serves them all.
    start = context.Barrier(count)
    took: Queue[float | str] = context.Queue()
    jobs: list[Queue[Job | None]] = [context.Queue() for _ in range(count)]
    processes = [context.Process(target=replica, args=(queue, start, took)) for queue in jobs]
    for process in processes:
        process.start()
    try:
        yield _Replicas(jobs, took)
    finally:
        for queue in jobs:
            queue.put(None)
        for process in processes:
            process.join(_DEADLINE)


def _medians(replicas: _Replicas, config: DatabaseConfig, rounds: int) -> dict[str, float]:
    """The median of each trial over *rounds* rounds, the trials interleaved in each."""
    samples: dict[str, list[float]] = {name: [] for name in _TRIALS}
    for _ in range(rounds):
        for name, (how, count) in _TRIALS.items():
            samples[name].append(replicas.start(config, how, count))
    return {name: statistics.median(values) for name, values in samples.items()}


def _one_pending(replicas: _Replicas, config: DatabaseConfig) -> tuple[float, int]:
    """Eight replicas against a database one revision behind: the time, and the runs of it."""
    asyncio.run(upgrade(config, SAMPLE, "b2"))
    took = replicas.start(config, "head", _REPLICAS)
    query = "SELECT count(*) FROM migration_runs WHERE revision = :revision"
    return took, asyncio.run(_scalar(config, query, revision=_HEAD))


def _cores() -> int:
    """The cores this process may run on (the container's share, not the host's)."""
    with contextlib.suppress(AttributeError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _row(label: str, one: float | None, many: float) -> None:
    shown = f"{one * 1000:8.1f} ms" if one is not None else f"{'':11}"
    ratio = f"{many / one:8.2f}x" if one is not None else ""
    print(f"{label:<38}{shown}{many * 1000:10.1f} ms{ratio}")


def _report(times: dict[str, float], pending: tuple[float, int]) -> None:
    cores = _cores()
    print(f"{'':38}{'1 replica':>11}{f'{_REPLICAS} at once':>13}{f'{_REPLICAS} / 1':>9}")
    _row("upgrade() at head", *_pair(times, "at head"))
    _row("  its first call: scripts unread", *_pair(times, "at head, scripts unread"))
    _row("  of a manager, its pool open", *_pair(times, "at head, manager"))
    _row("floor: one connection, one query", *_pair(times, "floor"))
    _row(f"upgrade() to {_HEAD} by name (the lock)", None, times["through the lock, 8"])
    _row("one revision pending", None, pending[0])
    print(f"times the pending revision ran: {pending[1]} (must be 1)")
    against_one = times["at head, 8"] / times["at head, 1"]
    against_floor = times["at head, 8"] / times["floor, 8"]
    held, measured = ("one", against_one) if cores >= _REPLICAS else ("the floor", against_floor)
    verdict = "met" if measured <= _TARGET else "missed"
    print(
        f"target: {_REPLICAS} replicas at head within {_TARGET}x of {held} "
        f"({cores} cores for {_REPLICAS} replicas): {measured:.2f}x, {verdict}"
    )
    rows = {
        f"rolling start, {_REPLICAS} at head / 1 at head": against_one,
        f"rolling start, {_REPLICAS} at head / {_REPLICAS} bare queries": against_floor,
    }
    for name, ratio in rows.items():
        print(f"{RATIO_PREFIX}{name}: {ratio:.2f}")
    print_goal(list(rows)[0 if cores >= _REPLICAS else 1], _TARGET)


def _pair(times: dict[str, float], trial: str) -> tuple[float, float]:
    return times[f"{trial}, 1"], times[f"{trial}, {_REPLICAS}"]


def main() -> None:
    """Time replicas starting against a database at head, and one behind; print the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="starts timed each way (default 9)")
    rounds = parser.parse_args().rounds
    with postgres_server() as server, _replicas(_REPLICAS) as replicas:
        kind = "embedded" if server.embedded else "from AGENTIFUI_TEST_DATABASE_URL"
        print(f"server: {server.admin.masked_url} ({kind}); median of {rounds} rounds")
        with temporary_database(server) as config:
            asyncio.run(upgrade(config, SAMPLE))
            times = _medians(replicas, config, rounds)
        with temporary_database(server) as config:
            pending = _one_pending(replicas, config)
    _report(times, pending)
    if pending[1] != 1:
        raise SystemExit(f"the pending revision ran {pending[1]} times")


if __name__ == "__main__":
    main()
