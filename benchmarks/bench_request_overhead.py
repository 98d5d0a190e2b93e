"""What the library adds to a FastAPI request: ``GET`` doing ``SELECT 1``, six ways, side by side.

Run it as ``python benchmarks/bench_request_overhead.py`` (``--rounds N``,
``--batch N``, ``--pool-size N``). It uses the server named by
``AGENTIFUI_TEST_DATABASE_URL``, or starts a throwaway embedded one (extra
``embedded``). Every app is driven in-process through httpx's
``ASGITransport``, with its lifespan entered, and answers the same handler
body on a pool of the same size:

- **raw asyncpg**: ``asyncpg.create_pool`` and ``pool.acquire()``; no SQLAlchemy;
- **hand-written**: ``create_async_engine`` (pre-ping on, as the library's
  default), ``async_sessionmaker`` and a ``yield`` dependency, as the
  SQLAlchemy and FastAPI docs show it;
- **hand-written, committing**: the same dependency, committing after the
  handler as ``TransactionDep`` does: the baseline of ``TransactionDep``'s goal;
- **advanced-alchemy**: its FastAPI extension, ``AdvancedAlchemy`` with a
  ``SQLAlchemyAsyncConfig`` (pre-ping on) and ``provide_session()``;
- **SessionDep** and **TransactionDep**: ``FastAPI(lifespan=create_lifespan())``;
- **setup() app**: the same with ``setup(app)``: health router, CORS
  middleware and error handlers installed;
- **SessionDep, bypass 1 s**: ``DB_POOL_PRE_PING_BYPASS_MS=1000`` (for scale);
- **SessionDep, no command timeout**: ``DB_COMMAND_TIMEOUT=none`` (for scale: what
  bounding every wait costs).

Requests run sequentially, then from 16 clients at once. Each round times one
sample per app, in a shuffled order (one request, or 16 at once), and the
medians of the samples are compared: single-request samples keep a pause of the
machine's from moving a median. Ratios are times: ours over the
baseline's, so below 1.0 is faster.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at
# run time, and these name dependencies defined inside the functions that build each app.
import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Final

import httpx
from advanced_alchemy.extensions.fastapi import (
    AdvancedAlchemy,
    EngineConfig,
    SQLAlchemyAsyncConfig,
)
from fastapi import Depends, FastAPI, Request
from harness import asyncpg_pool, database, interleave_async, print_goal, print_medians, print_ratio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from agentifui_config import DatabaseConfig, load_settings
from agentifui_config.fastapi import SessionDep, TransactionDep, create_lifespan, setup

if TYPE_CHECKING:
    import asyncpg

_QUERY = text("SELECT 1")
_KEY = "benchmark-only-secret-key-0123456789abcdef"
_CONCURRENCY = 16
_HAND = "hand-written"
_HAND_COMMIT = "hand-written, committing"
_RAW = "raw asyncpg"
_BASELINES = (_HAND, _HAND_COMMIT, _RAW)
# Each baseline's rows: the apps compared with it (None: every other app).
_COMPARED: Final[Mapping[str, tuple[str, ...] | None]] = {
    _HAND: None,
    _HAND_COMMIT: ("TransactionDep",),
    _RAW: ("SessionDep", "TransactionDep"),
}
# The goals, as times: each dependency at most its hand-written counterpart's (the
# one that commits, for TransactionDep), and at most twice raw asyncpg's.
_GOALS: Final[Mapping[tuple[str, str], float]] = {
    ("SessionDep", _HAND): 1.0,
    ("TransactionDep", _HAND_COMMIT): 1.0,
    ("SessionDep", _RAW): 2.0,
    ("TransactionDep", _RAW): 2.0,
}


def _raw_asyncpg(config: DatabaseConfig, size: int) -> FastAPI:
    """An app on a bare asyncpg pool."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg_pool(config, size)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    async def one(request: Request) -> int:
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as connection:
            value: int = await connection.fetchval("SELECT 1")
        return value

    return app


def _hand_written(config: DatabaseConfig, size: int, *, commit: bool = False) -> FastAPI:
    """An app with the ``async_sessionmaker`` and ``yield`` dependency a user writes.

    With *commit*, the dependency commits after the handler, as ``TransactionDep`` does.
    """
    engine = create_async_engine(
        config.sqlalchemy_url, pool_size=size, max_overflow=0, pool_pre_ping=True
    )
    maker = async_sessionmaker(engine, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    async def get_db() -> AsyncIterator[AsyncSession]:
        async with maker() as session:
            yield session
            if commit:
                await session.commit()

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    async def one(session: Annotated[AsyncSession, Depends(get_db)]) -> int:
        value: int = (await session.execute(_QUERY)).scalar_one()
        return value

    return app


def _advanced_alchemy(config: DatabaseConfig, size: int) -> FastAPI:
    """An app on advanced-alchemy's FastAPI extension."""
    app = FastAPI()
    alchemy = AdvancedAlchemy(
        config=SQLAlchemyAsyncConfig(
            connection_string=config.sqlalchemy_url.render_as_string(hide_password=False),
            engine_config=EngineConfig(pool_size=size, max_overflow=0, pool_pre_ping=True),
            commit_mode="manual",
        ),
        app=app,
    )
    Session = Annotated[AsyncSession, Depends(alchemy.provide_async_session())]

    @app.get("/")
    async def one(session: Session) -> int:
        value: int = (await session.execute(_QUERY)).scalar_one()
        return value

    return app


def _ours(config: DatabaseConfig, *, transaction: bool = False, wired: bool = False) -> FastAPI:
    """An app on the library: ``create_lifespan()``, and ``setup()`` when *wired*."""
    settings = load_settings(database=config, secret_key=_KEY)
    app = FastAPI(lifespan=create_lifespan(settings))
    if wired:
        setup(app, settings)
    if transaction:

        @app.get("/")
        async def committed(session: TransactionDep) -> int:
            value: int = (await session.execute(_QUERY)).scalar_one()
            return value

    else:

        @app.get("/")
        async def one(session: SessionDep) -> int:
            value: int = (await session.execute(_QUERY)).scalar_one()
            return value

    return app


def _apps(config: DatabaseConfig, size: int) -> dict[str, FastAPI]:
    sized = config.model_copy(update={"pool_size": size, "max_overflow": 0})
    bypass = sized.model_copy(update={"pool_pre_ping_bypass_ms": 1000.0})
    # What the bound on every wait costs: asyncpg arms and cancels a timer per message.
    unbounded = sized.model_copy(update={"command_timeout": None})
    return {
        _RAW: _raw_asyncpg(sized, size),
        _HAND: _hand_written(sized, size),
        _HAND_COMMIT: _hand_written(sized, size, commit=True),
        "advanced-alchemy": _advanced_alchemy(sized, size),
        "SessionDep": _ours(sized),
        "TransactionDep": _ours(sized, transaction=True),
        "setup() app": _ours(sized, wired=True),
        "SessionDep, bypass 1 s": _ours(bypass),
        "SessionDep, no command timeout": _ours(unbounded),
    }


async def _one(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text}")


def _sequential(client: httpx.AsyncClient, batch: int) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        started = time.perf_counter()
        for _ in range(batch):
            await _one(client)
        return (time.perf_counter() - started) / batch

    return run


def _concurrent(client: httpx.AsyncClient, batch: int) -> Callable[[], Awaitable[float]]:
    async def worker() -> None:
        for _ in range(batch):
            await _one(client)

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(_CONCURRENCY)))
        return (time.perf_counter() - started) / (batch * _CONCURRENCY)

    return run


async def _measure(apps: Mapping[str, FastAPI], rounds: int, batch: int) -> None:
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for name, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://bench")
            clients[name] = await stack.enter_async_context(client)
        for client in clients.values():  # warm the pools and the code paths
            await _concurrent(client, 10)()
        sequential = {name: _sequential(client, batch) for name, client in clients.items()}
        _report("seq", await interleave_async(sequential, rounds))
        concurrent = {name: _concurrent(client, batch) for name, client in clients.items()}
        _report(f"conc{_CONCURRENCY}", await interleave_async(concurrent, rounds))


def _report(mode: str, medians: Mapping[str, float]) -> None:
    print_medians(f"GET / with SELECT 1, {mode}: median time per request", medians)
    for baseline, compared in _COMPARED.items():
        for name in compared or [name for name in medians if name not in _BASELINES]:
            ratio = f"request {mode} {name} / {baseline}"
            print_ratio(ratio, medians[name], medians[baseline])
            if (goal := _GOALS.get((name, baseline))) is not None:
                print_goal(ratio, goal)


def main() -> None:
    """Measure every app in one run, interleaved, and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=200, help="samples per app and mode")
    parser.add_argument(
        "--batch", type=int, default=1, help="requests per sample (per client when concurrent)"
    )
    parser.add_argument("--pool-size", type=int, default=8, help="connections per app's pool")
    options = parser.parse_args()
    with database() as config:
        apps = _apps(config, options.pool_size)
        asyncio.run(_measure(apps, options.rounds, options.batch))


if __name__ == "__main__":
    main()
