"""Move each item's name into ``first_name`` and ``last_name``: a revision that moves data.

Revision ID: b2
Revises: a1
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b2"
down_revision = "a1"


def upgrade() -> None:
    """Add the columns, copy the data across, drop the old column."""
    op.add_column("items", sa.Column("first_name", sa.String(100)))
    op.add_column("items", sa.Column("last_name", sa.String(100)))
    op.execute(
        "UPDATE items SET first_name = split_part(name, ' ', 1), "
        "last_name = nullif(substr(name, length(split_part(name, ' ', 1)) + 2), '')"
    )
    op.alter_column("items", "first_name", nullable=False)
    op.drop_column("items", "name")
    op.execute("INSERT INTO migration_runs (revision) VALUES ('b2')")


def downgrade() -> None:
    """Join the names back into ``name``."""
    op.add_column("items", sa.Column("name", sa.String(100)))
    op.execute("UPDATE items SET name = concat_ws(' ', first_name, last_name)")
    op.alter_column("items", "name", nullable=False)
    op.drop_column("items", "last_name")
    op.drop_column("items", "first_name")
