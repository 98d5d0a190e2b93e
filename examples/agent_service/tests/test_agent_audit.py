"""The audit log: entries written with the change they describe, JSONB details, time order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from examples.agent_service.models import ApiKey, AuditLog, User, actor_of, record

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@pytest.mark.asyncio
class TestAuditLog:
    """Writing and reading audit entries."""

    async def test_write_and_read(self, db_session: AsyncSession, user: User) -> None:
        """An entry keeps actor, action, target and details, and gets its time from the database."""
        key, _ = ApiKey.issue(user, "ci", ["sessions:read"])
        db_session.add(key)
        entry = record(
            db_session,
            actor_of("user", user.id),
            "api_key.issued",
            actor_of("api_key", key.prefix),
            {"scopes": key.scopes, "name": key.name},
        )
        await db_session.commit()
        db_session.expunge_all()

        loaded = await db_session.get(AuditLog, entry.id)
        assert loaded is not None
        assert loaded.actor == f"user:{user.id}"
        assert loaded.action == "api_key.issued"
        assert loaded.target == f"api_key:{key.prefix}"
        assert loaded.details == {"scopes": ["sessions:read"], "name": "ci"}
        assert loaded.created_at.tzinfo is not None

    async def test_details_default_and_query(self, db_session: AsyncSession) -> None:
        """Details default to an empty object, and JSONB containment finds entries by them."""
        record(db_session, "system", "sessions.swept")
        record(db_session, "system", "user.created", "user:1", {"provider": "github"})
        await db_session.flush()
        plain = await db_session.scalar(select(AuditLog).where(AuditLog.action == "sessions.swept"))
        assert plain is not None
        assert plain.details == {}
        query = select(AuditLog.action).where(AuditLog.details.contains({"provider": "github"}))
        assert (await db_session.scalars(query)).all() == ["user.created"]

    async def test_time_ordered_ids(self, db_session: AsyncSession) -> None:
        """Entries sort by their UUIDv7 ids in the order they were made."""
        actions = [f"step.{n}" for n in range(5)]
        for action in actions:
            record(db_session, "system", action)
        await db_session.flush()
        ordered = (await db_session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
        assert ordered == actions

    async def test_rolled_back_with_the_change(self, db_session: AsyncSession, user: User) -> None:
        """An entry shares its change's transaction: a rollback removes both."""
        await db_session.commit()
        user.display_name = "Countess"
        record(db_session, actor_of("user", user.id), "user.renamed", actor_of("user", user.id))
        await db_session.flush()
        await db_session.rollback()
        assert (await db_session.scalars(select(AuditLog))).all() == []
        assert await db_session.scalar(select(User.display_name)) == "Ada Lovelace"

    async def test_outlives_its_actor(self, db_session: AsyncSession, user: User) -> None:
        """Entries name actors by string, so deleting the user keeps the log."""
        record(db_session, actor_of("user", user.id), "user.signed_in")
        await db_session.flush()
        await db_session.delete(user)
        await db_session.flush()
        assert await db_session.scalar(select(AuditLog.action)) == "user.signed_in"
