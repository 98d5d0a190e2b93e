"""Tests for agentifui_config.failures: which database failures are retried, and what each names.

Each case is produced on the real server: a database or role that does not
exist, a role with a password, a role allowed no connection at all.
"""

from __future__ import annotations

import contextlib
import pickle
import secrets
import socket
import ssl
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import asyncpg
import pytest
import pytest_asyncio
from connection_support import admin_connection, free_port
from pydantic import SecretStr

from agentifui_config import (
    AgentifuiError,
    ConfigurationError,
    ConnectionManager,
    DatabaseConfig,
    failures,
)

if TYPE_CHECKING:
    from agentifui_config.testing.postgres import PostgresServer

# Long enough that a retried failure would make several attempts.
_RETRY_FOR = 3.0
_PASSWORD = "Qz8-right-password"
_WRONG = "Qz8-wrong-password"


async def _refused(
    config: DatabaseConfig, retry_for: float
) -> tuple[failures.DatabaseError, int, float]:
    """What initialize() raised for *config*, after how many attempts and how many seconds."""
    manager = ConnectionManager()
    started = time.monotonic()
    with pytest.raises(failures.DatabaseError) as caught:
        await manager.initialize(config, retry_for=retry_for)
    attempts = manager.get_metrics()["connect_attempts"]
    assert isinstance(attempts, int)
    assert not manager.is_initialized
    return caught.value, attempts, time.monotonic() - started


@contextlib.asynccontextmanager
async def _role(server: PostgresServer, options: str) -> AsyncIterator[str]:
    """A new login role with *options* (``CONNECTION LIMIT 0``, say), dropped on exit."""
    role = f"agentifui_failure_{secrets.token_hex(4)}"
    async with admin_connection(server) as admin:
        await admin.execute(f"CREATE ROLE {role} LOGIN {options}")
    try:
        yield role
    finally:
        async with admin_connection(server) as admin:
            await admin.execute(f"DROP ROLE IF EXISTS {role}")


@pytest_asyncio.fixture
async def password_role(
    postgres_server: PostgresServer, database_config: DatabaseConfig
) -> AsyncIterator[DatabaseConfig]:
    """The run's database as a role with a password, reached with the wrong one."""
    async with _role(postgres_server, f"PASSWORD '{_PASSWORD}'") as role:
        yield database_config.model_copy(update={"username": role, "password": SecretStr(_WRONG)})


class TestHierarchy:
    def test_configuration_errors_are_value_errors_and_failures_are_not(self) -> None:
        """ConfigurationError stays a ValueError; a database failure is neither of the two."""
        assert issubclass(ConfigurationError, AgentifuiError)
        assert issubclass(ConfigurationError, ValueError)
        for failure in (
            failures.DatabaseUnavailableError,
            failures.DatabaseNotFoundError,
            failures.DatabaseRoleError,
        ):
            assert issubclass(failure, failures.DatabaseError)
            assert issubclass(failure, AgentifuiError)
            assert not issubclass(failure, ValueError)
        assert issubclass(failures.DatabaseTimeoutError, failures.DatabaseUnavailableError)
        assert issubclass(failures.DatabaseRoleError, failures.DatabaseAuthenticationError)

    def test_only_what_can_heal_is_retryable(self) -> None:
        """Unreachable and timed-out are retryable; a refused login or a missing database not."""
        assert failures.DatabaseUnavailableError.retryable
        assert failures.DatabaseTimeoutError.retryable
        assert not failures.DatabaseAuthenticationError.retryable
        assert not failures.DatabaseRoleError.retryable
        assert not failures.DatabaseNotFoundError.retryable

    def test_survives_pickling(self) -> None:
        """A failure sent to another process keeps its message, remedy, variable and SQLSTATE."""
        error = failures.DatabaseNotFoundError(
            "no database 'x'", remedy="create it", variable="DB_DATABASE", sqlstate="3D000"
        )
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert str(copy) == str(error) == "DB_DATABASE: no database 'x' - create it"
        assert (copy.message, copy.remedy, copy.variable, copy.sqlstate) == (
            "no database 'x'",
            "create it",
            "DB_DATABASE",
            "3D000",
        )

    def test_one_finding_fills_the_base_attributes(self) -> None:
        """A one-finding ConfigurationError says its variable and remedy like every other error."""
        error = ConfigurationError("expected a whole number", variable="DB_PORT", remedy="fix it")
        assert (error.variable, error.remedy) == ("DB_PORT", "fix it")
        assert error.message == str(error) == "DB_PORT: expected a whole number - fix it"


@pytest.mark.asyncio
class TestStartupRetry:
    @pytest.mark.parametrize(
        ("update", "kind", "expected"),
        [
            (
                {"database": "agentifui_no_such_db"},
                failures.DatabaseNotFoundError,
                ("3D000", "DB_DATABASE", "no database 'agentifui_no_such_db' (not retried"),
            ),
            (
                {"username": "agentifui_no_such_role"},
                failures.DatabaseRoleError,
                ("28000", "DB_USERNAME", "rejected role 'agentifui_no_such_role'"),
            ),
        ],
    )
    async def test_missing_database_or_role_fails_at_once_naming_its_variable(
        self,
        database_config: DatabaseConfig,
        update: dict[str, str],
        kind: type[failures.DatabaseError],
        expected: tuple[str, str, str],
    ) -> None:
        """A database (3D000) or role (28000) the server lacks is not retried, and is named."""
        sqlstate, variable, said = expected
        error, attempts, elapsed = await _refused(
            database_config.model_copy(update=update), _RETRY_FOR
        )
        assert isinstance(error, kind)
        assert (attempts, error.sqlstate, error.variable) == (1, sqlstate, variable)
        assert elapsed < _RETRY_FOR
        assert str(error).startswith(f"{variable}: cannot connect to ")
        assert said in str(error)
        assert "DB_HOST" not in str(error)
        assert error.__cause__ is None

    async def test_wrong_password_fails_at_once_naming_db_password(
        self, password_role: DatabaseConfig
    ) -> None:
        """A wrong password (28P01) is not retried, DB_PASSWORD is named, the password never."""
        if await _logs_in(password_role):
            pytest.skip(
                "the server trusts this connection (pg_hba.conf 'trust'), so it checks "
                "no password and a wrong one cannot be produced"
            )
        error, attempts, elapsed = await _refused(password_role, _RETRY_FOR)
        assert isinstance(error, failures.DatabaseAuthenticationError)
        assert (attempts, error.sqlstate, error.variable) == (1, "28P01", "DB_PASSWORD")
        assert elapsed < _RETRY_FOR
        assert _WRONG not in str(error)
        assert _PASSWORD not in str(error)

    async def test_too_many_connections_is_retried(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """A server with no connection slot for the role (53300) is retried until retry_for."""
        async with _role(postgres_server, "CONNECTION LIMIT 0") as role:
            config = database_config.model_copy(update={"username": role})
            error, attempts, elapsed = await _refused(config, 0.5)
        assert type(error) is failures.DatabaseUnavailableError
        assert error.sqlstate == "53300"
        assert error.variable is None
        assert attempts >= 2
        assert elapsed >= 0.45
        assert f"(after {attempts} attempts)" in str(error)
        assert "max_connections" in error.remedy

    async def test_refused_connection_is_retried_and_names_no_variable(self) -> None:
        """Nothing listening is retried; no variable is blamed, since the server may be down."""
        config = DatabaseConfig(host="127.0.0.1", port=free_port())
        error, attempts, _ = await _refused(config, 0.5)
        assert type(error) is failures.DatabaseUnavailableError
        assert attempts >= 2
        assert (error.variable, error.sqlstate) == (None, None)

    async def test_an_outage_is_no_value_error(self) -> None:
        """An app's ``except ValueError`` around start-up no longer swallows an outage."""
        config = DatabaseConfig(host="127.0.0.1", port=free_port())
        with pytest.raises(failures.DatabaseUnavailableError) as caught:
            await ConnectionManager().initialize(config)
        assert not isinstance(caught.value, ValueError | ConfigurationError)


async def _logs_in(config: DatabaseConfig) -> bool:
    """Whether *config*'s role gets in with *config*'s password (as it does under 'trust')."""
    try:
        connection = await asyncpg.connect(
            host=config.host,
            port=config.port,
            user=config.username,
            password=config.password.get_secret_value(),
            database=config.database,
            timeout=10,
        )
    except asyncpg.InvalidPasswordError:
        return False
    await connection.close()
    return True


class TestNetworkFailures:
    @pytest.mark.parametrize(
        ("error", "said"),
        [
            (ssl.SSLError(1, "wrong version number"), "the TLS handshake with the server failed"),
            (socket.gaierror(-2, "Name or service not known"), "the host name does not resolve"),
            (ConnectionRefusedError(111, "Connection refused"), "refused the connection"),
        ],
    )
    def test_each_network_failure_is_told_apart(self, error: OSError, said: str) -> None:
        """A TLS failure, an unresolvable host and a refused connection each name their cause."""
        failure = failures.database_failure(error, DatabaseConfig(host="db.internal"))
        assert said in str(failure)
