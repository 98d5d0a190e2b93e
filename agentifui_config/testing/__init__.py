"""Test support for services built on agentifui-config: real PostgreSQL servers and databases.

:mod:`agentifui_config.testing.postgres` provides a PostgreSQL server for a test
run (the one named by ``AGENTIFUI_TEST_DATABASE_URL``, or a throwaway one from
the ``embedded`` extra) and creates and drops uniquely named databases on it.
It does not depend on pytest; the pytest fixtures build on it.

This package is imported by path only and re-exports nothing, so importing it
loads neither asyncpg nor pgserver::

    from agentifui_config.testing.postgres import postgres_server, temporary_database
"""

from __future__ import annotations

__all__: list[str] = []
