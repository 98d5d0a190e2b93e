"""The audit log: who did what to which, when, with details as JSONB.

Entries are only ever added. ``actor`` and ``target`` are strings such as
``user:<id>`` or ``api_key:<prefix>`` rather than foreign keys on purpose:
the log must outlive what it mentions, a deleted user included.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agentifui_config.models import UUIDv7PrimaryKeyMixin
from examples.agent_service.base import AgentBase

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["AuditLog", "actor_of", "record"]


class AuditLog(UUIDv7PrimaryKeyMixin, AgentBase):
    """One audited action; the UUIDv7 key orders entries by time of creation."""

    __tablename__ = "audit_logs"

    actor: Mapped[str] = mapped_column(String(255), index=True)
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str | None] = mapped_column(String(255), index=True, default=None)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )

    def __repr__(self) -> str:
        return f"AuditLog(actor={self.actor!r}, action={self.action!r}, target={self.target!r})"


def actor_of(kind: str, identifier: object) -> str:
    """Return the ``kind:identifier`` string the log names actors and targets by."""
    return f"{kind}:{identifier}"


def record(
    session: AsyncSession,
    actor: str,
    action: str,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Add an entry to *session*; it is written with the session's next flush.

    Writing it in the same transaction as the change it describes means the
    two are committed, or rolled back, together.

    Args:
        session: The session holding the change being audited.
        actor: Who acted, such as ``actor_of("user", user.id)`` or ``"system"``.
        action: What they did, such as ``"api_key.issued"``.
        target: What they did it to.
        details: Anything else worth keeping; it must be JSON-serialisable, and hold no secret.
    """
    entry = AuditLog(actor=actor, action=action, target=target, details=dict(details or {}))
    session.add(entry)
    return entry
