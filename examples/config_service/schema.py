"""The database schema, in SQLAlchemy Core: applications and their named configurations.

Identifiers are ULIDs (26-character, time-ordered strings in the API), stored
in PostgreSQL's 16-byte ``uuid`` type: smaller than text and compared byte by
byte, so they sort by creation time there too. Alembic's ``env.py`` imports
:data:`metadata` to compare it with the database; the revisions in
``migrations/versions/`` spell the schema out on their own, so they keep
working whatever this module becomes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator
from ulid import ULID

from agentifui_config.models import NAMING_CONVENTION

__all__ = [
    "NAME_MAX_LENGTH",
    "ULIDType",
    "applications",
    "configurations",
    "metadata",
]

NAME_MAX_LENGTH: Final = 100
"""The longest application or configuration name, in characters."""

metadata: Final = MetaData(naming_convention=NAMING_CONVENTION)
"""The service's tables; constraints are named by agentifui-config's convention."""


class ULIDType(TypeDecorator[ULID]):
    """A ULID in Python, a ``uuid`` in PostgreSQL (the same 128 bits, in the same order)."""

    impl = Uuid(as_uuid=True)
    cache_ok = True

    def process_bind_param(self, value: ULID | None, dialect: Dialect) -> uuid.UUID | None:
        """Turn a ULID into the UUID holding the same bytes."""
        return None if value is None else value.to_uuid()

    def process_result_value(self, value: uuid.UUID | None, dialect: Dialect) -> ULID | None:
        """Turn a stored UUID back into its ULID."""
        return None if value is None else ULID.from_uuid(value)


def _timestamps() -> tuple[Column[datetime], Column[datetime]]:
    """``created_at`` and ``updated_at``, both from the database's clock."""
    return (
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column(
            "updated_at",
            DateTime(timezone=True),
            nullable=False,
            server_default=func.now(),
            onupdate=func.now(),
        ),
    )


applications: Final = Table(
    "applications",
    metadata,
    Column("id", ULIDType(), primary_key=True),
    Column("name", String(NAME_MAX_LENGTH), nullable=False),
    Column("description", Text(), nullable=True),
    *_timestamps(),
    UniqueConstraint("name"),
)
"""Applications, each with a unique name."""

configurations: Final = Table(
    "configurations",
    metadata,
    Column("id", ULIDType(), primary_key=True),
    Column(
        "application_id",
        ULIDType(),
        # Deleting an application deletes its configurations, in the database
        # itself: no window where orphans exist, whoever deletes the row.
        ForeignKey(applications.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(NAME_MAX_LENGTH), nullable=False),
    Column("data", JSONB(), nullable=False, server_default=text("'{}'::jsonb")),
    Column("version", Integer(), nullable=False, server_default=text("1")),
    *_timestamps(),
    # Its index also serves the foreign key: application_id is its first column.
    UniqueConstraint("application_id", "name", name="uq_configurations_application_id_name"),
    # jsonb_path_ops indexes the containment operator (data @> '{"a": 1}') that
    # the list endpoint's filter uses, in a smaller index than the default opclass.
    Index(
        "ix_configurations_data",
        "data",
        postgresql_using="gin",
        postgresql_ops={"data": "jsonb_path_ops"},
    ),
)
"""Named JSON documents, unique by name within their application."""
