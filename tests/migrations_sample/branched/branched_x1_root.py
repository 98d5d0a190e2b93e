"""The root of a script directory that branches in two.

Revision ID: x1
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "x1"
down_revision: str | None = None


def upgrade() -> None:
    """Create a table."""
    op.execute("CREATE TABLE branch_root (id integer)")


def downgrade() -> None:
    """Drop it."""
    op.execute("DROP TABLE branch_root")
