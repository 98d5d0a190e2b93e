"""What every benchmark shares: interleaved rounds, medians, the server, the ratio lines.

A benchmark names its contenders and gives each a callable that runs one
batch and returns the seconds it took per operation. :func:`interleave` runs
them in turn, round after round (A B C, A B C, ...), so that whatever else the
machine is doing falls on every contender alike, and keeps the median of each.
The ratios printed by :func:`print_ratio` are then a property of the code, not
of how fast or busy the machine is; ``benchmarks/run_all.py`` gathers them
into one table.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING

import asyncpg

from agentifui_config.testing.postgres import postgres_server, temporary_database

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

__all__ = [
    "GOAL_PREFIX",
    "RATIO_PREFIX",
    "asyncpg_pool",
    "database",
    "interleave",
    "interleave_async",
    "print_goal",
    "print_medians",
    "print_ratio",
    "timed",
]

RATIO_PREFIX = "ratio "
"""How a line the table gathers starts: ``ratio <name>: <x>``."""

GOAL_PREFIX = "goal "
"""How a ratio's goal is stated: ``goal <name>: <= <x>``, met when the ratio is at most x."""


def timed(work: Callable[[], object], operations: int = 1) -> float:
    """Run *work* once; the seconds it took per operation."""
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) / operations


def interleave(contenders: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Run every contender once per round, in turn; the median of each one's results."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for order in _orders(list(contenders), rounds):
        for name in order:
            samples[name].append(contenders[name]())
    return {name: statistics.median(values) for name, values in samples.items()}


async def interleave_async(
    contenders: Mapping[str, Callable[[], Awaitable[float]]], rounds: int
) -> dict[str, float]:
    """:func:`interleave` for contenders that run on the event loop."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for order in _orders(list(contenders), rounds):
        for name in order:
            samples[name].append(await contenders[name]())
    return {name: statistics.median(values) for name, values in samples.items()}


def _orders(names: list[str], rounds: int) -> Iterator[list[str]]:
    """The order of each round: shuffled, so that no contender always runs after the same one."""
    shuffler = random.Random(0)  # the same orders in every run
    for _ in range(rounds):
        shuffler.shuffle(names)
        yield names


def print_medians(title: str, medians: Mapping[str, float], unit: str = "us") -> None:
    """Print each contender's median, in microseconds (``us``) or milliseconds (``ms``)."""
    scale = {"us": 1e6, "ms": 1e3}[unit]
    print(f"\n{title}")
    for name, seconds in medians.items():
        print(f"  {name:<36} {seconds * scale:10.1f} {unit}")


def print_ratio(name: str, measured: float, baseline: float) -> float:
    """Print ``ratio <name>: <x>``, *measured* time over *baseline* time (lower is faster)."""
    ratio = measured / baseline
    print(f"{RATIO_PREFIX}{name}: {ratio:.3f}")
    return ratio


def print_goal(name: str, most: float) -> None:
    """Print ``goal <name>: <= <most>``: the ratio *name* meets its goal when at most *most*."""
    print(f"{GOAL_PREFIX}{name}: <= {most:.3f}")


async def asyncpg_pool(config: DatabaseConfig, size: int) -> asyncpg.Pool:
    """A bare asyncpg pool of *size* connections to *config*'s database, all opened now."""
    return await asyncpg.create_pool(
        host=config.host,
        port=config.port,
        user=config.username,
        password=config.password.get_secret_value() or None,
        database=config.database,
        min_size=size,
        max_size=size,
    )


@contextlib.contextmanager
def database() -> Iterator[DatabaseConfig]:
    """A throwaway database on ``AGENTIFUI_TEST_DATABASE_URL``'s server, or an embedded one."""
    with postgres_server() as server, temporary_database(server) as config:
        yield config
