"""Alembic's environment: the database comes from the DB_* variables, not from alembic.ini.

Written by agentifui_config.migrations.init_migrations(). run_migrations() runs
on the connection the library hands in (upgrade() at start-up), renders SQL in
offline mode (alembic upgrade --sql), and otherwise connects with the library's
settings, holding the migration lock while it migrates.
"""

from __future__ import annotations

from agentifui_config.migrations import run_migrations
from examples.agent_service.models import metadata

target_metadata = metadata

run_migrations(target_metadata)
