"""Create ``users``, their sign-in identities, roles, groups and the links between them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

# Revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[datetime]]:
    """``created_at`` and ``updated_at``, as ``TimestampMixin`` declares them."""
    return [
        sa.Column(
            name,
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        )
        for name in ("created_at", "updated_at")
    ]


def _named_table(name: str) -> None:
    """Create ``roles`` or ``groups``: a unique name and a description."""
    op.create_table(
        name,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("name", name=op.f(f"uq_{name}_name")),
    )


def _link_table(name: str, left: str, right: str) -> None:
    """Create an association table keyed by both foreign keys, indexed on the right one."""
    op.create_table(
        name,
        sa.Column(f"{left}_id", sa.Uuid(), nullable=False),
        sa.Column(f"{right}_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            [f"{left}_id"],
            [f"{left}s.id"],
            name=op.f(f"fk_{name}_{left}_id_{left}s"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            [f"{right}_id"],
            [f"{right}s.id"],
            name=op.f(f"fk_{name}_{right}_id_{right}s"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(f"{left}_id", f"{right}_id", name=op.f(f"pk_{name}")),
    )
    op.create_index(op.f(f"ix_{name}_{right}_id"), name, [f"{right}_id"])


def upgrade() -> None:
    """Create the tables; a user's email is unique among users that are not soft-deleted."""
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *_timestamps(),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(
        op.f("ix_users_email"),
        "users",
        ["email"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "user_identities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_identities")),
        sa.UniqueConstraint(
            "provider", "subject", name=op.f("uq_user_identities_provider_subject")
        ),
    )
    op.create_index(op.f("ix_user_identities_user_id"), "user_identities", ["user_id"])
    _named_table("roles")
    _named_table("groups")
    _link_table("user_roles", "user", "role")
    _link_table("user_groups", "user", "group")
    _link_table("group_roles", "group", "role")


def downgrade() -> None:
    """Drop the tables, links first; their indexes and constraints go with them."""
    for name in ("group_roles", "user_groups", "user_roles", "groups", "roles"):
        op.drop_table(name)
    op.drop_table("user_identities")
    op.drop_table("users")
