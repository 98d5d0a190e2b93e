"""Conversation sessions: JSONB messages and context, a status machine, and expiry.

A session starts ``active`` and ends once, as ``completed``, ``failed`` or
``cancelled``; :data:`TRANSITIONS` says which moves are allowed, and any
other raises :class:`InvalidTransitionError`, whether it is asked for with
:meth:`ConversationSession.transition_to` or by assigning ``status``. The
database backs this up: a ``CHECK`` constraint admits only the four statuses,
and another ties ``ended_at`` to the final ones.

An active session past its ``expires_at`` is expired: :func:`expired_sessions`
selects those, and :func:`cancel_expired` ends them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Select,
    String,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from agentifui_config.models import SoftDeleteMixin, TimestampMixin, UUIDv7PrimaryKeyMixin
from examples.agent_service.base import AgentBase

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from examples.agent_service.users import User

__all__ = [
    "TRANSITIONS",
    "ConversationSession",
    "InvalidTransitionError",
    "SessionClosedError",
    "SessionStatus",
    "cancel_expired",
    "expired_sessions",
]


class SessionStatus(StrEnum):
    """Where a conversation session stands."""

    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TRANSITIONS: Final[Mapping[SessionStatus, frozenset[SessionStatus]]] = MappingProxyType(
    {
        SessionStatus.ACTIVE: frozenset(
            {SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELLED}
        ),
        SessionStatus.COMPLETED: frozenset(),
        SessionStatus.FAILED: frozenset(),
        SessionStatus.CANCELLED: frozenset(),
    }
)
"""The statuses each status may move to; the final ones lead nowhere."""

_STATUS_VALUES: Final = ", ".join(f"'{status.value}'" for status in SessionStatus)


class InvalidTransitionError(ValueError):
    """A session was asked to move to a status its current one does not lead to.

    Attributes:
        current: The status the session is in.
        target: The status it was asked to move to.
    """

    def __init__(self, current: SessionStatus, target: SessionStatus) -> None:
        allowed = sorted(TRANSITIONS[current])
        hint = (
            f"it may move to {', '.join(repr(status.value) for status in allowed)}"
            if allowed
            else f"{current.value!r} is final: start a new session instead"
        )
        super().__init__(
            f"cannot move a session from {current.value!r} to {target.value!r}; {hint}"
        )
        self.current = current
        self.target = target


class SessionClosedError(ValueError):
    """A message was added to a session that is no longer active."""


class ConversationSession(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, AgentBase):
    """One conversation between a user and the agent.

    Create one with :meth:`start`; ``messages`` is a JSONB list of
    ``{"role", "content", "at"}`` objects, ``context`` a JSONB object of
    whatever the agent keeps between turns.
    """

    __tablename__ = "conversation_sessions"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_VALUES})", name="status"),
        CheckConstraint("(status = 'active') = (ended_at IS NULL)", name="ended_at"),
        # Only active sessions can expire: a partial index keeps the expiry sweep small.
        Index(None, "expires_at", postgresql_where=text("status = 'active'")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    # Stored as VARCHAR (a CHECK lists the values) rather than a PostgreSQL ENUM
    # type, which a migration would have to create, alter and drop on its own.
    status: Mapped[SessionStatus] = mapped_column(
        Enum(
            SessionStatus,
            native_enum=False,
            create_constraint=False,
            length=16,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        default=SessionStatus.ACTIVE,
        server_default=SessionStatus.ACTIVE.value,
    )
    messages: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    context: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    user: Mapped[User] = relationship(lazy="raise")

    def __repr__(self) -> str:
        return f"ConversationSession(id={self.id!s}, status={self.status!s})"

    @classmethod
    def start(
        cls,
        user: User,
        *,
        title: str | None = None,
        ttl: timedelta | None = None,
        context: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> ConversationSession:
        """Return a new active session of *user*, not yet added to a database session.

        Args:
            user: Whose session it is.
            title: A title to show in lists.
            ttl: How long the session may stay active; ``None`` for no expiry.
            context: The agent's initial context.
            now: The current time; by default the clock's.
        """
        start = now or datetime.now(UTC)
        return cls(
            user=user,
            title=title,
            status=SessionStatus.ACTIVE,
            messages=[],
            context=dict(context or {}),
            expires_at=start + ttl if ttl is not None else None,
        )

    @validates("status")
    def _check_transition(self, _key: str, value: SessionStatus | str) -> SessionStatus:
        """Refuse any status change that :data:`TRANSITIONS` does not allow."""
        target = SessionStatus(value)
        # None while the constructor sets the first status, which any status may be.
        current = cast("SessionStatus | None", self.status)
        if current is not None and target not in TRANSITIONS[current]:
            raise InvalidTransitionError(current, target)
        return target

    @property
    def is_active(self) -> bool:
        """Whether the session can still take messages."""
        return self.status == SessionStatus.ACTIVE

    def can_transition_to(self, status: SessionStatus | str) -> bool:
        """Whether the session may move from its status to *status*."""
        return SessionStatus(status) in TRANSITIONS[self.status]

    def transition_to(self, status: SessionStatus | str, *, now: datetime | None = None) -> None:
        """Move the session to *status*, stamping ``ended_at`` when that status is final.

        Raises:
            InvalidTransitionError: The current status does not lead to *status*.
            ValueError: *status* is not a :class:`SessionStatus` value.
        """
        self.status = SessionStatus(status)
        if not TRANSITIONS[self.status]:
            self.ended_at = now or datetime.now(UTC)

    def complete(self) -> None:
        """End the session as ``completed``."""
        self.transition_to(SessionStatus.COMPLETED)

    def fail(self, reason: str) -> None:
        """End the session as ``failed``, keeping *reason* in ``context["failure_reason"]``."""
        self.transition_to(SessionStatus.FAILED)
        self.context = {**self.context, "failure_reason": reason}

    def cancel(self) -> None:
        """End the session as ``cancelled``."""
        self.transition_to(SessionStatus.CANCELLED)

    def add_message(self, role: str, content: str, *, now: datetime | None = None) -> None:
        """Append a message; it is written on the next flush.

        Raises:
            SessionClosedError: The session is no longer active.
        """
        if not self.is_active:
            raise SessionClosedError(
                f"session {self.id} is {self.status.value}: messages go to an active session"
            )
        at = (now or datetime.now(UTC)).isoformat()
        # A new list, not append(): the ORM notices reassignment, not changes inside JSONB.
        self.messages = [*self.messages, {"role": role, "content": content, "at": at}]

    def is_expired(self, now: datetime | None = None) -> bool:
        """Whether the session is active and its ``expires_at`` has passed."""
        moment = now or datetime.now(UTC)
        return self.is_active and self.expires_at is not None and self.expires_at <= moment


def expired_sessions(now: datetime | None = None) -> Select[ConversationSession]:
    """Select the active sessions whose ``expires_at`` has passed, oldest expiry first.

    Args:
        now: The moment to compare with; by default the database's ``now()``.
    """
    moment: ColumnElement[datetime] | datetime = func.now() if now is None else now
    # 'active' is written into the SQL rather than bound: PostgreSQL uses the partial
    # index only when it can see that the query's condition implies the index's own.
    active = literal(SessionStatus.ACTIVE.value, literal_execute=True)
    return (
        select(ConversationSession)
        .where(ConversationSession.status == active, ConversationSession.expires_at <= moment)
        .order_by(ConversationSession.expires_at)
    )


async def cancel_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Cancel every expired session, noting ``context["cancelled_because"] = "expired"``.

    The changes are flushed, not committed.

    Returns:
        How many sessions were cancelled.
    """
    # SKIP LOCKED: sweepers running at once on several replicas share the work, never wait.
    query = expired_sessions(now).with_for_update(skip_locked=True)
    expired = (await session.scalars(query)).all()
    for conversation in expired:
        conversation.cancel()
        conversation.context = {**conversation.context, "cancelled_because": "expired"}
    await session.flush()
    return len(expired)
