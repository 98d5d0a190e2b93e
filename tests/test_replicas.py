"""Tests for read replicas: routing, read-only sessions, read-your-writes, health and lag.

They run against a primary and two streaming standbys the suite starts itself
(the ``replication`` fixture of ``conftest``), once for the whole session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy.exc
from connection_support import managed, proxy_to
from fastapi import FastAPI
from pgbouncer_support import password_checking_pgbouncer
from replication_support import Cluster, read_from, replicas_config
from sqlalchemy import text

from agentifui_config import ConnectionManager, HealthStatus
from agentifui_config.connection import ManagerStateError
from agentifui_config.credentials import Credentials
from agentifui_config.fastapi import (
    DATABASE_STATE,
    ReadSessionDep,
    TransactionDep,
    health_router,
)
from agentifui_config.replicas import TargetHealth

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _health(
    manager: ConnectionManager, path: str = "", **options: Any
) -> tuple[int, dict[str, Any]]:
    """GET the health endpoint *path* of an app serving *manager*: the status code and body."""
    app = FastAPI()
    setattr(app.state, DATABASE_STATE, manager)
    app.include_router(health_router(**{"cache_ttl": 0.0, "timeout": 2.0, **options}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(f"/health{path}")
    return response.status_code, response.json()


def _targets(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The read targets' entries of a ``/health`` body."""
    component = next(c for c in body["components"] if c["name"] == "read_targets")
    targets: list[dict[str, Any]] = component["details"]["targets"]
    return targets


@pytest_asyncio.fixture(loop_scope="session")
async def manager(replication: Cluster) -> AsyncIterator[ConnectionManager]:
    """A manager of the primary with both standbys as read replicas."""
    async with managed(replicas_config(replication)) as made:
        yield made


class TestRouting:
    async def test_round_robin_over_replicas(
        self, manager: ConnectionManager, replication: Cluster
    ) -> None:
        """Consecutive read sessions go to each standby in turn, never to the primary."""
        seen = [await read_from(manager) for _ in range(4)]
        ports = {node.port for node in replication.standbys}
        assert {port for port, _ in seen} == ports
        assert all(standby for _, standby in seen)
        assert seen[0][0] != seen[1][0]

    async def test_write_refused_on_a_replica(self, manager: ConnectionManager) -> None:
        """A write on a read session is refused by the server, not sent as a write."""
        async with manager.read_session() as session:
            with pytest.raises(sqlalchemy.exc.DBAPIError) as info:
                await session.execute(text("CREATE TABLE refused (a int)"))
        assert getattr(info.value.orig, "sqlstate", None) == "25006"

    async def test_primary_reads_are_read_only(self, replication: Cluster) -> None:
        """Without replicas, reads go to the primary in read-only transactions; its pool stays."""
        async with managed(replication.primary.config) as manager:
            async with manager.session() as session:
                pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with manager.read_session() as session:
                assert (await session.execute(text("SHOW transaction_read_only"))).scalar() == "on"
                with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only transaction"):
                    await session.execute(text("CREATE TABLE refused (a int)"))
            async with manager.session() as session:
                again = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                assert (await session.execute(text("SHOW transaction_read_only"))).scalar() == "off"
        assert again == pid

    async def test_falls_back_to_the_primary(self, replication: Cluster) -> None:
        """When no replica answers within the check budget, reads go to the primary."""
        config = replicas_config(replication, read_hosts="127.0.0.1:1", read_check_timeout=0.5)
        async with managed(config) as manager:
            port, standby = await asyncio.wait_for(read_from(manager), 5)
            (primary, replica) = await manager.target_health(2.0)
        assert (port, standby) == (replication.primary.port, False)
        assert replica.reachable is False
        assert replica.in_rotation is False
        assert primary.reachable is True

    async def test_replicas_log_in_with_the_manager_credentials(self, replication: Cluster) -> None:
        """A manager's password provider logs in to its replicas too, not only to the primary.

        The standby sits behind a pooler that checks passwords (the machine's
        servers trust loopback), and DB_PASSWORD is empty: only the token logs in.
        """
        standby = replication.standbys[0]
        with password_checking_pgbouncer(standby.config) as pooler:
            pooler.set_users({"postgres": "token-1"})
            config = replicas_config(
                replication,
                read_hosts=f"127.0.0.1:{pooler.config.port}",
                pgbouncer=True,
                password="",
            )
            manager = ConnectionManager(credentials=Credentials(lambda: "token-1"))
            await manager.initialize(config)
            try:
                where = await read_from(manager)
                (_, replica) = await manager.target_health(2.0)
            finally:
                await manager.dispose()
        assert where == (standby.port, True)
        assert (replica.reachable, replica.in_rotation) == (True, True)

    async def test_lost_replica_leaves_the_rotation(self, replication: Cluster) -> None:
        """A replica that goes away between checks fails one read at most, then gets none."""
        doomed = replication.add_standby()
        first = replication.standbys[0]
        config = replicas_config(
            replication, read_hosts=f"127.0.0.1:{doomed.port},127.0.0.1:{first.port}"
        )
        async with managed(config) as manager:
            assert {(await read_from(manager))[0] for _ in range(2)} == {doomed.port, first.port}
            doomed.stop("immediate")
            replication.standbys.remove(doomed)
            outcomes: list[int | None] = []
            for _ in range(4):
                try:
                    outcomes.append((await read_from(manager))[0])
                except (sqlalchemy.exc.DBAPIError, OSError):
                    outcomes.append(None)
            (_, lost, _) = await manager.target_health(2.0)
        assert outcomes.count(None) <= 1
        assert outcomes[-2:] == [first.port, first.port]
        assert lost.reachable is False


class TestReadYourWrites:
    async def test_reads_after_a_commit_go_to_the_primary(
        self, manager: ConnectionManager, replication: Cluster
    ) -> None:
        """After a session committed, the same context reads from the primary; others do not."""

        async def write_then_read() -> tuple[int, bool]:
            async with manager.session() as session:
                await session.execute(text("SELECT 1"))
                await session.commit()
            return await read_from(manager)

        assert await asyncio.create_task(write_then_read()) == (replication.primary.port, False)
        assert (await asyncio.create_task(read_from(manager)))[1] is True

    async def test_request_reads_its_writes(
        self, manager: ConnectionManager, replication: Cluster
    ) -> None:
        """A handler that committed through TransactionDep reads its row back on ReadSessionDep."""
        app = FastAPI()
        setattr(app.state, DATABASE_STATE, manager)

        @app.post("/rows")
        async def add(writes: TransactionDep, reads: ReadSessionDep) -> dict[str, int]:
            await writes.execute(text("CREATE TABLE IF NOT EXISTS ryw (a int)"))
            await writes.execute(text("INSERT INTO ryw VALUES (1)"))
            await writes.commit()
            count = (await reads.execute(text("SELECT count(*) FROM ryw"))).scalar_one()
            port = (await reads.execute(text("SELECT inet_server_port()"))).scalar_one()
            return {"count": int(count), "port": int(port)}

        @app.get("/port")
        async def where(reads: ReadSessionDep) -> int:
            return int((await reads.execute(text("SELECT inet_server_port()"))).scalar_one())

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            # Each in a task of its own, as a server such as uvicorn runs each request.
            written = (await asyncio.create_task(client.post("/rows"))).json()
            other = (await asyncio.create_task(client.get("/port"))).json()
        assert written["port"] == replication.primary.port
        assert written["count"] >= 1
        assert other in {node.port for node in replication.standbys}


class TestHealth:
    async def test_each_target_reported(
        self, manager: ConnectionManager, replication: Cluster
    ) -> None:
        """The primary and each replica report reachability, latency and a lag of zero when idle."""
        for node in replication.standbys:
            await replication.caught_up(node)
        report = await manager.target_health(5.0)
        assert [t.name for t in report] == ["primary", "replica 1", "replica 2"]
        assert report[1].address == f"127.0.0.1:{replication.standbys[0].port}"
        assert all(t.reachable and t.in_rotation and t.latency_ms is not None for t in report)
        assert [(t.lag_bytes, t.lag_seconds) for t in report[1:]] == [(0, 0.0), (0, 0.0)]
        metrics = manager.get_metrics()
        assert metrics["replica_1_reachable"] == 1
        assert metrics["replica_2_lag_bytes"] == 0
        assert isinstance(report[0], TargetHealth)
        assert report[0].to_dict()["name"] == "primary"

    async def test_lagging_replica_leaves_the_rotation(self, replication: Cluster) -> None:
        """A replica whose replay is paused past the lag limit gets no reads until it catches up."""
        first, second = replication.standbys
        config = replicas_config(replication, read_max_lag_seconds=0.5)
        async with managed(config) as manager:
            await replication.primary.fetchval("CREATE TABLE IF NOT EXISTS lag (a int)")
            await replication.caught_up(first)
            await first.fetchval("SELECT pg_wal_replay_pause()")
            try:
                await asyncio.sleep(1.0)
                await replication.primary.fetchval("INSERT INTO lag VALUES (1)")
                report = await manager.target_health(5.0)
                ports = {(await read_from(manager))[0] for _ in range(4)}
            finally:
                await first.fetchval("SELECT pg_wal_replay_resume()")
            await replication.caught_up(first)
            healed = await manager.target_health(5.0)
        lagging = report[1]
        assert lagging.in_rotation is False
        assert lagging.lag_bytes is not None
        assert lagging.lag_bytes > 0
        assert lagging.lag_seconds is not None
        assert lagging.lag_seconds > 0.5
        assert lagging.error is not None
        assert "lags" in lagging.error
        assert ports == {second.port}
        assert healed[1].in_rotation is True

    async def test_saturated_primary_pool_leaves_the_replicas_in_rotation(
        self, replication: Cluster
    ) -> None:
        """With every connection of the primary's pool lent out, the replicas are checked in time.

        The primary's WAL position is not waited for: the replicas measure
        their lag against what they received, and keep their whole budget.
        """
        config = replicas_config(replication, pool_size=1, max_overflow=0, pool_timeout=30.0)
        async with managed(config) as manager, manager.engine.connect() as held:
            await held.execute(text("SELECT 1"))
            assert manager.pool_status.saturated
            for node in replication.standbys:
                await replication.caught_up(node)
            started = asyncio.get_running_loop().time()
            report = await manager.target_health(1.0)
            elapsed = asyncio.get_running_loop().time() - started
            where = await read_from(manager)
        primary, *replicas = report
        assert elapsed < 1.0
        assert (primary.reachable, primary.error) == (
            False,
            "not checked: every connection of its pool is checked out",
        )
        assert all(t.reachable and t.in_rotation and t.latency_ms is not None for t in replicas)
        assert [(t.lag_bytes, t.lag_seconds) for t in replicas] == [(0, 0.0), (0, 0.0)]
        assert where[1] is True

    async def test_silent_primary_leaves_the_replicas_their_budget(
        self, replication: Cluster
    ) -> None:
        """A primary that stops answering takes a quarter of the budget: the replicas stay in."""
        async with proxy_to(replication.primary.config) as proxy:
            config = replicas_config(replication, host="127.0.0.1", port=proxy.port)
            async with managed(config) as manager:
                proxy.black_hole()
                report = await manager.target_health(2.0)
        primary, *replicas = report
        assert (primary.reachable, primary.error) == (False, "did not answer in time")
        assert all(t.reachable and t.in_rotation for t in replicas)

    async def test_late_callers_share_one_answer(
        self, manager: ConnectionManager, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Callers whose budget ends before the check in flight get one and the same answer."""
        router = manager.read_router
        assert router is not None

        async def slow(timeout: float) -> tuple[TargetHealth, ...]:  # noqa: ASYNC109
            await asyncio.sleep(5.0)
            return ()

        monkeypatch.setattr(router, "_check_all", slow)
        first, second = await asyncio.gather(
            manager.target_health(0.05), manager.target_health(0.05)
        )
        third = await manager.target_health(0.05)
        assert first is second is third
        assert (first[0].name, first[0].error) == ("primary", "did not answer in time")
        assert [t.name for t in first[1:]] == ["replica 1", "replica 2"]

    async def test_before_initialize(self) -> None:
        """A manager not yet initialized reports no targets and refuses read sessions."""
        manager = ConnectionManager()
        assert await manager.target_health() == ()
        with pytest.raises(ManagerStateError, match="is not initialized"):
            async with manager.read_session():
                pass

    async def test_no_secret_in_unreachable_reason(self, replication: Cluster) -> None:
        """A replica's error is reported without the shared password, even where it held it."""
        config = replicas_config(replication, password="s3cret-pw", read_hosts="127.0.0.1:1")
        async with managed(config) as manager:
            assert manager._reads is not None
            router = manager._reads[0]
            echoed = ConnectionError("password 's3cret-pw' refused")
            reason = router._unreachable("replica 1", config, echoed).error
        assert reason is not None
        assert "refused" in reason
        assert "s3cret-pw" not in reason


class TestHealthEndpoints:
    async def test_each_target_in_the_report(
        self, manager: ConnectionManager, replication: Cluster
    ) -> None:
        """/health lists the primary and each replica, without addresses unless exposed."""
        for node in replication.standbys:
            await replication.caught_up(node)
        code, body = await _health(manager)
        targets = _targets(body)
        assert (code, body["status"]) == (200, "healthy")
        assert [t["name"] for t in targets] == ["primary", "replica 1", "replica 2"]
        assert all(t["reachable"] and t["in_rotation"] for t in targets)
        assert all(t["latency_ms"] is not None for t in targets)
        assert [(t["lag_bytes"], t["lag_seconds"]) for t in targets[1:]] == [(0, 0.0), (0, 0.0)]
        assert all("address" not in t for t in targets)
        _, exposed = await _health(manager, expose_details=True)
        port = replication.standbys[0].port
        assert _targets(exposed)[1]["address"] == f"127.0.0.1:{port}"

    async def test_replica_down_degrades(self, replication: Cluster) -> None:
        """A replica that stops answering makes the service degraded; ready stays 200."""
        first, second = replication.standbys
        async with proxy_to(first.config) as proxy:
            reads = f"127.0.0.1:{proxy.port},127.0.0.1:{second.port}"
            async with managed(replicas_config(replication, read_hosts=reads)) as manager:
                proxy.refuse()
                code, body = await _health(manager)
                ready = await _health(manager, "/ready")
                _, exposed = await _health(manager, expose_details=True)
        down = _targets(body)[1]
        assert (code, body["status"]) == (200, "degraded")
        assert ready == (200, {"status": "degraded", "checked_at": ready[1]["checked_at"]})
        assert (down["reachable"], down["in_rotation"], down["error"]) == (
            False,
            False,
            "did not answer",
        )
        assert _targets(body)[2]["in_rotation"] is True
        assert _component_status(body, "database") == "healthy"
        assert _component_status(body, "read_targets") == "degraded"
        assert str(proxy.port) in _targets(exposed)[1]["address"]
        assert _targets(exposed)[1]["error"] != "did not answer"

    async def test_primary_down_is_unhealthy(self, replication: Cluster) -> None:
        """The primary going away answers 503, however well the replicas are."""
        async with proxy_to(replication.primary.config) as proxy:
            config = replicas_config(replication, host="127.0.0.1", port=proxy.port)
            async with managed(config) as manager:
                proxy.refuse()
                code, body = await _health(manager, timeout=1.0)
                ready, _ = await _health(manager, "/ready", timeout=1.0)
        assert (code, ready, body["status"]) == (503, 503, "unhealthy")
        primary, *replicas = _targets(body)
        assert primary["reachable"] is False
        assert all(t["in_rotation"] for t in replicas)
        # The primary's verdict is the database component's alone, not the read targets' too.
        assert _component_status(body, "database") == "unhealthy"
        assert _component_status(body, "read_targets") == "healthy"

    async def test_saturated_pool_degrades_the_database_only(self, replication: Cluster) -> None:
        """A saturated primary pool degrades the database component; the replicas stay healthy."""
        config = replicas_config(replication, pool_size=1, max_overflow=0, pool_timeout=30.0)
        async with managed(config) as manager, manager.engine.connect() as held:
            await held.execute(text("SELECT 1"))
            code, body = await _health(manager, timeout=1.0)
        assert (code, body["status"]) == (200, "degraded")
        assert _component_status(body, "database") == "degraded"
        assert _component_status(body, "read_targets") == "healthy"
        primary, *replicas = _targets(body)
        assert primary["reachable"] is False
        assert all(t["reachable"] and t["in_rotation"] for t in replicas)

    async def test_probe_storm_shares_one_check(self, manager: ConnectionManager) -> None:
        """Many concurrent probes run one check of the read targets."""
        assert manager._reads is not None
        router = manager._reads[0]
        runs = 0
        check_all = router._check_all

        async def counted(timeout: float) -> tuple[TargetHealth, ...]:  # noqa: ASYNC109
            nonlocal runs
            runs += 1
            return await check_all(timeout)

        router._check_all = counted  # type: ignore[method-assign]
        try:
            app = FastAPI()
            setattr(app.state, DATABASE_STATE, manager)
            app.include_router(health_router(cache_ttl=0.0, timeout=2.0))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                answers = await asyncio.gather(*(client.get("/health") for _ in range(20)))
        finally:
            del router._check_all
        assert {a.status_code for a in answers} == {200}
        assert runs == 1

    async def test_no_component_without_replicas(self, replication: Cluster) -> None:
        """A service without read replicas reports no read targets."""
        async with managed(replication.primary.config) as manager:
            code, body = await _health(manager)
        assert code == 200
        assert [c["name"] for c in body["components"]] == ["database"]


class TestTargetVerdict:
    @pytest.mark.parametrize(
        ("reachable", "in_rotation", "expected"),
        [
            (True, True, HealthStatus.HEALTHY),
            (True, False, HealthStatus.DEGRADED),
            (False, False, HealthStatus.DEGRADED),
        ],
    )
    async def test_out_of_rotation_degrades(
        self, reachable: bool, in_rotation: bool, expected: HealthStatus
    ) -> None:
        """A target out of rotation, lagging or unreachable, degrades; never worse."""
        target = TargetHealth("replica 1", "db:5432", reachable, in_rotation)
        assert target.health is expected


def _component_status(body: dict[str, Any], name: str) -> str:
    """The status of component *name* in a ``/health`` body."""
    return str(next(c for c in body["components"] if c["name"] == name)["status"])
