"""Index items by last name.

Revision ID: c3
Revises: b2
"""

from __future__ import annotations

from alembic import op

revision = "c3"
down_revision = "b2"


def upgrade() -> None:
    """Create the index and record this run."""
    op.create_index("ix_items_last_name", "items", ["last_name"])
    op.execute("INSERT INTO migration_runs (revision) VALUES ('c3')")


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_items_last_name", table_name="items")
