"""Tests for the health data classes in agentifui_config.health."""

from __future__ import annotations

import ast
import dataclasses
import itertools
import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, assert_type

import pytest

from agentifui_config import health
from agentifui_config.health import (
    ConnectionPoolInfo,
    DatabaseHealthInfo,
    HealthStatus,
    MigrationState,
    MigrationStatus,
)

# Severity order the spec fixes, least severe first.
_ORDER = [
    HealthStatus.HEALTHY,
    HealthStatus.DEGRADED,
    HealthStatus.STARTING,
    HealthStatus.UNHEALTHY,
]


def _pool(**overrides: int) -> ConnectionPoolInfo:
    counts = {
        "pool_size": 5,
        "max_overflow": 10,
        "checked_in": 2,
        "checked_out_connections": 3,
        "overflow_connections": 0,
        "invalid_connections": 0,
        "active_connections": 5,
    }
    counts.update(overrides)
    return ConnectionPoolInfo(**counts)


def _migrations() -> MigrationStatus:
    return MigrationStatus(
        state=MigrationState.PENDING,
        current_revisions=("a1",),
        head_revisions=("c3",),
        pending_revisions=("b2", "c3"),
    )


def _info(**overrides: Any) -> DatabaseHealthInfo:
    fields: dict[str, Any] = {
        "status": HealthStatus.DEGRADED,
        "connected": True,
        "response_time_ms": 1.5,
        "version": "PostgreSQL 16.4",
        "database_name": "app",
        "connection_pool": _pool(),
        "migration_status": _migrations(),
        "errors": (),
        "warnings": ("pool 80% used",),
        "checked_at": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    }
    fields.update(overrides)
    return DatabaseHealthInfo(**fields)


class TestHealthStatus:
    def test_values_are_lowercase_strings(self) -> None:
        """Each member's value is its lowercase name, as health responses spell it."""
        assert {s.value for s in HealthStatus} == {"starting", "healthy", "degraded", "unhealthy"}
        assert all(s.value == s.name.lower() for s in HealthStatus)

    @pytest.mark.parametrize(
        ("status", "available", "code"),
        [
            (HealthStatus.HEALTHY, True, 200),
            (HealthStatus.DEGRADED, True, 200),
            (HealthStatus.STARTING, False, 503),
            (HealthStatus.UNHEALTHY, False, 503),
        ],
    )
    def test_is_available_and_http_status(
        self, status: HealthStatus, available: bool, code: int
    ) -> None:
        """Healthy and degraded take traffic (200); starting and unhealthy do not (503)."""
        assert status.is_available is available
        assert status.http_status == code

    @pytest.mark.parametrize(("lower", "higher"), list(itertools.combinations(_ORDER, 2)))
    def test_worst_keeps_the_more_severe(self, lower: HealthStatus, higher: HealthStatus) -> None:
        """Of two statuses, worst() returns the later in the order of _ORDER."""
        assert HealthStatus.worst(lower, higher) is higher
        assert HealthStatus.worst(higher, lower) is higher

    def test_worst_of_many(self) -> None:
        """worst() ranks by severity, not by the string order of the values."""
        # Alphabetically "starting" sorts after "degraded" and "healthy" but before "unhealthy";
        # "degraded" sorts first although it is more severe than "healthy".
        assert (
            HealthStatus.worst(HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.HEALTHY)
            is HealthStatus.DEGRADED
        )
        assert HealthStatus.worst(*_ORDER) is HealthStatus.UNHEALTHY

    def test_worst_of_one_and_of_none(self) -> None:
        """worst() of a single status is that status; of no status, healthy."""
        assert HealthStatus.worst(HealthStatus.STARTING) is HealthStatus.STARTING
        assert HealthStatus.worst() is HealthStatus.HEALTHY
        assert_type(HealthStatus.worst(), HealthStatus)


class TestConnectionPoolInfo:
    def test_negative_overflow_is_clamped_to_zero(self) -> None:
        """The negative overflow SQLAlchemy reports while the pool fills is stored as 0."""
        assert _pool(overflow_connections=-3).overflow_connections == 0

    def test_positive_overflow_is_kept(self) -> None:
        """A positive overflow count passes through unchanged."""
        assert _pool(overflow_connections=4).overflow_connections == 4

    @pytest.mark.parametrize(
        ("checked_out", "saturated"),
        [(0, False), (14, False), (15, True), (16, True)],
    )
    def test_saturated_at_pool_size_plus_max_overflow(
        self, checked_out: int, saturated: bool
    ) -> None:
        """The pool is saturated once checkouts reach pool_size + max_overflow."""
        pool = _pool(pool_size=5, max_overflow=10, checked_out_connections=checked_out)
        assert pool.saturated is saturated

    def test_saturated_without_overflow(self) -> None:
        """With max_overflow 0 the pool is saturated when every pooled connection is out."""
        assert _pool(pool_size=2, max_overflow=0, checked_out_connections=2).saturated is True
        assert _pool(pool_size=2, max_overflow=0, checked_out_connections=1).saturated is False

    @pytest.mark.parametrize(
        ("checked_out", "expected"),
        [(0, 0.0), (3, 0.2), (15, 1.0), (20, 1.0), (-1, 0.0)],
    )
    def test_utilisation_is_a_share_of_capacity(self, checked_out: int, expected: float) -> None:
        """Utilisation is checkouts over pool_size + max_overflow, kept within 0.0-1.0."""
        pool = _pool(pool_size=5, max_overflow=10, checked_out_connections=checked_out)
        assert pool.utilisation == pytest.approx(expected)

    @pytest.mark.parametrize(("pool_size", "max_overflow"), [(0, 0), (0, 10), (5, -1)])
    def test_unbounded_pool_is_never_saturated(self, pool_size: int, max_overflow: int) -> None:
        """A zero pool_size or negative max_overflow means no limit: no saturation, no division."""
        pool = _pool(pool_size=pool_size, max_overflow=max_overflow, checked_out_connections=50)
        assert pool.saturated is False
        assert pool.utilisation == 0.0

    def test_to_dict_holds_exactly_the_fields(self) -> None:
        """to_dict() maps every field and nothing else, with the clamped overflow."""
        pool = _pool(overflow_connections=-5)
        assert pool.to_dict() == {
            "pool_size": 5,
            "max_overflow": 10,
            "checked_in": 2,
            "checked_out_connections": 3,
            "overflow_connections": 0,
            "invalid_connections": 0,
            "active_connections": 5,
        }
        assert set(pool.to_dict()) == {f.name for f in dataclasses.fields(ConnectionPoolInfo)}

    def test_is_frozen(self) -> None:
        """Assigning to a field raises, so a snapshot cannot be altered after the fact."""
        pool = _pool()
        with pytest.raises(dataclasses.FrozenInstanceError):
            pool.checked_in = 9  # type: ignore[misc]

    def test_repr_is_the_dataclass_default(self) -> None:
        """The repr names the class and shows the counters."""
        assert repr(_pool(overflow_connections=-1)) == (
            "ConnectionPoolInfo(pool_size=5, max_overflow=10, checked_in=2, "
            "checked_out_connections=3, overflow_connections=0, invalid_connections=0, "
            "active_connections=5)"
        )


class TestMigrationState:
    def test_values_are_lowercase_strings(self) -> None:
        """Each member's value is its lowercase name."""
        assert [s.value for s in MigrationState] == [
            "not_configured",
            "up_to_date",
            "pending",
            "unknown_revision",
            "error",
        ]


class TestMigrationStatus:
    @pytest.mark.parametrize(
        ("state", "ready"),
        [
            (MigrationState.NOT_CONFIGURED, True),
            (MigrationState.UP_TO_DATE, True),
            (MigrationState.PENDING, False),
            (MigrationState.UNKNOWN_REVISION, False),
            (MigrationState.ERROR, False),
        ],
    )
    def test_is_ready_per_state(self, state: MigrationState, ready: bool) -> None:
        """Only an up-to-date schema or a service without migrations is ready."""
        assert MigrationStatus(state=state).is_ready is ready

    @pytest.mark.parametrize(
        ("state", "health"),
        [
            (MigrationState.NOT_CONFIGURED, HealthStatus.HEALTHY),
            (MigrationState.UP_TO_DATE, HealthStatus.HEALTHY),
            (MigrationState.PENDING, HealthStatus.UNHEALTHY),
            (MigrationState.UNKNOWN_REVISION, HealthStatus.UNHEALTHY),
            (MigrationState.ERROR, HealthStatus.UNHEALTHY),
        ],
    )
    def test_health_per_state(self, state: MigrationState, health: HealthStatus) -> None:
        """Each state has one health verdict, and readiness is whether it takes traffic."""
        status = MigrationStatus(state=state, error="x" if state is MigrationState.ERROR else None)
        assert_type(status.health, HealthStatus)
        assert status.health is health
        assert status.is_ready is health.is_available
        assert status.health.http_status == (200 if status.is_ready else 503)

    def test_not_configured(self) -> None:
        """not_configured() has the NOT_CONFIGURED state, no revisions and no error."""
        status = MigrationStatus.not_configured()
        assert_type(status, MigrationStatus)
        assert status == MigrationStatus(
            state=MigrationState.NOT_CONFIGURED,
            current_revisions=(),
            head_revisions=(),
            pending_revisions=(),
            error=None,
        )
        assert status.is_ready is True

    def test_to_dict(self) -> None:
        """to_dict() gives the state as its string value and the revisions as lists."""
        data = _migrations().to_dict()
        assert data == {
            "state": "pending",
            "current_revisions": ["a1"],
            "head_revisions": ["c3"],
            "pending_revisions": ["b2", "c3"],
            "error": None,
        }
        assert type(data["state"]) is str

    def test_to_dict_round_trips_through_json(self) -> None:
        """An error status survives json.dumps and json.loads unchanged."""
        status = MigrationStatus(state=MigrationState.ERROR, error="relation missing")
        assert json.loads(json.dumps(status.to_dict())) == status.to_dict()

    def test_is_frozen(self) -> None:
        """Assigning to a field raises."""
        status = MigrationStatus.not_configured()
        with pytest.raises(dataclasses.FrozenInstanceError):
            status.state = MigrationState.ERROR  # type: ignore[misc]


class TestDatabaseHealthInfo:
    def test_to_dict_shape(self) -> None:
        """to_dict() renders enums as values, tuples as lists, nested classes as mappings."""
        assert _info().to_dict() == {
            "status": "degraded",
            "connected": True,
            "response_time_ms": 1.5,
            "version": "PostgreSQL 16.4",
            "database_name": "app",
            "connection_pool": _pool().to_dict(),
            "migration_status": _migrations().to_dict(),
            "errors": [],
            "warnings": ["pool 80% used"],
            "checked_at": "2024-05-01T12:30:00+00:00",
        }

    def test_to_dict_holds_exactly_the_fields(self) -> None:
        """to_dict() has one key per field and nothing else."""
        names = {f.name for f in dataclasses.fields(DatabaseHealthInfo)}
        assert set(_info().to_dict()) == names

    @pytest.mark.parametrize(
        "info",
        [
            _info(),
            _info(connection_pool=None, response_time_ms=None, errors=("timed out",)),
            DatabaseHealthInfo.starting(),
        ],
        ids=["full", "no-pool", "starting"],
    )
    def test_to_dict_round_trips_through_json(self, info: DatabaseHealthInfo) -> None:
        """to_dict() output survives json.dumps and json.loads unchanged."""
        data = info.to_dict()
        assert json.loads(json.dumps(data)) == data

    def test_checked_at_parses_back_as_utc(self) -> None:
        """The serialised checked_at parses back to the same aware UTC instant."""
        info = _info()
        parsed = datetime.fromisoformat(info.to_dict()["checked_at"])
        assert parsed == info.checked_at
        assert parsed.utcoffset() == timedelta(0)

    def test_checked_at_defaults_to_now_in_utc(self) -> None:
        """Without checked_at the check is stamped with the current UTC time."""
        before = datetime.now(UTC)
        info = DatabaseHealthInfo(status=HealthStatus.HEALTHY, connected=True)
        after = datetime.now(UTC)
        assert before <= info.checked_at <= after
        assert info.checked_at.tzinfo is UTC

    def test_aware_checked_at_is_converted_to_utc(self) -> None:
        """A checked_at in another zone is stored as the same instant in UTC."""
        local = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
        info = _info(checked_at=local)
        assert info.checked_at.tzinfo is UTC
        assert info.checked_at == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
        assert info.to_dict()["checked_at"] == "2024-05-01T12:30:00+00:00"

    def test_naive_checked_at_is_refused(self) -> None:
        """A naive checked_at raises, since its zone would have to be guessed."""
        with pytest.raises(ValueError, match=r"checked_at must be timezone-aware.*datetime\.now"):
            _info(checked_at=datetime(2024, 5, 1, 12, 30))

    def test_starting(self) -> None:
        """starting() is unavailable, disconnected and carries no measurements."""
        info = DatabaseHealthInfo.starting()
        assert_type(info, DatabaseHealthInfo)
        assert info.status is HealthStatus.STARTING
        assert info.status.is_available is False
        assert info.connected is False
        assert info.response_time_ms is None
        assert info.version is None
        assert info.database_name is None
        assert info.connection_pool is None
        assert info.migration_status == MigrationStatus.not_configured()
        assert info.errors == ()
        assert info.warnings == ()

    def test_is_frozen(self) -> None:
        """Assigning to a field raises."""
        info = DatabaseHealthInfo.starting()
        with pytest.raises(dataclasses.FrozenInstanceError):
            info.status = HealthStatus.HEALTHY  # type: ignore[misc]

    def test_fields_are_keyword_only(self) -> None:
        """Positional construction is refused, so same-typed fields cannot be swapped."""
        with pytest.raises(TypeError):
            DatabaseHealthInfo(HealthStatus.HEALTHY, True)  # type: ignore[call-arg]

    def test_equal_snapshots_hash_alike(self) -> None:
        """Two snapshots with equal fields are equal and hash alike."""
        assert _info() == _info()
        assert hash(_info()) == hash(_info())
        assert _info() != _info(status=HealthStatus.UNHEALTHY)


class TestModule:
    def test_imports_only_the_standard_library(self) -> None:
        """health.py imports nothing outside the standard library, so it stays free of I/O deps."""
        tree = ast.parse(Path(health.__file__).read_text(encoding="utf-8"))
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or "").split(".")[0])
        assert imported
        assert imported <= set(sys.stdlib_module_names) | {"__future__"}

    def test_all_lists_the_public_classes(self) -> None:
        """__all__ names exactly the five public classes."""
        assert sorted(health.__all__) == [
            "ConnectionPoolInfo",
            "DatabaseHealthInfo",
            "HealthStatus",
            "MigrationState",
            "MigrationStatus",
        ]
