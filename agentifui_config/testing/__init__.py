"""Test support for services built on agentifui-config: a pytest plugin and what it is made of.

- :mod:`~agentifui_config.testing.plugin`: the pytest plugin, loaded through the
  ``pytest11`` entry point; its fixtures are in
  :mod:`~agentifui_config.testing.fixtures` and
  :mod:`~agentifui_config.testing.async_fixtures`, its options in
  :mod:`~agentifui_config.testing.options`;
- :mod:`~agentifui_config.testing.migration_checks`: ready-made tests of an
  app's Alembic migrations, to import into a test module;
- :mod:`~agentifui_config.testing.postgres`: a PostgreSQL server for a test run
  (the one named by ``AGENTIFUI_TEST_DATABASE_URL``, or a throwaway one from the
  ``embedded`` extra) and uniquely named databases on it, without pytest;
- :mod:`~agentifui_config.testing.schema` and
  :mod:`~agentifui_config.testing.sessions`: a schema from migrations or models,
  sessions whose changes are rolled back, and a FastAPI client on one.

This package is imported by path only and re-exports nothing, so importing it
loads neither asyncpg nor pgserver::

    from agentifui_config.testing.postgres import postgres_server, temporary_database
"""

from __future__ import annotations

__all__: list[str] = []
