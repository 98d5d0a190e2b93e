"""Conversation sessions: status transitions, the CHECK constraints, JSONB, expiry, soft delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from examples.agent_service.models import (
    TRANSITIONS,
    ConversationSession,
    InvalidTransitionError,
    SessionClosedError,
    SessionStatus,
    User,
    cancel_expired,
    expired_sessions,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

_NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
_FINAL = [SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELLED]
_ALLOWED = [(SessionStatus.ACTIVE, final) for final in _FINAL]
_REFUSED = [
    (current, target)
    for current, target in product(SessionStatus, SessionStatus)
    if (current, target) not in _ALLOWED
]


def _in_status(status: SessionStatus) -> ConversationSession:
    """A session of no user, in *status*, reached through the allowed transition."""
    conversation = ConversationSession.start(User(email="x@example.com", display_name="X"))
    if status is not SessionStatus.ACTIVE:
        conversation.transition_to(status)
    return conversation


class TestTransitions:
    """The status machine, in Python."""

    def test_table(self) -> None:
        """Only an active session moves, and it moves only to the final statuses."""
        assert TRANSITIONS[SessionStatus.ACTIVE] == set(_FINAL)
        assert all(not TRANSITIONS[final] for final in _FINAL)

    @pytest.mark.parametrize(("current", "target"), _ALLOWED)
    def test_allowed(self, current: SessionStatus, target: SessionStatus) -> None:
        """An allowed transition changes the status and stamps ended_at."""
        conversation = _in_status(current)
        assert conversation.can_transition_to(target)
        conversation.transition_to(target, now=_NOW)
        assert conversation.status is target
        assert conversation.ended_at == _NOW
        assert not conversation.is_active

    @pytest.mark.parametrize(("current", "target"), _REFUSED)
    def test_refused(self, current: SessionStatus, target: SessionStatus) -> None:
        """Any other transition raises InvalidTransitionError naming both, changing nothing."""
        conversation = _in_status(current)
        assert not conversation.can_transition_to(target)
        match = f"cannot move a session from '{current}' to '{target}'"
        with pytest.raises(InvalidTransitionError, match=match) as caught:
            conversation.transition_to(target)
        assert (caught.value.current, caught.value.target) == (current, target)
        assert conversation.status is current

    def test_refused_by_assignment(self) -> None:
        """Assigning status directly goes through the same check."""
        conversation = _in_status(SessionStatus.COMPLETED)
        with pytest.raises(InvalidTransitionError, match="'completed' is final"):
            conversation.status = SessionStatus.ACTIVE

    def test_message_lists_allowed_targets(self) -> None:
        """The error from an active session says where it may go."""
        conversation = _in_status(SessionStatus.ACTIVE)
        allowed = "it may move to 'cancelled', 'completed', 'failed'"
        with pytest.raises(InvalidTransitionError, match=allowed):
            conversation.transition_to("active")

    def test_unknown_status(self) -> None:
        """A status outside SessionStatus is a ValueError before any transition is considered."""
        with pytest.raises(ValueError, match="'paused' is not a valid SessionStatus"):
            _in_status(SessionStatus.ACTIVE).transition_to("paused")

    def test_fail_keeps_the_reason(self) -> None:
        """fail() records why in the context."""
        conversation = _in_status(SessionStatus.ACTIVE)
        conversation.fail("model timed out")
        assert conversation.status is SessionStatus.FAILED
        assert conversation.context["failure_reason"] == "model timed out"

    def test_no_messages_once_ended(self) -> None:
        """A message for an ended session raises SessionClosedError."""
        conversation = _in_status(SessionStatus.ACTIVE)
        conversation.cancel()
        with pytest.raises(SessionClosedError, match="is cancelled"):
            conversation.add_message("user", "hello?")


@pytest.mark.asyncio
class TestStored:
    """Sessions as the database stores them."""

    async def test_messages_and_context_round_trip(
        self, db_session: AsyncSession, user: User
    ) -> None:
        """Messages and context come back from JSONB as they were written."""
        conversation = ConversationSession.start(user, title="Plan", context={"model": "m-1"})
        conversation.add_message("user", "Hi", now=_NOW)
        conversation.add_message("assistant", "Hello!", now=_NOW)
        db_session.add(conversation)
        await db_session.commit()
        db_session.expunge_all()

        loaded = await db_session.get(ConversationSession, conversation.id)
        assert loaded is not None
        assert [message["content"] for message in loaded.messages] == ["Hi", "Hello!"]
        assert loaded.messages[0] == {"role": "user", "content": "Hi", "at": _NOW.isoformat()}
        assert loaded.context == {"model": "m-1"}
        assert loaded.status is SessionStatus.ACTIVE

    async def test_context_is_queryable(self, db_session: AsyncSession, user: User) -> None:
        """JSONB containment finds sessions by their context."""
        db_session.add(ConversationSession.start(user, context={"agent": "planner"}))
        db_session.add(ConversationSession.start(user, context={"agent": "coder"}))
        await db_session.flush()
        query = select(ConversationSession).where(
            ConversationSession.context.contains({"agent": "coder"})
        )
        found = (await db_session.scalars(query)).all()
        assert [conversation.context["agent"] for conversation in found] == ["coder"]

    async def test_transition_is_stored(self, db_session: AsyncSession, user: User) -> None:
        """A completed session is read back completed, with its end time."""
        conversation = ConversationSession.start(user)
        db_session.add(conversation)
        await db_session.flush()
        conversation.complete()
        await db_session.commit()
        db_session.expunge_all()
        loaded = await db_session.get(ConversationSession, conversation.id)
        assert loaded is not None
        assert loaded.status is SessionStatus.COMPLETED
        assert loaded.ended_at is not None

    async def test_check_refuses_unknown_status(self, db_session: AsyncSession, user: User) -> None:
        """The CHECK constraint refuses a status that bypasses the Python check."""
        conversation = ConversationSession.start(user)
        db_session.add(conversation)
        await db_session.commit()
        with pytest.raises(IntegrityError, match="ck_conversation_sessions_status"):
            await db_session.execute(
                text(
                    "UPDATE conversation_sessions SET status = 'paused', ended_at = now() "
                    "WHERE id = :id"
                ),
                {"id": conversation.id},
            )
        await db_session.rollback()

    async def test_check_ties_ended_at_to_status(
        self, db_session: AsyncSession, user: User
    ) -> None:
        """The CHECK constraint refuses a final status without an end time."""
        conversation = ConversationSession.start(user)
        db_session.add(conversation)
        await db_session.commit()
        statement = (
            update(ConversationSession)
            .where(ConversationSession.id == conversation.id)
            .values(status=SessionStatus.COMPLETED)
        )
        with pytest.raises(IntegrityError, match="ck_conversation_sessions_ended_at"):
            await db_session.execute(statement)
        await db_session.rollback()

    async def test_deleted_with_their_user(self, db_session: AsyncSession, user: User) -> None:
        """Deleting a user for good deletes their sessions through the foreign key."""
        db_session.add(ConversationSession.start(user))
        await db_session.flush()
        await db_session.delete(user)
        await db_session.flush()
        remaining = select(ConversationSession).execution_options(include_deleted=True)
        assert (await db_session.scalars(remaining)).all() == []


def test_expiry_query_matches_the_partial_index() -> None:
    """The expiry query writes status = 'active' into its SQL, so the partial index applies."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped
    statement = expired_sessions(_NOW).compile(
        dialect=dialect, compile_kwargs={"render_postcompile": True}
    )
    assert "conversation_sessions.status = 'active'" in str(statement)


@pytest.mark.asyncio
class TestExpiry:
    """Finding and ending the sessions past their expiry."""

    async def _sessions(
        self, db_session: AsyncSession, user: User
    ) -> dict[str, ConversationSession]:
        started = _NOW - timedelta(hours=2)
        sessions = {
            "expired": ConversationSession.start(user, ttl=timedelta(hours=1), now=started),
            "expires_later": ConversationSession.start(user, ttl=timedelta(hours=3), now=started),
            "never": ConversationSession.start(user, now=started),
            "ended": ConversationSession.start(user, ttl=timedelta(minutes=5), now=started),
        }
        sessions["ended"].complete()
        db_session.add_all(sessions.values())
        await db_session.flush()
        return sessions

    async def test_query(self, db_session: AsyncSession, user: User) -> None:
        """expired_sessions() selects the active sessions past expires_at, and only those."""
        sessions = await self._sessions(db_session, user)
        found = (await db_session.scalars(expired_sessions(_NOW))).all()
        assert found == [sessions["expired"]]
        assert [name for name, conv in sessions.items() if conv.is_expired(_NOW)] == ["expired"]

    async def test_query_by_database_clock(self, db_session: AsyncSession, user: User) -> None:
        """Without a moment, the database's now() decides, and a session long past is found."""
        expired = ConversationSession.start(
            user, ttl=timedelta(seconds=1), now=_NOW - timedelta(days=3650)
        )
        db_session.add(expired)
        await db_session.flush()
        assert (await db_session.scalars(expired_sessions())).all() == [expired]

    async def test_cancel_expired(self, db_session: AsyncSession, user: User) -> None:
        """cancel_expired() cancels the expired sessions, noting why, and counts them."""
        sessions = await self._sessions(db_session, user)
        assert await cancel_expired(db_session, _NOW) == 1
        assert sessions["expired"].status is SessionStatus.CANCELLED
        assert sessions["expired"].context["cancelled_because"] == "expired"
        assert sessions["expires_later"].is_active
        assert (await db_session.scalars(expired_sessions(_NOW))).all() == []

    async def test_soft_deleted_left_out(self, db_session: AsyncSession, user: User) -> None:
        """A soft-deleted session is in no query, the expiry sweep included, until restored."""
        sessions = await self._sessions(db_session, user)
        sessions["expired"].soft_delete()
        await db_session.flush()
        assert (await db_session.scalars(expired_sessions(_NOW))).all() == []
        sessions["expired"].restore()
        await db_session.flush()
        assert (await db_session.scalars(expired_sessions(_NOW))).all() == [sessions["expired"]]
