"""What the config service's tests tell agentifui-config's pytest plugin about the service.

The plugin, loaded by the package's ``pytest11`` entry point, provides the
PostgreSQL server (``AGENTIFUI_TEST_DATABASE_URL``, or a throwaway embedded
one), ``migrated_database`` (built once per run with the service's Alembic
migrations), ``db_session`` (a session whose every change, commits too, is
rolled back after the test) and ``app_client`` (an ``httpx.AsyncClient`` on the
app, its requests using ``db_session``). The overrides here name the service's
migrations, tables and app.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from agentifui_config.logging import reset_logging
from agentifui_config.testing.postgres import temporary_database
from examples.config_service.app import ALEMBIC_INI, create_app
from examples.config_service.schema import metadata
from examples.config_service.tests.support import ALLOWED_ORIGIN, TEST_SECRET_KEY

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy import MetaData

    from agentifui_config import DatabaseConfig, EnvironmentSettings
    from agentifui_config.testing.fixtures import SettingsFactory
    from agentifui_config.testing.postgres import PostgresServer


@pytest.fixture(scope="session")
def agentifui_alembic_config() -> Path:
    """The service's Alembic configuration: ``migrated_database`` is upgraded with it."""
    return ALEMBIC_INI


@pytest.fixture(scope="session")
def agentifui_metadata() -> MetaData:
    """The service's tables, which the migration checks compare with the migrated schema."""
    return metadata


@pytest.fixture(scope="session")
def database_config(postgres_server: PostgresServer) -> Iterator[DatabaseConfig]:
    """A database of the service's own on the run's server, dropped at the end of the run.

    The plugin's default is one database per run. These tests run inside
    agentifui-config's own test run, whose tests create their tables in that
    one, so the service takes a database apart; a standalone app needs no
    such override.
    """
    with temporary_database(postgres_server) as config:
        yield config


@pytest.fixture
def settings(
    make_settings: SettingsFactory, database_config: DatabaseConfig
) -> EnvironmentSettings:
    """Development settings on the test database, with one CORS origin and a fixed secret key."""
    return make_settings(
        database=database_config, cors_origins=[ALLOWED_ORIGIN], secret_key=TEST_SECRET_KEY
    )


@pytest.fixture
def agentifui_app(settings: EnvironmentSettings) -> Iterator[FastAPI]:
    """The service as ``create_app()`` builds it; ``app_client`` calls it.

    ``create_app()`` configures logging, which is undone after the test.
    """
    yield create_app(settings)
    reset_logging()
