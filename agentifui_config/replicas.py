"""Routing reads to read replicas: round robin among the healthy ones, else the primary.

Each replica gets an engine of its own (one pool per server, SQLAlchemy's own),
whose sessions run ``SET TRANSACTION READ ONLY`` through SQLAlchemy's
``postgresql_readonly`` execution option; reads that fall back to the primary
use the same option on the primary's pool, so a write on a read session is
refused by the server, never sent as a write. The replicas are checked at most
every few seconds, all at once within ``DB_READ_CHECK_TIMEOUT``: a replica that
does not answer, or lags more than ``DB_READ_MAX_LAG_SECONDS`` behind the
primary, leaves the rotation until a later check finds it well. The primary's
WAL position, which the lag is measured against, gets a quarter of the budget
and is not asked for while the primary's pool is saturated, so the replicas
keep at least three quarters of the budget whatever the primary does.

Read-your-writes: once a session of the manager has committed, reads in the
same asyncio context (a FastAPI request runs in a task of its own) go to the
primary; with ``DB_READ_YOUR_WRITES_SECONDS``, so do the reads of the caller
that committed (a key the application names), in any context, for that long.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import event, text

from agentifui_config.credentials import Credentials, replica_credentials
from agentifui_config.engine import create_engine_for
from agentifui_config.health import HealthStatus
from agentifui_config.probing import within
from agentifui_config.recent_writes import RecentWrites

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine, ExceptionContext
    from sqlalchemy.ext.asyncio import AsyncEngine

    from agentifui_config.database import DatabaseConfig

__all__ = ["ReadRouter", "TargetHealth"]

# Seconds a check's verdict stands before a read session asks for a new one.
_RECHECK_EVERY: Final = 5.0
# Seconds a check leaves between its own end and its starter's budget.
_HANDOVER: Final = 0.05
# The share of a check's budget the primary's WAL position may take: the replicas keep the rest.
_POSITION_SHARE: Final = 0.25
_SATURATED: Final = "not checked: every connection of its pool is checked out"
_READONLY: Final = {"postgresql_readonly": True}
_PRIMARY_LSN: Final = text("SELECT pg_current_wal_lsn()::text")
# Lag behind the primary's WAL position; without it, behind what the replica received.
# A replica that has replayed everything is not lagging, however long ago the last commit.
_REPLICA_LAG: Final = text(
    """
    WITH position AS (
        SELECT pg_is_in_recovery() AS standby,
               pg_wal_lsn_diff(
                   COALESCE(CAST(CAST(:primary AS text) AS pg_lsn), pg_last_wal_receive_lsn()),
                   pg_last_wal_replay_lsn()
               ) AS behind
    )
    SELECT CASE WHEN standby THEN GREATEST(behind, 0)::bigint ELSE 0 END,
           CASE WHEN NOT standby OR behind <= 0 THEN 0.0
                ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8
           END
    FROM position
    """
)


@dataclasses.dataclass(frozen=True, slots=True)
class TargetHealth:
    """One database server as the read router last saw it.

    Attributes:
        name: ``"primary"`` or ``"replica <n>"``, in ``DB_READ_HOSTS`` order.
        address: ``host:port`` (never a credential).
        reachable: Whether it answered within the check's budget (the primary
            is not asked while every connection of its pool is checked out).
        in_rotation: Whether reads are sent to it (replicas only).
        latency_ms: How long its answer took.
        lag_bytes: WAL bytes it has not replayed yet (replicas; 0 when caught up).
        lag_seconds: Seconds since it last replayed a commit, 0 when caught up.
        error: Why it is unreachable or out of rotation.
    """

    name: str
    address: str
    reachable: bool
    in_rotation: bool
    latency_ms: float | None = None
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    error: str | None = None

    @property
    def health(self) -> HealthStatus:
        """What this target does to the service's health: the one rule for read targets.

        ``HEALTHY`` while it takes reads; ``DEGRADED`` when it is out of rotation
        (unreachable, or lagging past ``DB_READ_MAX_LAG_SECONDS``): reads then go
        to the other replicas or to the primary, so the service still answers.
        Never worse, the primary's entry included: whether the primary is down
        is the verdict of the manager's
        :meth:`~agentifui_config.ConnectionManager.health_check`, not of the
        read targets.
        """
        return HealthStatus.HEALTHY if self.in_rotation else HealthStatus.DEGRADED

    def to_dict(self) -> dict[str, object]:
        """The fields as a JSON-ready mapping."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(slots=True)
class _Target:
    name: str
    config: DatabaseConfig
    engine: AsyncEngine
    reads: AsyncEngine
    health: TargetHealth


class ReadRouter:
    """The read side of a connection manager: one engine per read target, and the routing.

    Args:
        config: The primary's configuration; its :attr:`DatabaseConfig.read_targets`
            are the replicas.
        primary: The primary's engine, read with read-only transactions as the fallback.
        scrub: Removes secrets from an error message before it is kept.
        credentials: The primary's password provider, if any: the replicas
            share the primary's credentials, so they log in with it too, unless
            ``DB_READ_PASSWORD`` gives them their own.
        saturated: Whether every connection of the primary's pool is checked
            out; a check then leaves the primary alone rather than wait for one.
    """

    def __init__(
        self,
        config: DatabaseConfig,
        primary: AsyncEngine,
        scrub: Callable[[str], str],
        credentials: Credentials | None = None,
        saturated: Callable[[], bool] = lambda: False,
    ) -> None:
        self._config = config
        self._primary = primary.execution_options(**_READONLY)
        self._scrub = scrub
        self._saturated = saturated
        own = replica_credentials(config, credentials)
        self._targets = [_target(n, cfg, own) for n, cfg in enumerate(config.read_targets, 1)]
        for target in self._targets:
            event.listen(target.engine.sync_engine, "handle_error", self._on_error(target))
        self._turn = itertools.count()
        self._checked_at = -math.inf
        self._check: asyncio.Task[tuple[TargetHealth, ...]] | None = None
        # What callers whose budget ended before the check in flight get: one answer per check.
        self._late: tuple[asyncio.Future[Any], tuple[TargetHealth, ...]] | None = None
        self._wrote = contextvars.ContextVar(f"agentifui_wrote_{id(self)}", default=False)
        self.caller: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            f"agentifui_caller_{id(self)}", default=None
        )
        self._recent = RecentWrites(config.read_your_writes_seconds)
        self.counters = {"reads_to_replicas": 0, "reads_to_primary": 0}

    @property
    def has_replicas(self) -> bool:
        """Whether any replica is configured; without one, every read goes to the primary."""
        return bool(self._targets)

    @property
    def keys_by_caller(self) -> bool:
        """Whether a caller's commit changes where its reads go.

        Only with replicas and a ``DB_READ_YOUR_WRITES_SECONDS`` above 0:
        otherwise setting :attr:`caller` has no effect, and need not be done.
        """
        return bool(self._targets) and self._config.read_your_writes_seconds > 0

    @property
    def targets(self) -> tuple[TargetHealth, ...]:
        """What the last check found for each replica (unchecked: reachable, in rotation)."""
        return tuple(target.health for target in self._targets)

    def mark_write(self, *_: object) -> None:
        """Send the current context's later reads to the primary (a session committed).

        And, for ``DB_READ_YOUR_WRITES_SECONDS``, the reads of the context's
        :attr:`caller`, if it has one, wherever they are made.
        """
        self._wrote.set(True)
        key = self.caller.get()
        if key is not None:
            self._recent.add(key)

    def choose(self, key: str | None = None) -> Engine:
        """The engine for the next read: a replica in rotation, in turn, else the primary.

        The primary also when the current context has committed, or when caller
        *key* committed within ``DB_READ_YOUR_WRITES_SECONDS``.
        """
        healthy = [t for t in self._targets if t.health.in_rotation]
        if not healthy or self._wrote.get() or (key is not None and key in self._recent):
            self.counters["reads_to_primary"] += 1
            return self._primary.sync_engine
        self.counters["reads_to_replicas"] += 1
        return healthy[next(self._turn) % len(healthy)].reads.sync_engine

    async def refresh(self) -> None:
        """Check the replicas when the last check is older than a few seconds; never raises."""
        if self._targets and time.monotonic() - self._checked_at >= _RECHECK_EVERY:
            await self.check(self._config.read_check_timeout)

    async def check(self, timeout: float) -> tuple[TargetHealth, ...]:  # noqa: ASYNC109
        """Check the primary and every replica at once, within *timeout* seconds.

        Concurrent callers share one check, and those whose budget ends before
        it does share one answer. Never raises.

        Returns:
            The primary's health, then each replica's, in ``DB_READ_HOSTS`` order.
        """
        check = self._check
        if check is None or check.done():
            # Ends a little before the budget, so that its starter gets its result.
            budget = timeout - min(_HANDOVER, timeout / 10)
            check = self._check = asyncio.ensure_future(self._check_all(budget))
        outcome = await within(timeout, asyncio.shield(check))
        if isinstance(outcome, BaseException):
            return self._late_answer(check, outcome)
        return outcome

    def _late_answer(
        self, check: asyncio.Future[Any], error: BaseException
    ) -> tuple[TargetHealth, ...]:
        """The answer while *check* runs late: the same tuple for every caller of that check."""
        late = self._late
        if late is None or late[0] is not check:
            late = self._late = (
                check,
                (self._unreachable("primary", self._config, error), *self.targets),
            )
        return late[1]

    async def _check_all(self, timeout: float) -> tuple[TargetHealth, ...]:  # noqa: ASYNC109
        """The primary's WAL position within a share of *timeout*, then every replica's lag.

        The replicas keep the rest of the budget, however long the primary
        takes: without its position they measure what they have not replayed
        of what they received. A saturated primary pool is not waited on.
        """
        started = time.perf_counter()
        primary, lsn = await self._primary_position(timeout * _POSITION_SHARE)
        budget = timeout - (time.perf_counter() - started)
        await asyncio.gather(*(self._check_one(t, lsn, budget) for t in self._targets))
        self._checked_at = time.monotonic()
        return (primary, *self.targets)

    async def _primary_position(self, timeout: float) -> tuple[TargetHealth, str | None]:  # noqa: ASYNC109
        """The primary's health and WAL position, or ``None`` for a position it did not give."""
        if self._saturated():
            # Its pool lends no connection before one comes back: the wait would be the replicas'.
            return TargetHealth(
                "primary", _address(self._config), False, False, error=_SATURATED
            ), None
        started = time.perf_counter()
        position = await within(timeout, _primary_lsn(self._primary))
        if isinstance(position, BaseException):
            return self._unreachable("primary", self._config, position), None
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        return TargetHealth("primary", _address(self._config), True, True, elapsed), position

    async def _check_one(self, target: _Target, lsn: str | None, budget: float) -> None:
        started = time.perf_counter()
        outcome = await within(budget, _replica_lag(target.reads, lsn))
        if isinstance(outcome, BaseException):
            target.health = self._unreachable(target.name, target.config, outcome)
            return
        lag_bytes, lag_seconds = outcome
        limit = self._config.read_max_lag_seconds
        lagging = limit is not None and lag_seconds > limit
        target.health = TargetHealth(
            target.name,
            _address(target.config),
            reachable=True,
            in_rotation=not lagging,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            lag_bytes=lag_bytes,
            lag_seconds=round(lag_seconds, 3),
            error=f"lags {lag_seconds:.1f} s behind (limit {limit:g} s)" if lagging else None,
        )

    def _on_error(self, target: _Target) -> Callable[[ExceptionContext], None]:
        """A replica that cannot be connected to, or drops its connection, leaves the rotation.

        Until the next check, which the next read session then runs at once.
        """

        def lost(context: ExceptionContext) -> None:
            if context.is_disconnect or context.connection is None:
                error = context.original_exception
                target.health = self._unreachable(target.name, target.config, error)
                self._checked_at = -math.inf

        return lost

    def _unreachable(self, name: str, config: DatabaseConfig, error: BaseException) -> TargetHealth:
        if isinstance(error, TimeoutError):
            reason = "did not answer in time"
        else:
            # The first line: SQLAlchemy appends the statement and its parameters.
            reason = self._scrub(f"{type(error).__name__}: {error}".splitlines()[0])
        return TargetHealth(name, _address(config), False, False, error=reason)

    def metrics(self) -> dict[str, float | int | None]:
        """Read counts and, per replica, reachability, rotation and lag, as flat numbers."""
        numbers: dict[str, float | int | None] = dict(self.counters)
        for target in self._targets:
            key = target.name.replace(" ", "_")
            health = target.health
            numbers[f"{key}_reachable"] = int(health.reachable)
            numbers[f"{key}_in_rotation"] = int(health.in_rotation)
            numbers[f"{key}_latency_ms"] = health.latency_ms
            numbers[f"{key}_lag_bytes"] = health.lag_bytes
            numbers[f"{key}_lag_seconds"] = health.lag_seconds
        return numbers

    async def dispose(self) -> None:
        """Close every replica's pool (the primary's belongs to the manager)."""
        if self._check is not None and not self._check.done():
            self._check.cancel()
        closing: list[Coroutine[Any, Any, None]] = [t.engine.dispose() for t in self._targets]
        await asyncio.gather(*closing, return_exceptions=True)


def _target(number: int, config: DatabaseConfig, credentials: Credentials | None) -> _Target:
    engine = create_engine_for(config, credentials=credentials)
    unchecked = TargetHealth(f"replica {number}", _address(config), True, True)
    reads = engine.execution_options(**_READONLY)
    return _Target(unchecked.name, config, engine, reads, unchecked)


def _address(config: DatabaseConfig) -> str:
    return ",".join(f"{host}:{port}" for host, port in config.hosts)


async def _primary_lsn(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str((await connection.execute(_PRIMARY_LSN)).scalar_one())


async def _replica_lag(engine: AsyncEngine, lsn: str | None) -> tuple[int, float]:
    async with engine.connect() as connection:
        row = (await connection.execute(_REPLICA_LAG, {"primary": lsn})).one()
    return int(row[0]), float(row[1])
