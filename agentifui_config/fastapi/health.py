"""Health endpoints: ``/health`` (the report), ``/health/live`` (the process), ``/health/ready``.

``/health`` answers with the overall status and one entry per component
(``database``, ``migrations`` when the lifespan was given migrations, and
``read_targets`` when there are read replicas); ``/health/ready`` with the
status only; both 200 for ``healthy`` and ``degraded``, 503 for ``starting``
and ``unhealthy``. A read replica that is down or lagging makes the service
``degraded``, never ``unhealthy`` (the rule is :attr:`TargetHealth.health
<agentifui_config.replicas.TargetHealth.health>`): reads fall back to the
primary. The primary's own entry there is for information: its verdict is the
``database`` component's, so it is not counted twice. ``/health/live`` never
touches the database: it says the process answers, so an orchestrator does not
restart a service whose database is down.

Probe storms stay cheap: concurrent requests share the manager's in-flight
checks (:meth:`ConnectionManager.health_check` and
:meth:`ConnectionManager.target_health` do the sharing), and their rendered
answer is reused for a short time (``cache_ttl``). The migrations component
takes its status from :attr:`MigrationStatus.health`, the verdict the manager
and the CLI's ``doctor`` use too.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from fastapi import APIRouter
from starlette.requests import Request  # noqa: TC002 - FastAPI reads annotations at run time
from starlette.responses import Response

from agentifui_config.connection import ConnectionManager
from agentifui_config.errors import ConfigurationError
from agentifui_config.fastapi.dependencies import DATABASE_STATE
from agentifui_config.health import DatabaseHealthInfo, HealthStatus
from agentifui_config.probing import database_status

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agentifui_config.replicas import TargetHealth

__all__ = ["health_router"]

_HEADERS: Final = {"Cache-Control": "no-store"}
_MEDIA_TYPE: Final = "application/json"
_LIVE: Final = b'{"status":"healthy"}'
_NO_LIFESPAN: Final = (
    f"no connection manager on app.state.{DATABASE_STATE}: "
    "create the app with FastAPI(lifespan=create_lifespan())"
)
_HIDDEN_ERROR: Final = "the database check failed"
# What a read target's error says without expose_details: why, never where.
_HIDDEN_TARGET_ERROR: Final = {True: "lags too far behind", False: "did not answer"}
_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    503: {"description": "Starting or unhealthy: do not send traffic."}
}


def health_router(
    *,
    prefix: str = "/health",
    timeout: float = 1.0,
    cache_ttl: float = 1.0,
    expose_details: bool = False,
    include_in_schema: bool = True,
    tags: Sequence[str] = ("health",),
) -> APIRouter:
    """Build the router of the three health endpoints, to include in an app.

    Args:
        prefix: Where the endpoints live: ``{prefix}``, ``{prefix}/live``, ``{prefix}/ready``.
        timeout: Seconds a database check may take; keep it below the
            orchestrator's probe timeout.
        cache_ttl: Seconds a finished check answers further probes; 0 checks
            every time (concurrent probes still share the manager's check).
        expose_details: Show the database's host, port, name, user name, server
            version and error texts; off by default, since a health endpoint is
            often public. Pool numbers and warnings are always shown.
        include_in_schema: List the endpoints in the OpenAPI schema.
        tags: OpenAPI tags of the endpoints.

    Raises:
        ConfigurationError: *prefix* does not start with ``/`` or ends with one,
            or *timeout* is not positive or *cache_ttl* negative.
    """
    _check_arguments(prefix, timeout, cache_ttl)
    check = _CachedCheck(timeout, cache_ttl, expose_details)
    router = APIRouter(prefix=prefix, tags=list(tags), include_in_schema=include_in_schema)

    @router.get("", response_class=Response, responses=_RESPONSES)
    async def health(request: Request) -> Response:
        """The overall status and one entry per component, with the pool's numbers."""
        report = await check.report(_manager_of(request))
        return _json(report.full, report.status)

    @router.get("/live", response_class=Response)
    async def live() -> Response:
        """The process answers; the database is not checked."""
        return _json(_LIVE, HealthStatus.HEALTHY)

    @router.get("/ready", response_class=Response, responses=_RESPONSES)
    async def ready(request: Request) -> Response:
        """Whether to send traffic: 503 while starting, without the database, or migrations due."""
        report = await check.report(_manager_of(request))
        return _json(report.brief, report.status)

    return router


def _check_arguments(prefix: str, timeout: float, cache_ttl: float) -> None:
    if not prefix.startswith("/") or prefix.endswith("/"):
        raise ConfigurationError(
            f"{prefix!r} is not a path prefix",
            variable="prefix",
            remedy="start it with '/' and do not end it with one, as in '/health'",
        )
    if timeout <= 0 or cache_ttl < 0:
        raise ConfigurationError(
            f"timeout={timeout!r}, cache_ttl={cache_ttl!r}: the timeout must be positive "
            "and the cache time not negative",
            variable="timeout",
            remedy="pass for example timeout=1.0, cache_ttl=1.0",
        )


def _manager_of(request: Request) -> ConnectionManager | None:
    manager = getattr(request.app.state, DATABASE_STATE, None)
    return manager if isinstance(manager, ConnectionManager) else None


def _json(body: bytes, status: HealthStatus) -> Response:
    return Response(body, status.http_status, headers=_HEADERS, media_type=_MEDIA_TYPE)


@dataclass(frozen=True, slots=True)
class _Report:
    """A check's answer, rendered once for every probe it serves."""

    status: HealthStatus
    full: bytes
    brief: bytes
    info: DatabaseHealthInfo | None = None
    targets: tuple[TargetHealth, ...] = ()
    manager: ConnectionManager | None = None
    expires: float = 0.0


class _CachedCheck:
    """The manager's health check, its rendered answer reused for *ttl* seconds."""

    def __init__(self, timeout: float, ttl: float, expose: bool) -> None:
        self._timeout, self._ttl, self._expose = timeout, ttl, expose
        self._cached: _Report | None = None
        self._no_manager = _render(None, DatabaseHealthInfo.starting(), expose)

    async def report(self, manager: ConnectionManager | None) -> _Report:
        """The cached report, or the one of the manager's check in flight or a new one."""
        if manager is None:
            return self._no_manager
        if not manager.is_initialized:
            return _render(manager, DatabaseHealthInfo.starting(), self._expose)
        cached = self._cached
        if cached is not None and cached.manager is manager and time.monotonic() < cached.expires:
            return cached
        # Concurrent callers get the same results from the manager's shared checks: render once.
        info, targets = await asyncio.gather(
            manager.health_check(timeout=self._timeout), self._targets(manager)
        )
        cached = self._cached
        if cached is not None and cached.info is info and cached.targets is targets:
            return cached
        report = _render(manager, info, self._expose, time.monotonic() + self._ttl, targets)
        self._cached = report
        return report

    async def _targets(self, manager: ConnectionManager) -> tuple[TargetHealth, ...]:
        """The primary and each replica, checked; none without replicas, to spare the primary."""
        if not manager.has_replicas:
            return ()
        return await manager.target_health(timeout=self._timeout)


def _render(
    manager: ConnectionManager | None,
    info: DatabaseHealthInfo,
    expose: bool,
    expires: float = 0.0,
    targets: tuple[TargetHealth, ...] = (),
) -> _Report:
    components = [_database(manager, info, expose)]
    if manager is not None and manager.migration_probe is not None:
        components.append(_migrations(info, expose))
    # The replicas' verdict: the primary's is the manager's health check, not its read target.
    reads = HealthStatus.worst(*(target.health for target in targets[1:]))
    if targets:
        components.append(_read_targets(targets, reads, expose))
    # The manager's verdict, migrations included, and the replicas' (at worst DEGRADED).
    status = HealthStatus.worst(info.status, reads)
    checked_at = info.checked_at.isoformat()
    full = {"status": status.value, "checked_at": checked_at, "components": components}
    brief = {"status": status.value, "checked_at": checked_at}
    return _Report(status, _dumps(full), _dumps(brief), info, targets, manager, expires)


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _database(
    manager: ConnectionManager | None, info: DatabaseHealthInfo, expose: bool
) -> dict[str, Any]:
    pool = info.connection_pool
    details: dict[str, Any] = {"connected": info.connected, **(pool.to_dict() if pool else {})}
    details["warnings"] = list(info.warnings)
    details["errors"] = _errors(manager, info, expose)
    config = manager.config if manager is not None else None
    if expose and config is not None:
        details.update(config.connection_info)
        details.update(database=info.database_name or config.database, version=info.version)
    return {
        "name": "database",
        "status": database_status(info).value,
        "latency_ms": info.response_time_ms,
        "details": details,
    }


def _errors(manager: ConnectionManager | None, info: DatabaseHealthInfo, expose: bool) -> list[str]:
    # A database that answered has no error of its own: the migrations' is in their component.
    errors = () if info.connected else info.errors
    if not expose:
        # Error texts may name hosts and addresses: only their existence is public.
        return [_HIDDEN_ERROR] if errors else []
    return [_NO_LIFESPAN] if manager is None else list(errors)


def _migrations(info: DatabaseHealthInfo, expose: bool) -> dict[str, Any]:
    migrations = info.migration_status
    if not info.connected:
        # Not checked: the database did not answer, so the migrations are as unknown.
        status = info.status.value
        return {"name": "migrations", "status": status, "latency_ms": None, "details": {}}
    details = migrations.to_dict()
    if not expose and details["error"] is not None:
        details["error"] = _HIDDEN_ERROR
    return {
        "name": "migrations",
        "status": migrations.health.value,
        "latency_ms": None,
        "details": details,
    }


def _read_targets(
    targets: tuple[TargetHealth, ...], status: HealthStatus, expose: bool
) -> dict[str, Any]:
    return {
        "name": "read_targets",
        "status": status.value,
        "latency_ms": None,
        "details": {"targets": [_read_target(target, expose) for target in targets]},
    }


def _read_target(target: TargetHealth, expose: bool) -> dict[str, Any]:
    entry = target.to_dict()
    if not expose:
        # Addresses and error texts name hosts: only the facts are public.
        del entry["address"]
        if target.error is not None:
            entry["error"] = _HIDDEN_TARGET_ERROR[target.reachable]
    return entry
