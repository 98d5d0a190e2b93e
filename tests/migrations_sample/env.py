"""Alembic environment of the sample migrations: the one-line env.py the library offers."""

from __future__ import annotations

from agentifui_config.migrations import run_migrations

run_migrations()
