"""API keys: shown once, stored only as a SHA-256 hash, scoped, revocable.

:meth:`ApiKey.issue` makes a random key and returns its plaintext next to the
row; the row keeps the key's SHA-256 hex digest and a short prefix to
recognise it by, never the key. :func:`authenticate` hashes what a client
sent and looks the digest up. A key belongs to a user and goes with them:
the foreign key cascades on delete, and a soft-deleted or deactivated user's
keys stop authenticating.

A plain SHA-256 is enough here, unlike for passwords: the key is 256 random
bits, so there is nothing to guess, and a lookup needs a deterministic digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from sqlalchemy import DateTime, ForeignKey, String, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, contains_eager, mapped_column, relationship

from agentifui_config.models import TimestampMixin, UUIDv7PrimaryKeyMixin
from examples.agent_service.base import AgentBase
from examples.agent_service.users import User

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["KEY_PREFIX", "ApiKey", "authenticate", "hash_key"]

KEY_PREFIX: Final = "agk_"
"""What every key starts with, so secret scanners and people can tell one."""

_RANDOM_BYTES: Final = 32
_SHOWN_CHARS: Final = 12  # KEY_PREFIX and 8 random characters: enough to tell keys apart


def hash_key(plaintext: str) -> str:
    """Return the SHA-256 hex digest stored for the key *plaintext*."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


class ApiKey(UUIDv7PrimaryKeyMixin, TimestampMixin, AgentBase):
    """A user's API key, of which only the hash is kept."""

    __tablename__ = "api_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), default=list, server_default=text("'{}'")
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    user: Mapped[User] = relationship(lazy="raise")

    def __repr__(self) -> str:
        # The prefix only: it identifies the key without being usable.
        return f"ApiKey(prefix={self.prefix!r}, name={self.name!r}, scopes={self.scopes!r})"

    @classmethod
    def issue(
        cls,
        user: User,
        name: str,
        scopes: Iterable[str] = (),
        *,
        expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """Make a new key for *user*.

        Args:
            user: The key's owner.
            name: What the user calls it ("CI deploys").
            scopes: What it may do, such as ``sessions:read``.
            expires_at: When it stops working; ``None`` for never.

        Returns:
            The row to add to a session, and the plaintext key: hand it to the
            user now, for it is not stored anywhere.
        """
        plaintext = KEY_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)
        key = cls(
            user=user,
            name=name,
            prefix=plaintext[:_SHOWN_CHARS],
            key_hash=hash_key(plaintext),
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
        )
        return key, plaintext

    def verify(self, plaintext: str) -> bool:
        """Whether *plaintext* is this key, compared in constant time."""
        return hmac.compare_digest(hash_key(plaintext), self.key_hash)

    def has_scope(self, scope: str) -> bool:
        """Whether the key grants *scope*."""
        return scope in self.scopes

    def is_usable(self, now: datetime | None = None) -> bool:
        """Whether the key is neither revoked nor expired."""
        moment = now or datetime.now(UTC)
        expired = self.expires_at is not None and self.expires_at <= moment
        return self.revoked_at is None and not expired

    def revoke(self, now: datetime | None = None) -> None:
        """Stop the key from working; it is written on the next flush."""
        self.revoked_at = now or datetime.now(UTC)


async def authenticate(
    session: AsyncSession, plaintext: str, *, now: datetime | None = None
) -> ApiKey | None:
    """Return the usable key *plaintext* stands for, with its user loaded, or ``None``.

    A key is found by its hash; it must be neither revoked nor expired, and its
    user active. Through an :class:`~examples.agent_service.base.AgentSession`
    a soft-deleted user's keys are not found either. ``last_used_at`` is
    updated (written on the next flush).
    """
    if not plaintext.startswith(KEY_PREFIX):
        return None
    query = (
        select(ApiKey)
        .join(ApiKey.user)
        .options(contains_eager(ApiKey.user))
        .where(ApiKey.key_hash == hash_key(plaintext), User.is_active)
    )
    key = (await session.scalars(query)).one_or_none()
    moment = now or datetime.now(UTC)
    if key is None or not key.is_usable(moment):
        return None
    key.last_used_at = moment
    return key
