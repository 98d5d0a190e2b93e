"""API keys: only the SHA-256 hash is stored, verification, scopes, and the cascade from users."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text

from examples.agent_service.models import KEY_PREFIX, ApiKey, User, authenticate, hash_key

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

_NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class TestIssue:
    """Making a key, without a database."""

    def test_plaintext_shown_once(self) -> None:
        """The plaintext is returned next to the row, which holds only its hash and prefix."""
        key, plaintext = ApiKey.issue(User(email="a@example.com", display_name="A"), "ci")
        assert plaintext.startswith(KEY_PREFIX)
        assert len(plaintext) > 40
        assert key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
        assert plaintext.startswith(key.prefix)
        assert plaintext not in repr(key)

    def test_keys_differ(self) -> None:
        """Two keys issued alike are different random keys."""
        user = User(email="a@example.com", display_name="A")
        assert ApiKey.issue(user, "one")[1] != ApiKey.issue(user, "one")[1]

    def test_verify(self) -> None:
        """verify() accepts the key and refuses anything else."""
        key, plaintext = ApiKey.issue(User(email="a@example.com", display_name="A"), "ci")
        assert key.verify(plaintext)
        assert not key.verify(plaintext + "x")
        assert not key.verify(key.key_hash)

    def test_scopes(self) -> None:
        """Scopes are kept once each, sorted, and has_scope() reads them."""
        user = User(email="a@example.com", display_name="A")
        key, _ = ApiKey.issue(user, "ci", ["sessions:write", "sessions:read", "sessions:read"])
        assert key.scopes == ["sessions:read", "sessions:write"]
        assert key.has_scope("sessions:read")
        assert not key.has_scope("admin")

    def test_usable(self) -> None:
        """A key is usable until it expires or is revoked."""
        key, _ = ApiKey.issue(User(email="a@example.com", display_name="A"), "ci", expires_at=_NOW)
        assert key.is_usable(_NOW - timedelta(seconds=1))
        assert not key.is_usable(_NOW)
        key.expires_at = None
        key.revoke(_NOW)
        assert not key.is_usable(_NOW)


@pytest.mark.asyncio
class TestStored:
    """Keys in the database."""

    async def test_plaintext_never_stored(self, db_session: AsyncSession, user: User) -> None:
        """No column of the stored row holds the plaintext; key_hash is its SHA-256 hex digest."""
        key, plaintext = ApiKey.issue(user, "ci", ["sessions:read"])
        db_session.add(key)
        await db_session.commit()
        row = (
            await db_session.execute(
                text("SELECT to_jsonb(api_keys)::text AS whole, key_hash FROM api_keys")
            )
        ).one()
        assert plaintext not in row.whole
        assert plaintext[len(KEY_PREFIX) :] not in row.whole
        assert row.key_hash == hashlib.sha256(plaintext.encode("utf-8")).hexdigest()
        assert len(row.key_hash) == 64

    async def test_authenticate(self, db_session: AsyncSession, user: User) -> None:
        """The plaintext finds its key and user, and stamps last_used_at."""
        key, plaintext = ApiKey.issue(user, "ci", ["sessions:read"])
        db_session.add(key)
        await db_session.commit()
        db_session.expunge_all()

        found = await authenticate(db_session, plaintext, now=_NOW)
        assert found is not None
        assert found.id == key.id
        assert found.user.email == user.email
        assert found.last_used_at == _NOW
        assert found.has_scope("sessions:read")

    @pytest.mark.parametrize("wrong", ["", "agk_nope", "not-even-prefixed"])
    async def test_wrong_key(self, db_session: AsyncSession, user: User, wrong: str) -> None:
        """A key that was never issued authenticates nobody."""
        key, _ = ApiKey.issue(user, "ci")
        db_session.add(key)
        await db_session.flush()
        assert await authenticate(db_session, wrong) is None

    async def test_hash_is_not_a_key(self, db_session: AsyncSession, user: User) -> None:
        """Someone holding a copy of the stored hash cannot use it as the key."""
        key, _ = ApiKey.issue(user, "ci")
        db_session.add(key)
        await db_session.flush()
        assert await authenticate(db_session, key.key_hash) is None
        assert await authenticate(db_session, KEY_PREFIX + key.key_hash) is None
        assert hash_key(key.key_hash) != key.key_hash

    async def test_revoked_and_expired(self, db_session: AsyncSession, user: User) -> None:
        """Revoked and expired keys do not authenticate."""
        revoked, revoked_text = ApiKey.issue(user, "old")
        revoked.revoke(_NOW - timedelta(days=1))
        expired, expired_text = ApiKey.issue(user, "temp", expires_at=_NOW - timedelta(seconds=1))
        db_session.add_all([revoked, expired])
        await db_session.flush()
        assert await authenticate(db_session, revoked_text, now=_NOW) is None
        assert await authenticate(db_session, expired_text, now=_NOW) is None

    async def test_inactive_or_deleted_user(self, db_session: AsyncSession, user: User) -> None:
        """A deactivated or soft-deleted user's keys stop working, and work again once restored."""
        key, plaintext = ApiKey.issue(user, "ci")
        db_session.add(key)
        user.is_active = False
        await db_session.flush()
        assert await authenticate(db_session, plaintext) is None
        user.is_active = True
        user.soft_delete()
        await db_session.flush()
        assert await authenticate(db_session, plaintext) is None
        user.restore()
        await db_session.flush()
        assert await authenticate(db_session, plaintext) is not None

    async def test_cascade_from_user(self, db_session: AsyncSession, user: User) -> None:
        """Deleting a user for good deletes their keys through ON DELETE CASCADE."""
        other = User(email="bob@example.com", display_name="Bob")
        keys = [ApiKey.issue(user, "one")[0], ApiKey.issue(user, "two")[0]]
        kept = ApiKey.issue(other, "bob's")[0]
        db_session.add_all([*keys, kept])
        await db_session.commit()

        await db_session.delete(user)
        await db_session.commit()
        remaining = (await db_session.scalars(select(ApiKey.name))).all()
        assert remaining == ["bob's"]
