"""A probe storm: 1,000 concurrent ``/health/ready`` against 1,000 ``SELECT 1`` on a pool.

Run it as ``python benchmarks/bench_health_probes.py`` (``--rounds N``,
``--probes N``). It uses the server named by ``AGENTIFUI_TEST_DATABASE_URL``,
or starts a throwaway embedded one (extra ``embedded``). Each round times one
burst of each, in a shuffled order, and the median bursts are compared:

- **raw SELECT 1**: 1,000 tasks each acquiring a connection from an asyncpg
  pool (8 connections) and running ``SELECT 1``: what a naive readiness
  endpoint costs the database at least;
- **setup() app**: 1,000 concurrent ``GET /health/ready`` through httpx's
  ``ASGITransport`` to an app wired with ``create_lifespan()`` and ``setup()``,
  as deployed: concurrent probes share one check, whose answer is reused for a
  second (``cache_ttl``);
- **cache_ttl=0**: the same with ``health_router(cache_ttl=0)``: probes still
  share the check in flight, but every burst runs one;
- **hand-written /ready**: for scale, the same burst of requests to an endpoint
  that runs its own ``SELECT 1`` on the asyncpg pool for every probe.

Every probe goes through the same HTTP machinery, which the raw queries skip.

Ratios are times: the burst of probes over the burst of raw queries. A probe
answered other than 200 fails the run, without ratios: a quick refusal is not
a quick check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from harness import asyncpg_pool, database, interleave_async, print_medians, print_ratio

from agentifui_config import DatabaseConfig, load_settings
from agentifui_config.fastapi import create_lifespan, health_router, setup

if TYPE_CHECKING:
    import asyncpg

_KEY = "benchmark-only-secret-key-0123456789abcdef"
_POOL = 8
_RAW = "raw SELECT 1"
_NAIVE = "hand-written /ready"


def _queries(pool: asyncpg.Pool, probes: int) -> Callable[[], Awaitable[float]]:
    async def one() -> None:
        async with pool.acquire() as connection:
            await connection.fetchval("SELECT 1")

    async def burst() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(probes)))
        return time.perf_counter() - started

    return burst


def _probes(
    client: httpx.AsyncClient, probes: int, refused: Counter[str]
) -> Callable[[], Awaitable[float]]:
    async def one() -> None:
        response = await client.get("/health/ready")
        if response.status_code != 200:
            status = response.json().get("status", "?")
            refused[f"{response.status_code} {status}"] += 1

    async def burst() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(probes)))
        return time.perf_counter() - started

    return burst


def _refuse_refusals(refused: dict[str, Counter[str]], sent: int) -> None:
    """Fail when any probe was not answered 200: a fast refusal must not pass for a fast check.

    Raises:
        SystemExit: Some probes were refused; no ratio is printed then.
    """
    lines = [
        f"  {name}: {count} of {sent} probes answered {answer}"
        for name, answers in refused.items()
        for answer, count in answers.items()
    ]
    if lines:
        raise SystemExit("\n".join(["probes were refused, so no ratio is given:", *lines]))


def _naive_app(pool: asyncpg.Pool) -> FastAPI:
    """A readiness endpoint written by hand: one ``SELECT 1`` on the pool per probe."""
    app = FastAPI()

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        async with pool.acquire() as connection:
            await connection.fetchval("SELECT 1")
        return {"status": "ready"}

    return app


def _app(config: DatabaseConfig, *, cached: bool) -> FastAPI:
    settings = load_settings(database=config, secret_key=_KEY)
    app = FastAPI(lifespan=create_lifespan(settings))
    if cached:
        setup(app, settings)
    else:
        setup(app, settings, health_prefix=None)
        app.include_router(health_router(cache_ttl=0))
    return app


async def _measure(config: DatabaseConfig, rounds: int, probes: int) -> None:
    sized = config.model_copy(update={"pool_size": _POOL, "max_overflow": 0})
    apps = {"setup() app": _app(sized, cached=True), "cache_ttl=0": _app(sized, cached=False)}
    async with contextlib.AsyncExitStack() as stack:
        pool = await asyncpg_pool(config, _POOL)
        stack.push_async_callback(pool.close)
        bursts = {_RAW: _queries(pool, probes)}
        refused: dict[str, Counter[str]] = {}
        for name, app in {**apps, _NAIVE: _naive_app(pool)}.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://bench")
            refused[name] = Counter()
            bursts[name] = _probes(await stack.enter_async_context(client), probes, refused[name])
        for burst in bursts.values():  # warm every path once
            await burst()
        medians = await interleave_async(bursts, rounds)
    print_medians(f"{probes} concurrent probes: median time of the burst", medians, unit="ms")
    _refuse_refusals(refused, probes * (rounds + 1))
    for name in apps:
        print_ratio(f"health {probes} probes {name} / {_RAW}", medians[name], medians[_RAW])
        print_ratio(f"health {probes} probes {name} / {_NAIVE}", medians[name], medians[_NAIVE])


def main() -> None:
    """Time the bursts, interleaved, and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=10, help="bursts timed each way")
    parser.add_argument("--probes", type=int, default=1000, help="concurrent probes per burst")
    options = parser.parse_args()
    with database() as config:
        asyncio.run(_measure(config, options.rounds, options.probes))


if __name__ == "__main__":
    main()
