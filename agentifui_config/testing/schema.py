"""Building a test database's schema the way the app does: its migrations, or its models.

The functions are synchronous, for session fixtures and plain scripts: each
runs its asyncpg work on a private event loop in a worker thread, so it works
whether or not the calling thread has a loop running, and a session fixture
using it needs no event-loop scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentifui_config.errors import ConfigurationError
from agentifui_config.testing._loop import run_coroutine

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from agentifui_config.database import DatabaseConfig
    from agentifui_config.migrations import AlembicConfigSource

__all__ = ["build_schema", "create_tables", "upgrade_to_head"]


def upgrade_to_head(config: DatabaseConfig, alembic_config: AlembicConfigSource) -> None:
    """Run the app's migrations on *config*'s database up to head, as production does.

    Args:
        config: The database to upgrade.
        alembic_config: An ``alembic.ini`` path, a migration directory or a ``Config``;
            its ``env.py`` must use the connection handed to it (``run_migrations()`` does).

    Raises:
        MigrationError: Alembic refused, or ``env.py`` ignored the connection.
    """
    from agentifui_config.migrations import upgrade  # noqa: PLC0415 - loads Alembic

    run_coroutine(lambda: upgrade(config, alembic_config))


def create_tables(config: DatabaseConfig, metadata: MetaData) -> None:
    """Create every table of *metadata* on *config*'s database, for an app without migrations.

    Args:
        config: The database to create them in.
        metadata: The models' ``MetaData`` (``Base.metadata``).
    """
    from sqlalchemy.pool import NullPool  # noqa: PLC0415 - loads SQLAlchemy's pool

    from agentifui_config.engine import create_engine_for  # noqa: PLC0415 - loads the driver

    async def create() -> None:
        """Create the tables on a connection of its own, committed."""
        engine = create_engine_for(config, poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
        finally:
            await engine.dispose()

    run_coroutine(create)


def build_schema(
    config: DatabaseConfig,
    *,
    alembic_config: AlembicConfigSource | None = None,
    metadata: MetaData | None = None,
) -> None:
    """Give *config*'s database the app's schema: migrations when given, else ``create_all``.

    Args:
        config: The database to build.
        alembic_config: The app's Alembic configuration; it wins over *metadata*.
        metadata: The models, for an app without migrations.

    Raises:
        ConfigurationError: Neither is given.
        MigrationError: The migrations failed.
    """
    if alembic_config is not None:
        upgrade_to_head(config, alembic_config)
    elif metadata is not None:
        create_tables(config, metadata)
    else:
        raise ConfigurationError(
            "names neither migrations nor models, so the test database cannot get a schema",
            variable="agentifui_alembic_config",
            remedy="set agentifui_alembic_config = alembic.ini (or agentifui_metadata = "
            "package.module:Base.metadata) in the pytest configuration, or override the "
            "agentifui_alembic_config or agentifui_metadata fixture in conftest.py",
        )
