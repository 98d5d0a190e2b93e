"""Create ``items`` and ``migration_runs``, the table each revision records its run in.

Revision ID: a1
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision: str | None = None


def upgrade() -> None:
    """Create the tables and record this run."""
    op.create_table(
        "migration_runs",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("revision", sa.String(32), nullable=False),
        sa.Column("backend_pid", sa.Integer, server_default=sa.text("pg_backend_pid()")),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    op.execute("INSERT INTO migration_runs (revision) VALUES ('a1')")


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("items")
    op.drop_table("migration_runs")
