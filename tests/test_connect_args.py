"""Tests for the driver connect arguments in agentifui_config.connect_args.

The mapping is checked per driver without a server; a real PostgreSQL then
shows that the settings arrive and that the PgBouncer mode still runs queries.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from agentifui_config import ConnectionManager, DatabaseConfig, SSLMode
from agentifui_config.connect_args import connect_args_for

if TYPE_CHECKING:
    from collections.abc import Callable


def _config(driver: str = "postgresql+asyncpg", **fields: Any) -> DatabaseConfig:
    """A configuration for *driver*, installed or not (the mapping needs no driver package)."""
    return DatabaseConfig.model_construct(driver=driver, **fields)


class TestAsyncpg:
    def test_defaults_carry_only_the_timeouts(self) -> None:
        """Without TLS, names or statement timeout set, asyncpg gets the two client timeouts."""
        assert connect_args_for(DatabaseConfig()) == {"timeout": 10.0, "command_timeout": 60.0}

    def test_command_timeout_can_be_unbounded(self) -> None:
        """DB_COMMAND_TIMEOUT=none reaches asyncpg as no bound at all."""
        config = DatabaseConfig.model_validate({"command_timeout": "none"})
        assert connect_args_for(config)["command_timeout"] is None

    @pytest.mark.parametrize("mode", list(SSLMode))
    def test_ssl_mode_travels_as_ssl(self, mode: SSLMode) -> None:
        """Each TLS mode reaches asyncpg as its libpq name in ``ssl``."""
        args = connect_args_for(DatabaseConfig(ssl_mode=mode, connect_timeout=2.5))
        assert args == {"timeout": 2.5, "command_timeout": 60.0, "ssl": mode.value}

    @pytest.mark.parametrize(
        ("seconds", "milliseconds"),
        [(1.5, "1500"), (30, "30000"), (0.0004, "1"), (0.0016, "2")],
    )
    def test_session_settings_travel_as_server_settings(
        self, seconds: float, milliseconds: str
    ) -> None:
        """The application name and the statement timeout, in whole ms, are server settings."""
        config = DatabaseConfig(application_name="billing", statement_timeout=seconds)
        assert connect_args_for(config)["server_settings"] == {
            "application_name": "billing",
            "statement_timeout": milliseconds,
        }

    def test_only_the_settings_given(self) -> None:
        """A setting left unset is not sent, so the server's own default stands."""
        config = DatabaseConfig(application_name="billing")
        assert connect_args_for(config)["server_settings"] == {"application_name": "billing"}

    def test_pgbouncer_turns_off_statement_caches(self) -> None:
        """PgBouncer mode turns off both statement caches and names each statement uniquely."""
        args = connect_args_for(DatabaseConfig(pgbouncer=True))
        assert args["statement_cache_size"] == 0
        assert args["prepared_statement_cache_size"] == 0
        name_func: Callable[[], str] = args["prepared_statement_name_func"]
        names = {name_func() for _ in range(100)}
        assert len(names) == 100
        assert all(re.fullmatch(r"__asyncpg_[0-9a-f-]{36}__", name) for name in names)

    def test_no_pgbouncer_flags_by_default(self) -> None:
        """Without PgBouncer the statement caches keep the driver's defaults."""
        args = connect_args_for(DatabaseConfig())
        assert not {"statement_cache_size", "prepared_statement_cache_size"} & args.keys()


class TestPsycopg:
    @pytest.mark.parametrize("driver", ["postgresql+psycopg", "postgresql+psycopg_async"])
    def test_everything_set(self, driver: str) -> None:
        """For psycopg: libpq keywords, a whole-second timeout, sslmode, name and -c options."""
        config = _config(
            driver,
            connect_timeout=2.5,
            ssl_mode=SSLMode.VERIFY_FULL,
            application_name="billing",
            statement_timeout=1.5,
            pgbouncer=True,
        )
        assert connect_args_for(config) == {
            "connect_timeout": 3,
            "sslmode": "verify-full",
            "application_name": "billing",
            "options": "-c statement_timeout=1500",
            "prepare_threshold": None,
        }

    def test_defaults(self) -> None:
        """By default psycopg gets the connect timeout, at least one second, and nothing else."""
        assert connect_args_for(_config("postgresql+psycopg")) == {"connect_timeout": 10}
        short = _config("postgresql+psycopg", connect_timeout=0.2)
        assert connect_args_for(short) == {"connect_timeout": 1}


class TestOtherDrivers:
    @pytest.mark.parametrize("driver", ["postgresql+pg8000", "postgresql", "postgresql+asyncpgx"])
    def test_unknown_driver_gets_nothing(self, driver: str) -> None:
        """A driver this module does not know gets no connect arguments, only its URL."""
        config = _config(driver, application_name="billing", ssl_mode=SSLMode.REQUIRE)
        assert connect_args_for(config) == {}


@pytest.mark.asyncio
class TestOnTheServer:
    async def test_application_name_and_statement_timeout_arrive(
        self, database_config: DatabaseConfig
    ) -> None:
        """The server sees the application name and enforces the statement timeout."""
        name = f"agentifui-test-{secrets.token_hex(4)}"
        config = database_config.model_copy(
            update={"application_name": name, "statement_timeout": 0.25}
        )
        manager = ConnectionManager()
        await manager.initialize(config)
        try:
            async with manager.session() as session:
                assert (await session.execute(text("SHOW application_name"))).scalar() == name
                assert (await session.execute(text("SHOW statement_timeout"))).scalar() == "250ms"
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="statement timeout"):
                async with manager.session() as session:
                    await session.execute(text("SELECT pg_sleep(5)"))
        finally:
            await manager.dispose()

    @pytest.mark.parametrize("pgbouncer", [False, True])
    async def test_pgbouncer_mode_runs_queries_without_cached_statements(
        self, database_config: DatabaseConfig, pgbouncer: bool
    ) -> None:
        """With pgbouncer=True queries still run, and no statement outlives its use."""
        manager = ConnectionManager()
        await manager.initialize(database_config.model_copy(update={"pgbouncer": pgbouncer}))
        try:
            for session_number in range(2):
                async with manager.session() as session:
                    for value in range(3):
                        result = await session.execute(
                            text("SELECT CAST(:v AS int) + :n"), {"v": value, "n": session_number}
                        )
                        assert result.scalar_one() == value + session_number
                    names = (
                        await session.execute(text("SELECT name FROM pg_prepared_statements"))
                    ).scalars()
                    prepared = list(names)
        finally:
            await manager.dispose()
        if pgbouncer:
            # Only the statement listing them was prepared, under a unique name.
            assert len(prepared) == 1
            assert re.fullmatch(r"__asyncpg_[0-9a-f-]{36}__", prepared[0])
        else:
            assert len(prepared) > 1
            assert all(name.startswith("__asyncpg_stmt_") for name in prepared)
