"""Session fixtures for the project's own suite: one real PostgreSQL server and database per run.

The server is the one named by ``AGENTIFUI_TEST_DATABASE_URL``, or a throwaway
embedded one (extra ``embedded``). When neither can be had, the run stops at
the first test that needs it with one message saying how to get one. Tests
that request these fixtures are marked ``database``, so ``-m "not database"``
runs the rest without a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from agentifui_config.testing.postgres import (
    PostgresServer,
    PostgresUnavailableError,
    start_server,
    temporary_database,
)

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

pytest_plugins = ["pytester"]

_DATABASE_FIXTURES = frozenset({"postgres_server", "database_config"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the PostgreSQL fixtures with ``database``."""
    for item in items:
        if _DATABASE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.database)


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """The PostgreSQL server of this test run, stopped at the end when it was started here."""
    with _server_or_stop(request.config) as server:
        yield server


@pytest.fixture(scope="session")
def database_config(postgres_server: PostgresServer) -> Iterator[DatabaseConfig]:
    """A fresh, empty database created for this test run and dropped at its end."""
    with temporary_database(postgres_server) as config:
        yield config


def _server_or_stop(config: pytest.Config) -> PostgresServer:
    """Start the server, or end the run with one message saying how to get one."""
    try:
        return start_server()
    except PostgresUnavailableError as exc:
        message = f"no PostgreSQL for the tests: {exc}"
    if hasattr(config, "workerinput"):
        # pytest-xdist reports pytest.exit() in a worker as an internal error; a
        # failure without traceback gives one line per test that needs the server.
        pytest.fail(message, pytrace=False)
    pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)
