"""Health data: what a database health check found, ready to serialise as JSON.

Plain frozen data, no I/O, standard library only; ``ConnectionManager.health_check()``
and the migration helpers produce it. The free-text fields (``errors``, ``warnings``,
``MigrationStatus.error``, ``version``) reach health responses as given: producers
must pass text already scrubbed of passwords and credentials in URLs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

__all__ = [
    "ConnectionPoolInfo",
    "DatabaseHealthInfo",
    "HealthStatus",
    "MigrationState",
    "MigrationStatus",
]


class HealthStatus(enum.StrEnum):
    """The state of a service or one of its components, as a health endpoint reports it.

    ``HEALTHY`` and ``DEGRADED`` mean the service can take traffic (HTTP 200);
    ``STARTING`` and ``UNHEALTHY`` mean it cannot (HTTP 503). Members compare as
    strings, so use :meth:`worst` rather than ``<`` to rank them.
    """

    STARTING = "starting"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"

    @property
    def is_available(self) -> bool:
        """Whether the service can take traffic in this state."""
        return self in (HealthStatus.HEALTHY, HealthStatus.DEGRADED)

    @property
    def http_status(self) -> int:
        """The HTTP status code a health endpoint answers with: 200 or 503."""
        return 200 if self.is_available else 503

    @classmethod
    def worst(cls, *statuses: HealthStatus) -> HealthStatus:
        """Combine component statuses: ``HEALTHY`` < ``DEGRADED`` < ``STARTING`` < ``UNHEALTHY``.

        Args:
            *statuses: The statuses of the components.

        Returns:
            The most severe of *statuses*; ``HEALTHY`` when none is given.
        """
        return max(statuses, key=_SEVERITY.__getitem__, default=cls.HEALTHY)


# STARTING ranks above DEGRADED: a degraded service takes traffic, a starting one cannot.
_SEVERITY = {
    HealthStatus.HEALTHY: 0,
    HealthStatus.DEGRADED: 1,
    HealthStatus.STARTING: 2,
    HealthStatus.UNHEALTHY: 3,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionPoolInfo:
    """A snapshot of the connection pool's counters.

    ``overflow_connections`` is clamped to zero: SQLAlchemy's ``QueuePool.overflow()``
    starts at ``-pool_size`` and stays negative until the pool has opened
    ``pool_size`` connections.

    Attributes:
        pool_size: Connections the pool keeps open; 0 means no limit.
        max_overflow: Connections allowed beyond ``pool_size``; negative means no limit.
        checked_in: Idle connections waiting in the pool.
        checked_out_connections: Connections currently lent to sessions.
        overflow_connections: Connections open beyond ``pool_size``, never negative.
        invalid_connections: Connections the producer counted as invalidated.
        active_connections: Connections open to the server, idle or lent out.
    """

    pool_size: int
    max_overflow: int
    checked_in: int
    checked_out_connections: int
    overflow_connections: int
    invalid_connections: int
    active_connections: int

    def __post_init__(self) -> None:
        # Frozen dataclasses allow assignment only through object.__setattr__.
        object.__setattr__(self, "overflow_connections", max(0, self.overflow_connections))

    @property
    def _capacity(self) -> int | None:
        """Connections that can be lent out at once, or None when unbounded."""
        if self.pool_size <= 0 or self.max_overflow < 0:
            return None
        return self.pool_size + self.max_overflow

    @property
    def saturated(self) -> bool:
        """Whether the next checkout has to wait for a connection to come back."""
        capacity = self._capacity
        return capacity is not None and self.checked_out_connections >= capacity

    @property
    def utilisation(self) -> float:
        """The share of the pool's capacity lent out, from 0.0 to 1.0; 0.0 when unbounded."""
        capacity = self._capacity
        if capacity is None:
            return 0.0
        return min(1.0, max(0, self.checked_out_connections) / capacity)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready mapping."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class MigrationState(enum.StrEnum):
    """Where the database schema stands relative to the migration scripts."""

    NOT_CONFIGURED = "not_configured"
    UP_TO_DATE = "up_to_date"
    PENDING = "pending"
    UNKNOWN_REVISION = "unknown_revision"
    ERROR = "error"


# The one verdict on migrations: the schema is known to match the code, or it is not.
# Pending revisions, a revision the scripts do not know, several heads and an unreadable
# state all leave the service running on a schema nobody vouched for: not ready.
_MIGRATION_HEALTH: Final = {
    MigrationState.NOT_CONFIGURED: HealthStatus.HEALTHY,
    MigrationState.UP_TO_DATE: HealthStatus.HEALTHY,
    MigrationState.PENDING: HealthStatus.UNHEALTHY,
    MigrationState.UNKNOWN_REVISION: HealthStatus.UNHEALTHY,
    MigrationState.ERROR: HealthStatus.UNHEALTHY,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationStatus:
    """The database's migration revisions compared with the scripts' heads.

    Attributes:
        state: The verdict.
        current_revisions: Revisions the database is stamped with.
        head_revisions: Head revisions of the migration scripts.
        pending_revisions: Revisions not yet applied, oldest first.
        error: Why the status could not be determined, scrubbed of secrets; ``None``
            unless ``state`` is ``ERROR``.
    """

    state: MigrationState
    current_revisions: tuple[str, ...] = ()
    head_revisions: tuple[str, ...] = ()
    pending_revisions: tuple[str, ...] = ()
    error: str | None = None

    @property
    def health(self) -> HealthStatus:
        """The health this status gives the service: ``HEALTHY`` when ready, else ``UNHEALTHY``.

        The manager's health check, the FastAPI health endpoints and the CLI's
        ``doctor`` all take their migration verdict from here.
        """
        return _MIGRATION_HEALTH[self.state]

    @property
    def is_ready(self) -> bool:
        """Whether the service can take traffic on this schema: up to date, or no migrations."""
        return self.health.is_available

    @classmethod
    def not_configured(cls) -> MigrationStatus:
        """Return the status of a service that does not use migrations."""
        return cls(state=MigrationState.NOT_CONFIGURED)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready mapping: the state as its value, tuples as lists."""
        return {
            "state": self.state.value,
            "current_revisions": list(self.current_revisions),
            "head_revisions": list(self.head_revisions),
            "pending_revisions": list(self.pending_revisions),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseHealthInfo:
    """The result of one database health check.

    Attributes:
        status: The overall verdict.
        connected: Whether a round trip to the server succeeded.
        response_time_ms: How long the round trip took, in milliseconds.
        version: The server version string.
        database_name: The database the service is connected to.
        connection_pool: The pool's counters, or ``None`` for a pool without counters.
        migration_status: The schema's migration status.
        errors: What makes the database unusable, scrubbed of secrets.
        warnings: What deserves attention without stopping the service, scrubbed too.
        checked_at: When the check ran, in UTC; defaults to now.

    Raises:
        ValueError: ``checked_at`` has no time zone.
    """

    status: HealthStatus
    connected: bool
    response_time_ms: float | None = None
    version: str | None = None
    database_name: str | None = None
    connection_pool: ConnectionPoolInfo | None = None
    migration_status: MigrationStatus = field(default_factory=MigrationStatus.not_configured)
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    checked_at: datetime = field(default_factory=partial(datetime.now, UTC))

    def __post_init__(self) -> None:
        # A naive time cannot be placed on the UTC timeline without guessing its zone.
        if self.checked_at.utcoffset() is None:
            raise ValueError(
                f"checked_at must be timezone-aware, got naive {self.checked_at.isoformat()}; "
                "use datetime.now(UTC)"
            )
        object.__setattr__(self, "checked_at", self.checked_at.astimezone(UTC))

    @classmethod
    def starting(cls) -> DatabaseHealthInfo:
        """Return the health before initialisation: ``STARTING``, disconnected, nothing measured.

        The migration status is ``NOT_CONFIGURED`` because nothing has been checked yet.
        """
        return cls(status=HealthStatus.STARTING, connected=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready mapping; ``checked_at`` as ISO 8601 with ``+00:00``."""
        pool = self.connection_pool
        return {
            "status": self.status.value,
            "connected": self.connected,
            "response_time_ms": self.response_time_ms,
            "version": self.version,
            "database_name": self.database_name,
            "connection_pool": None if pool is None else pool.to_dict(),
            "migration_status": self.migration_status.to_dict(),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "checked_at": self.checked_at.isoformat(),
        }
