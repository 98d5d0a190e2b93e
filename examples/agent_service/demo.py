"""A walk through the data layer against a real database, as a service would wire it.

``python -m examples.agent_service`` migrates the database the ``DB_*``
variables name to head, then signs a user up, issues and uses an API key,
runs a conversation through its statuses, sweeps expired sessions and
soft-deletes the user, printing what happens. Everything but the migrations
is rolled back at the end, so it can run again and again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from agentifui_config import ConnectionManager, DatabaseConfig
from agentifui_config.migrations import upgrade
from examples.agent_service import ALEMBIC_INI
from examples.agent_service.models import (
    ApiKey,
    AuditLog,
    AuthProvider,
    ConversationSession,
    InvalidTransitionError,
    User,
    actor_of,
    agent_sessionmaker,
    authenticate,
    cancel_expired,
    find_user_by_identity,
    get_or_create_group,
    get_or_create_role,
    record,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["run"]


async def run(database: DatabaseConfig, *, retry_for: float = 0) -> list[str]:
    """Migrate *database* to head and walk through the data layer, rolling its changes back.

    Args:
        database: Where to run; ``load_settings().database`` from the command line.
        retry_for: Seconds to keep trying while the database is still starting.

    Returns:
        One line per step, as ``python -m examples.agent_service`` prints them.
    """
    manager = ConnectionManager()
    await manager.initialize(database, retry_for=retry_for)
    try:
        await upgrade(manager, ALEMBIC_INI)
        async with agent_sessionmaker(manager.engine)() as session:
            lines = await _walk(session)
            await session.rollback()
    finally:
        await manager.dispose()
    return [*lines, "rolled back: the schema stays at head, no row was kept"]


async def _walk(session: AsyncSession) -> list[str]:
    """The steps themselves, in one transaction the caller rolls back."""
    user = User(email="ada@example.com", display_name="Ada Lovelace")
    user.link_identity(AuthProvider.GITHUB, "583231")
    user.add_role(await get_or_create_role(session, "agent:run"))
    reviewers = await get_or_create_group(session, "reviewers")
    reviewers.roles.append(await get_or_create_role(session, "sessions:review"))
    user.join_group(reviewers)
    session.add(user)
    await session.flush()
    record(session, "system", "user.signed_up", actor_of("user", user.id), {"provider": "github"})
    lines = [f"signed up {user.email}: roles {sorted(user.role_names)}"]

    key, plaintext = ApiKey.issue(user, "laptop", ["sessions:write"])
    session.add(key)
    record(session, actor_of("user", user.id), "api_key.issued", actor_of("api_key", key.prefix))
    found = await authenticate(session, plaintext)
    lines.append(f"key {key.prefix}... authenticates {found.user.email if found else 'nobody'}")

    conversation = ConversationSession.start(user, title="Plan a trip", ttl=timedelta(hours=1))
    conversation.add_message("user", "Where should I go in May?")
    conversation.complete()
    try:
        conversation.transition_to("active")
    except InvalidTransitionError as exc:
        lines.append(f"refused: {exc}")
    stale = datetime.now(UTC) - timedelta(days=1)
    session.add_all(
        [conversation, ConversationSession.start(user, ttl=timedelta(hours=1), now=stale)]
    )
    lines.append(f"cancelled {await cancel_expired(session)} expired session(s)")

    user.soft_delete()
    await session.flush()
    gone = await find_user_by_identity(session, AuthProvider.GITHUB, "583231") is None
    locked = await authenticate(session, plaintext) is None
    lines.append(f"soft-deleted: found by identity {not gone}, key works {not locked}")
    entries = (await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
    lines.append(f"audit log: {entries}")
    return lines
