"""What the library adds per request: its session against a bare SQLAlchemy session.

Run it as ``python benchmarks/bench_request_overhead.py`` (``--rounds N``). It
uses the server named by ``AGENTIFUI_TEST_DATABASE_URL``, or starts a throwaway
embedded one (extra ``embedded``), and times one "request" both ways in the
same run, on the same pool settings:

- **baseline**: ``async with async_sessionmaker(engine)() as session`` and a
  ``SELECT 1``, on an engine made with ``create_async_engine`` directly;
- **library**: ``async with manager.session() as session`` and the same query,
  on a ``ConnectionManager`` (checkout tracking, shielded clean-up, counters).

It also times ``load_settings()`` against a bare pydantic-settings class with
the same kind of fields, since a service may build settings per worker.
It prints the median of each and the ratios; a ratio near 1.0 means the
library costs nothing measurable.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from pydantic_settings import BaseSettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from agentifui_config import ConnectionManager, DatabaseConfig, load_settings
from agentifui_config.testing.postgres import postgres_server, temporary_database

_QUERY = text("SELECT 1")


class _BareSettings(BaseSettings):
    """A pydantic-settings class with fields like the library's, and none of its checks."""

    environment: str = "development"
    db_host: str = "localhost"
    db_port: int = 5432
    db_username: str = "postgres"
    db_password: str = ""
    db_database: str = "postgres"
    cors_origins: str = "http://localhost:3000"
    secret_key: str | None = None
    log_level: str = "INFO"


async def _median_seconds(work: Callable[[], Awaitable[None]], rounds: int) -> float:
    for _ in range(min(rounds, 50)):  # warm the pool and the code paths
        await work()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _median_sync(work: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def _requests(config: DatabaseConfig, rounds: int) -> tuple[float, float]:
    engine = create_async_engine(config.sqlalchemy_url, pool_size=5, pool_pre_ping=True)
    bare = async_sessionmaker(engine, expire_on_commit=False)
    manager = ConnectionManager()
    await manager.initialize(config.model_copy(update={"pool_size": 5}))

    async def baseline() -> None:
        async with bare() as session:
            await session.execute(_QUERY)

    async def library() -> None:
        async with manager.session() as session:
            await session.execute(_QUERY)

    try:
        return await _median_seconds(baseline, rounds), await _median_seconds(library, rounds)
    finally:
        await manager.dispose(grace=1)
        await engine.dispose()


def _report(name: str, baseline: float, measured: float) -> None:
    print(
        f"{name:<10} baseline {baseline * 1e6:9.1f} us   library {measured * 1e6:9.1f} us"
        f"   ratio {measured / baseline:5.2f}"
    )


def main() -> None:
    """Measure both ways in one run and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500, help="requests timed each way")
    rounds = parser.parse_args().rounds
    with postgres_server() as server, temporary_database(server) as config:
        baseline, library = asyncio.run(_requests(config, rounds))
    _report("request", baseline, library)
    settings_rounds = max(rounds // 5, 20)
    key = "benchmark-only-secret-key-0123456789abcdef"
    bare = _median_sync(lambda: _BareSettings(secret_key=key), settings_rounds)
    ours = _median_sync(lambda: load_settings(secret_key=key), settings_rounds)
    _report("settings", bare, ours)


if __name__ == "__main__":
    main()
