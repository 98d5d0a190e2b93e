"""What a connection manager reports: its pool's numbers, its metrics and its health.

:class:`ManagerReports` is what :class:`~agentifui_config.ConnectionManager`
inherits to report on itself: the primary's pool and health check, and the
health of each read target (the primary and every read replica) as the read
router last measured it. Nothing here opens a session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from agentifui_config.health import ConnectionPoolInfo, DatabaseHealthInfo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.pool import Pool

    from agentifui_config.checkouts import CheckoutTracker
    from agentifui_config.database import DatabaseConfig
    from agentifui_config.probing import HealthCheck
    from agentifui_config.replicas import ReadRouter, TargetHealth

__all__ = ["ManagerReports", "pool_count"]

# What get_metrics() reports for the pool before initialize and after dispose.
_NO_POOL: Final = ConnectionPoolInfo(
    pool_size=0,
    max_overflow=0,
    checked_in=0,
    checked_out_connections=0,
    overflow_connections=0,
    invalid_connections=0,
    active_connections=0,
)


class ManagerReports:
    """The reporting side of :class:`~agentifui_config.ConnectionManager`: pool, metrics, health."""

    _engine: AsyncEngine | None
    _config: DatabaseConfig | None
    _tracker: CheckoutTracker
    _counters: dict[str, int]
    _health: HealthCheck
    _reads: tuple[ReadRouter, Any] | None

    def _state_error(self) -> Exception:
        """The error for a manager used before initialize or after dispose (the manager's)."""
        raise NotImplementedError

    @property
    def connection_count(self) -> int:
        """Connections checked out of the pool now."""
        return pool_count(self._pool, "checkedout") if self._engine is not None else 0

    @property
    def _pool(self) -> Pool:
        """The primary's pool.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        if self._engine is None:
            raise self._state_error()
        return self._engine.sync_engine.pool

    @property
    def pool_status(self) -> ConnectionPoolInfo:
        """A snapshot of the pool's counters.

        Raises:
            ManagerStateError: Before initialize or after dispose.
        """
        pool = self._pool
        checked_in = pool_count(pool, "checkedin")
        checked_out = pool_count(pool, "checkedout")
        config = self._config
        return ConnectionPoolInfo(
            pool_size=config.pool_size if config else 0,
            max_overflow=config.max_overflow if config else 0,
            checked_in=checked_in,
            checked_out_connections=checked_out,
            overflow_connections=pool_count(pool, "overflow"),
            invalid_connections=self._tracker.invalidated,
            active_connections=checked_in + checked_out,
        )

    def _pool_saturated(self) -> bool:
        """Whether every connection of the pool is lent out; ``False`` without a pool."""
        return self._engine is not None and self.pool_status.saturated

    def get_metrics(self) -> dict[str, float | int | None]:
        """Pool numbers, session and health counters, invalidations and the longest hold.

        Returns:
            A flat mapping of numbers, ready for a metrics exporter; pool numbers
            are zero before initialize.
        """
        pool = (self.pool_status if self._engine is not None else _NO_POOL).to_dict()
        reads = self._read_metrics()
        self._tracker.report_leaks()
        return {
            **pool,
            **self._counters,
            "health_checks": self._health.runs,
            "last_health_check_ms": self._health.last_ms,
            "connections_invalidated": self._tracker.invalidated,
            "longest_checkout_seconds": self._tracker.longest_held(),
            "suspected_leaks": self._tracker.suspected_leaks,
            **reads,
        }

    async def health_check(self, timeout: float = 5.0) -> DatabaseHealthInfo:  # noqa: ASYNC109
        """Probe the database within *timeout* seconds; never raises.

        A server that accepts the connection and then says nothing, or a pool
        with every connection lent out, cannot make it wait longer than
        *timeout*: a saturated pool is probed on a connection of its own, and
        never more than one. Concurrent calls share the probe in flight, each
        waiting at most its own *timeout*; a caller that is cancelled leaves
        it running for the others.

        Returns:
            ``STARTING`` before initialize; ``HEALTHY``; ``DEGRADED`` when slow
            or when the pool is saturated; ``UNHEALTHY`` when the database cannot
            be reached, the probe fails, or the migrations are not ready
            (:attr:`MigrationStatus.health`).
        """
        if self._engine is None or self._config is None:
            return DatabaseHealthInfo.starting()
        self._tracker.report_leaks()
        return await self._health.check(timeout)

    async def target_health(self, timeout: float = 5.0) -> tuple[TargetHealth, ...]:  # noqa: ASYNC109
        """Check the primary and each read replica at once, within *timeout* seconds; never raises.

        Returns:
            The primary's :class:`TargetHealth`, then each replica's (reachable,
            latency, replication lag in bytes and seconds, in rotation or not);
            empty before initialize. A replica found lagging or unreachable
            leaves the read rotation until a later check finds it well.
        """
        if self._reads is None:
            return ()
        return await self._reads[0].check(timeout)

    @property
    def replica_health(self) -> tuple[TargetHealth, ...]:
        """Each read replica as the last check saw it, without checking.

        Empty without replicas and before initialize; a replica not checked yet
        reads as reachable and in rotation.
        """
        return () if self._reads is None else self._reads[0].targets

    def _read_metrics(self) -> dict[str, float | int | None]:
        """The read router's counters and per-replica numbers; zero counts before initialize."""
        if self._reads is None:
            return {"reads_to_replicas": 0, "reads_to_primary": 0}
        return self._reads[0].metrics()


def pool_count(pool: Pool, name: str) -> int:
    """The pool's counter *name* (``checkedout``, ``checkedin``, ``overflow``), else 0."""
    counter = getattr(pool, name, None)
    return int(counter()) if callable(counter) else 0
