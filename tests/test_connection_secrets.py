"""Tests that ConnectionManager never shows a password: not in errors, logs, reprs or health."""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
import sqlalchemy.exc
from connection_support import admin_connection, free_port
from pydantic import SecretStr
from sqlalchemy import text

from agentifui_config import (
    ConnectionManager,
    DatabaseConfig,
    HealthStatus,
    MigrationState,
    MigrationStatus,
)
from agentifui_config.connection import DatabaseUnavailableError, ManagerStateError
from agentifui_config.failures import database_failure

if TYPE_CHECKING:
    from agentifui_config.testing.postgres import PostgresServer

# Characters that break a hand-formatted URL (@ / %), and a token no message would hold by chance.
_PASSWORD = "Xy7-distinctive-Pw@/%"
_TOKEN = "Xy7-distinctive"


@pytest_asyncio.fixture
async def role_config(
    postgres_server: PostgresServer, database_config: DatabaseConfig
) -> AsyncIterator[DatabaseConfig]:
    """The run's database as a role of its own whose password is distinctive."""
    role = f"agentifui_pw_{secrets.token_hex(4)}"
    async with admin_connection(postgres_server) as admin:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{_PASSWORD}'")
    try:
        yield database_config.model_copy(
            update={
                "username": role,
                "password": SecretStr(_PASSWORD),
                "application_name": role,
            }
        )
    finally:
        async with admin_connection(postgres_server) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
            )
            await admin.execute(f"DROP ROLE IF EXISTS {role}")


def _shown(error: BaseException) -> list[str]:
    """Everything a log line or an error page could print of *error*, its chain included."""
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


def _leaks(texts: Iterable[str]) -> list[str]:
    return [text for text in texts if _TOKEN in text]


@pytest.mark.asyncio
class TestNoPasswordAnywhere:
    async def test_errors_logs_reprs_and_health(
        self, role_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A whole life cycle, failures included, shows the password nowhere."""
        caplog.set_level(logging.DEBUG, logger="agentifui_config")
        caplog.set_level(logging.DEBUG, logger="sqlalchemy")
        shown: list[str] = []

        async def failing_probe(manager: ConnectionManager) -> MigrationStatus:
            raise RuntimeError(f"alembic could not log in with {_PASSWORD}")

        manager = ConnectionManager(leak_threshold=0.0, migration_probe=failing_probe)
        shown.append(repr(manager))
        await manager.initialize(role_config)
        shown.append(repr(manager))
        async with manager.session() as session:
            user = (await session.execute(text("SELECT current_user"))).scalar_one()
            await session.commit()
        assert user == role_config.username
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="division by zero"):
            async with manager.session() as session:
                await session.execute(text("SELECT 1 / 0"))
        info = await manager.health_check()
        assert info.migration_status.state is MigrationState.ERROR
        assert info.migration_status.error == "alembic could not log in with **********"
        shown.append(json.dumps(info.to_dict()))
        shown.append(repr(info))
        shown.append(repr(manager.get_metrics()))
        with pytest.raises(ManagerStateError) as other:
            await manager.initialize(role_config.model_copy(update={"application_name": "other"}))
        shown.extend(_shown(other.value))
        await manager.dispose()
        with pytest.raises(ManagerStateError) as disposed:
            await anext(manager.get_session())
        shown.extend(_shown(disposed.value))

        nowhere = role_config.model_copy(update={"host": "127.0.0.1", "port": free_port()})
        with pytest.raises(DatabaseUnavailableError) as unavailable:
            await ConnectionManager().initialize(nowhere)
        shown.extend(_shown(unavailable.value))
        shown.append(repr(ConnectionManager()))

        records = caplog.records
        shown.extend(record.getMessage() for record in records)
        shown.extend(repr(record.args) for record in records)
        shown.append(caplog.text)
        # The capture works: the pool logged its connections and the leak was reported.
        assert any(record.name.startswith("sqlalchemy.pool") for record in records)
        assert any(getattr(r, "event_name", None) == "suspected_connection_leak" for r in records)
        assert _leaks(shown) == []

    async def test_repr(self, role_config: DatabaseConfig) -> None:
        """repr() shows the masked URL and the checkout count before, during and after use."""
        manager = ConnectionManager()
        assert repr(manager) == "ConnectionManager('not initialized', checked_out=0)"
        await manager.initialize(role_config)
        try:
            async with manager.session() as session:
                await session.execute(text("SELECT 1"))
                shown = repr(manager)
        finally:
            await manager.dispose()
        assert shown == f"ConnectionManager({role_config.masked_url!r}, checked_out=1)"
        assert f"//{role_config.username}:**********@" in shown
        assert _leaks([shown, repr(manager)]) == []

    async def test_refused_login_is_unhealthy(
        self, postgres_server: PostgresServer, role_config: DatabaseConfig
    ) -> None:
        """A role no longer let in makes health UNHEALTHY, saying why but not the password."""
        role = role_config.username
        manager = ConnectionManager()
        await manager.initialize(role_config)
        try:
            async with admin_connection(postgres_server) as admin:
                await admin.execute(f"ALTER ROLE {role} NOLOGIN")
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
                    role,
                )
            info = await manager.health_check(timeout=5)
            assert info.status is HealthStatus.UNHEALTHY
            assert len(info.errors) == 1
            assert f'role "{role}" is not permitted to log in' in info.errors[0]
            assert _leaks([json.dumps(info.to_dict())]) == []
            async with admin_connection(postgres_server) as admin:
                await admin.execute(f"ALTER ROLE {role} LOGIN")
            assert (await manager.health_check()).status is HealthStatus.HEALTHY
        finally:
            await manager.dispose()


class TestScrubbedCauses:
    def test_unavailable_error_masks_a_quoted_password(
        self, database_config: DatabaseConfig
    ) -> None:
        """A driver error that quotes the password reaches DatabaseUnavailableError masked."""
        config = database_config.model_copy(update={"password": SecretStr(_PASSWORD)})
        cause = OSError(f"could not log in with {_PASSWORD}")
        error = database_failure(cause, config, attempts=3)
        assert str(error).endswith(
            "(after 3 attempts): OSError: could not log in with ********** - check that the"
            " server runs and that DB_HOST and DB_PORT name it; pass retry_for= to wait for it"
            " at start-up"
        )
        assert _leaks(_shown(error)) == []
