"""The project's own suite runs on the fixtures of its pytest plugin, as a host app's would.

``postgres_server``, ``database_config`` and the other fixtures come from
:mod:`agentifui_config.testing.plugin`, which the package's ``pytest11`` entry
point loads. The server is the one named by ``AGENTIFUI_TEST_DATABASE_URL``, or
a throwaway embedded one (extra ``embedded``); ``agentifui_require_db = true``
in ``pyproject.toml`` makes a missing server fail the tests that need it
rather than skip them. Those tests are marked ``database``, so
``-m "not database"`` runs the rest without a server.

Hypothesis runs under the ``ci`` profile when ``CI=true`` (or
``HYPOTHESIS_PROFILE=ci``, as ``nox -s tests`` sets): derandomised and with no
example database, so a run depends on the code alone and a failure found once
cannot stay red from a ``.hypothesis/`` directory. Elsewhere the ``default``
profile keeps drawing new examples and remembers the failing ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings
from replication_support import running

from agentifui_config.testing.postgres import temporary_database

if TYPE_CHECKING:
    from replication_support import Cluster

    from agentifui_config import DatabaseConfig
    from agentifui_config.testing.postgres import PostgresServer

pytest_plugins = ["pytester"]

_DATABASE_FIXTURES = frozenset({"postgres_server", "database_config"})

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() in {"true", "1"} else "default")
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the PostgreSQL fixtures with ``database``."""
    for item in items:
        if _DATABASE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.database)


@pytest.fixture
def fresh_database(postgres_server: PostgresServer) -> Iterator[DatabaseConfig]:
    """An empty database of the test's own, for tests that migrate or must start from nothing."""
    with temporary_database(postgres_server) as config:
        yield config


@pytest.fixture(scope="session")
def replication() -> Iterator[Cluster]:
    """A primary with two streaming standbys, started once for every replica test of the run.

    A test that adds, stops or pauses a standby puts the cluster back as it found it.
    """
    yield from running(standbys=2)
