"""One of two heads that both revise x1, left unmerged.

Revision ID: y2
Revises: x1
"""

from __future__ import annotations

from alembic import op

revision = "y2"
down_revision = "x1"


def upgrade() -> None:
    """Create a table of this branch."""
    op.execute("CREATE TABLE branch_y2 (id integer)")


def downgrade() -> None:
    """Drop it."""
    op.execute("DROP TABLE branch_y2")
