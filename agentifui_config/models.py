"""Model helpers for SQLAlchemy's ORM: a declarative base and the mixins services repeat.

``Base`` carries a constraint naming convention, so constraints get stable
names that migrations can refer to. The mixins add a time-ordered UUIDv7
primary key generated in Python (PostgreSQL before 18 has no ``uuidv7()``),
``created_at``/``updated_at`` stamped by the database's clock, and soft delete.
They need nothing but SQLAlchemy.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import DateTime, MetaData, Uuid, event, func
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    with_loader_criteria,
)

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "SoftDeleteMixin",
    "TimestampMixin",
    "UUIDv7PrimaryKeyMixin",
    "exclude_soft_deleted",
    "uuid7",
]

NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names by kind, as Alembic's documentation recommends."""

INCLUDE_DELETED: Final = "include_deleted"
"""The execution option that lets soft-deleted rows back into a query."""

_MAX_COUNTER: Final = 0xFFF


class Base(DeclarativeBase):
    """Declarative base whose metadata names constraints by :data:`NAMING_CONVENTION`.

    Server-generated values (timestamps) are fetched with ``RETURNING`` on
    insert and update, so reading them never needs a lazy load, which an
    ``AsyncSession`` cannot do.
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy reads it per class


class _UUID7Generator:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, then a counter, then random bits.

    The 12-bit counter makes identifiers generated in the same millisecond by
    one process increase monotonically; it starts at a random value each
    millisecond and borrows the next millisecond when it overflows.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0

    def __call__(self) -> uuid.UUID:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms > self._last_ms:
                self._last_ms, self._counter = now_ms, int.from_bytes(os.urandom(2)) & 0x7FF
            elif self._counter < _MAX_COUNTER:
                self._counter += 1
            else:
                self._last_ms, self._counter = self._last_ms + 1, 0
            timestamp, counter = self._last_ms, self._counter
        tail = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
        value = (timestamp & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | tail
        return uuid.UUID(int=value)


uuid7: Final = _UUID7Generator()
"""Return a new UUIDv7; increasing within a process, sortable by creation time."""


class UUIDv7PrimaryKeyMixin:
    """An ``id`` primary key holding a UUIDv7 generated in Python at insert."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)


class TimestampMixin:
    """``created_at`` and ``updated_at``, both set from the database's clock (``now()``)."""

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class SoftDeleteMixin:
    """A ``deleted_at`` column: a row is deleted by stamping it, and can be restored.

    Queries keep returning soft-deleted rows unless the session filters them:
    see :func:`exclude_soft_deleted`.
    """

    deleted_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, default=None
    )

    @property
    def is_deleted(self) -> bool:
        """Whether the row is soft-deleted."""
        return self.deleted_at is not None

    def soft_delete(self) -> None:
        """Mark the row deleted now; it is written on the next flush."""
        self.deleted_at = datetime.now(UTC)

    def restore(self) -> None:
        """Undo :meth:`soft_delete`; it is written on the next flush."""
        self.deleted_at = None


def _leave_out_deleted(state: ORMExecuteState) -> None:
    if state.is_select and not state.execution_options.get(INCLUDE_DELETED, False):
        state.statement = state.statement.options(
            with_loader_criteria(
                SoftDeleteMixin,
                lambda cls: cls.deleted_at.is_(None),
                include_aliases=True,
            )
        )


def exclude_soft_deleted(session_class: type[Session] = Session) -> None:
    """Leave soft-deleted rows out of every ORM ``SELECT`` made through *session_class*.

    A query that needs them asks with
    ``.execution_options(include_deleted=True)``. Pass a ``Session`` subclass
    (the ``sync_session_class`` of your ``async_sessionmaker``) to limit the
    filter to it; calling this twice for one class adds one filter.
    """
    if not event.contains(session_class, "do_orm_execute", _leave_out_deleted):
        event.listen(session_class, "do_orm_execute", _leave_out_deleted)
