"""Users: roles and groups, identities unique per provider, soft delete and restore."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from examples.agent_service.models import (
    AuthProvider,
    Group,
    Role,
    User,
    find_user_by_identity,
    get_or_create_group,
    get_or_create_role,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def _user(email: str = "grace@example.com") -> User:
    return User(email=email, display_name=email.split("@", maxsplit=1)[0])


class TestRolesInMemory:
    """The role methods on objects that were never flushed."""

    def test_no_roles(self) -> None:
        """A new user holds no role, so has_any_role is false and has_all_roles of none is true."""
        user = User(email="a@example.com", display_name="A", roles=[], groups=[])
        assert user.role_names == frozenset()
        assert not user.has_role("admin")
        assert not user.has_any_role("admin", "viewer")
        assert user.has_all_roles()

    def test_add_role_is_idempotent(self) -> None:
        """Adding a role twice grants it once, and the second call says nothing changed."""
        user = User(email="a@example.com", display_name="A", roles=[], groups=[])
        assert user.add_role(Role(name="admin"))
        assert not user.add_role(Role(name="admin"))
        assert [role.name for role in user.roles] == ["admin"]

    def test_remove_role(self) -> None:
        """Removing a held role withdraws it; removing one not held reports False."""
        user = User(email="a@example.com", display_name="A", roles=[Role(name="admin")], groups=[])
        assert user.remove_role("admin")
        assert not user.remove_role("admin")
        assert not user.has_role("admin")

    def test_roles_through_groups(self) -> None:
        """A group's roles count for has_role, has_any_role and has_all_roles."""
        ops = Group(name="ops", roles=[Role(name="deploy")])
        user = User(email="a@example.com", display_name="A", roles=[Role(name="viewer")], groups=[])
        assert user.join_group(ops)
        assert user.has_role("deploy")
        assert user.has_any_role("admin", "deploy")
        assert user.has_all_roles("viewer", "deploy")
        assert not user.has_all_roles("viewer", "admin")

    def test_group_membership(self) -> None:
        """Joining twice is a no-op, and leaving takes the group's roles away."""
        ops = Group(name="ops", roles=[Role(name="deploy")])
        user = User(email="a@example.com", display_name="A", roles=[], groups=[])
        assert user.join_group(ops)
        assert not user.join_group(ops)
        assert user.in_group("ops")
        assert user.leave_group("ops")
        assert not user.leave_group("ops")
        assert not user.has_role("deploy")

    def test_remove_role_keeps_group_roles(self) -> None:
        """Withdrawing a direct role leaves the same role held through a group."""
        admins = Group(name="admins", roles=[Role(name="admin")])
        user = User(email="a@example.com", display_name="A", roles=[Role(name="admin")], groups=[])
        user.join_group(admins)
        assert user.remove_role("admin")
        assert user.has_role("admin")


@pytest.mark.asyncio
class TestRolesInTheDatabase:
    """Roles and groups as the database stores them."""

    async def test_roles_survive_a_reload(self, db_session: AsyncSession, user: User) -> None:
        """Direct and group roles are loaded with the user, ready for the sync methods."""
        ops = await get_or_create_group(db_session, "ops")
        ops.roles.append(await get_or_create_role(db_session, "deploy"))
        user.add_role(await get_or_create_role(db_session, "viewer"))
        user.join_group(ops)
        await db_session.commit()
        db_session.expunge_all()

        loaded = await db_session.get(User, user.id)
        assert loaded is not None
        assert loaded.role_names == {"viewer", "deploy"}
        assert loaded.in_group("ops")

    async def test_get_or_create_returns_the_existing_row(self, db_session: AsyncSession) -> None:
        """Asking for a role twice gives the same row, not a duplicate."""
        first = await get_or_create_role(db_session, "admin")
        await db_session.flush()
        assert await get_or_create_role(db_session, "admin") is first
        count = await db_session.scalar(select(func.count()).select_from(Role))
        assert count == 1

    async def test_remove_role_deletes_the_link(self, db_session: AsyncSession, user: User) -> None:
        """A removed role leaves the user's roles in the database too, and the role itself stays."""
        user.add_role(await get_or_create_role(db_session, "admin"))
        await db_session.flush()
        user.remove_role("admin")
        await db_session.flush()
        db_session.expunge_all()
        loaded = await db_session.get(User, user.id)
        assert loaded is not None
        assert not loaded.has_role("admin")
        assert await db_session.scalar(select(Role.name)) == "admin"


@pytest.mark.asyncio
class TestIdentities:
    """Sign-in identities at several providers."""

    async def test_several_providers(self, db_session: AsyncSession, user: User) -> None:
        """One user signs in through several providers and is found through each."""
        user.link_identity(AuthProvider.GITHUB, "1234")
        user.link_identity(AuthProvider.GOOGLE, "g-99", email="ada@gmail.com")
        await db_session.flush()
        for provider, subject in [(AuthProvider.GITHUB, "1234"), ("google", "g-99")]:
            assert await find_user_by_identity(db_session, provider, subject) is user

    async def test_unknown_identity(self, db_session: AsyncSession, user: User) -> None:
        """The same subject at another provider is another account, so nobody is found."""
        user.link_identity(AuthProvider.GITHUB, "1234")
        await db_session.flush()
        assert await find_user_by_identity(db_session, AuthProvider.GOOGLE, "1234") is None

    async def test_unique_per_provider(self, db_session: AsyncSession, user: User) -> None:
        """A provider's subject belongs to one user: a second user linking it is refused."""
        user.link_identity(AuthProvider.GITHUB, "1234")
        await db_session.commit()
        other = _user()
        other.link_identity(AuthProvider.GITHUB, "1234")
        db_session.add(other)
        with pytest.raises(IntegrityError, match="uq_user_identities_provider_subject"):
            await db_session.flush()
        await db_session.rollback()

    async def test_deleted_with_their_user(self, db_session: AsyncSession, user: User) -> None:
        """Deleting a user for good deletes their identities through the foreign key."""
        user.link_identity(AuthProvider.OIDC, "sub-1")
        await db_session.flush()
        await db_session.delete(user)
        await db_session.flush()
        db_session.expunge_all()
        assert await find_user_by_identity(db_session, AuthProvider.OIDC, "sub-1") is None


@pytest.mark.asyncio
class TestSoftDelete:
    """Soft-deleted users are left out of queries until restored."""

    async def test_left_out_and_restored(self, db_session: AsyncSession, user: User) -> None:
        """A soft-deleted user leaves queries, is found on request, and comes back when restored."""
        user.soft_delete()
        await db_session.commit()
        assert user.is_deleted
        assert (await db_session.scalars(select(User))).all() == []
        everyone = select(User).execution_options(include_deleted=True)
        assert (await db_session.scalars(everyone)).all() == [user]

        user.restore()
        await db_session.commit()
        assert (await db_session.scalars(select(User))).all() == [user]

    async def test_not_found_through_identities(self, db_session: AsyncSession, user: User) -> None:
        """Signing in as a soft-deleted user finds nobody, though the identity row remains."""
        user.link_identity(AuthProvider.GITHUB, "1234")
        user.soft_delete()
        await db_session.flush()
        assert await find_user_by_identity(db_session, AuthProvider.GITHUB, "1234") is None

    async def test_email_free_again(self, db_session: AsyncSession, user: User) -> None:
        """A soft-deleted user's email can sign up again, but two live users cannot share one."""
        user.soft_delete()
        db_session.add(_user(user.email))
        await db_session.commit()
        db_session.add(_user(user.email))
        with pytest.raises(IntegrityError, match="ix_users_email"):
            await db_session.flush()
        await db_session.rollback()
