"""pytest-alembic's four default tests, on the example's migrations as shipped.

pytest-alembic hands ``env.py`` its engine in ``config.attributes["connection"]``;
the one-line ``env.py`` (``run_migrations()``) migrates on it. The engine reaches
an empty database of each test's own on the test run's PostgreSQL server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from agentifui_config.migrations import load_alembic_config
from examples.agent_service import ALEMBIC_INI

if TYPE_CHECKING:
    from alembic.config import Config

    from agentifui_config import DatabaseConfig

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]


@pytest.fixture
def alembic_config() -> Config:
    """The example's ``alembic.ini``, as ``agentifui-config migrate`` reads it."""
    return load_alembic_config(ALEMBIC_INI)


@pytest.fixture
def alembic_engine(fresh_database: DatabaseConfig) -> Iterator[AsyncEngine]:
    """An engine on an empty database of the test's own; no pool, so no loop holds a connection."""
    engine = create_async_engine(fresh_database.sqlalchemy_url, poolclass=NullPool)
    yield engine
    engine.sync_engine.dispose()
