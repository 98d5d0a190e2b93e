"""Users, the identities they sign in with, and their roles and groups.

A user signs in through any number of providers: each ``UserIdentity`` is one
``(provider, subject)`` pair, unique per provider, so one GitHub account
belongs to one user. Roles are granted directly or through groups;
:meth:`User.has_role` sees both. Users are soft-deleted: a deleted user's
email address is free for a new account (the unique index covers live rows
only), and queries through :class:`~examples.agent_service.base.AgentSession`
no longer find the user, even through their identities.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
    select,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agentifui_config.models import SoftDeleteMixin, TimestampMixin, UUIDv7PrimaryKeyMixin
from examples.agent_service.base import AgentBase

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "AuthProvider",
    "Group",
    "Role",
    "User",
    "UserIdentity",
    "find_user_by_identity",
    "get_or_create_group",
    "get_or_create_role",
    "group_roles",
    "user_groups",
    "user_roles",
]


class AuthProvider(StrEnum):
    """The sign-in providers the service knows; ``provider`` columns hold these values."""

    GOOGLE = "google"
    GITHUB = "github"
    MICROSOFT = "microsoft"
    OIDC = "oidc"


def _link(name: str, left: str, right: str) -> Table:
    """An association table of two foreign keys, both cascading, keyed by the pair."""
    return Table(
        name,
        AgentBase.metadata,
        Column(f"{left}_id", ForeignKey(f"{left}s.id", ondelete="CASCADE"), primary_key=True),
        # The primary key's index serves lookups by the left side; this one, the right side.
        Column(
            f"{right}_id",
            ForeignKey(f"{right}s.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
    )


user_roles: Table = _link("user_roles", "user", "role")
"""Roles granted to a user directly."""

user_groups: Table = _link("user_groups", "user", "group")
"""Group memberships."""

group_roles: Table = _link("group_roles", "group", "role")
"""Roles every member of a group holds."""


class Role(UUIDv7PrimaryKeyMixin, TimestampMixin, AgentBase):
    """A named permission set, such as ``admin`` or ``agent:run``."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(String(255), default=None)

    def __repr__(self) -> str:
        return f"Role(name={self.name!r})"


class Group(UUIDv7PrimaryKeyMixin, TimestampMixin, AgentBase):
    """A set of users who share the group's roles."""

    __tablename__ = "groups"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    # "selectin" loads with the group: an AsyncSession cannot load lazily on attribute access.
    roles: Mapped[list[Role]] = relationship(secondary=group_roles, lazy="selectin")

    def __init__(self, **fields: Any) -> None:
        """Create a group; ``roles`` starts empty, not unloaded, as :class:`User` explains."""
        fields.setdefault("roles", [])
        super().__init__(**fields)

    def __repr__(self) -> str:
        return f"Group(name={self.name!r})"


class User(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, AgentBase):
    """A person using the service, whatever provider they sign in with."""

    __tablename__ = "users"
    __table_args__ = (
        # Unique among live users only, so a soft-deleted user's address can sign up again.
        Index(
            None,
            "email",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true(), default=True)
    identities: Mapped[list[UserIdentity]] = relationship(
        back_populates="user",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,  # the database's ON DELETE CASCADE removes them
    )
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")
    groups: Mapped[list[Group]] = relationship(secondary=user_groups, lazy="selectin")

    def __init__(self, **fields: Any) -> None:
        """Create a user from its column and relationship values.

        The collections start empty rather than unloaded: once the user is
        flushed, reading an unloaded collection would need a lazy load, which
        an ``AsyncSession`` cannot do.
        """
        for collection in ("identities", "roles", "groups"):
            fields.setdefault(collection, [])
        super().__init__(**fields)

    def __repr__(self) -> str:
        return f"User(id={self.id!s}, email={self.email!r})"

    @property
    def role_names(self) -> frozenset[str]:
        """The names of every role the user holds, directly or through a group."""
        names = {role.name for role in self.roles}
        names.update(role.name for group in self.groups for role in group.roles)
        return frozenset(names)

    def has_role(self, name: str) -> bool:
        """Whether the user holds the role *name*, directly or through a group."""
        return name in self.role_names

    def has_any_role(self, *names: str) -> bool:
        """Whether the user holds at least one of *names*; ``False`` when none are given."""
        return not self.role_names.isdisjoint(names)

    def has_all_roles(self, *names: str) -> bool:
        """Whether the user holds every one of *names*; ``True`` when none are given."""
        return self.role_names.issuperset(names)

    def add_role(self, role: Role) -> bool:
        """Grant *role* directly; it is written on the next flush.

        Returns:
            ``False`` when the user held it directly already, ``True`` otherwise.
        """
        if any(held.name == role.name for held in self.roles):
            return False
        self.roles.append(role)
        return True

    def remove_role(self, name: str) -> bool:
        """Withdraw the directly granted role *name*; roles held through groups stay.

        Returns:
            Whether the user held it directly.
        """
        kept = [role for role in self.roles if role.name != name]
        removed = len(kept) != len(self.roles)
        self.roles = kept
        return removed

    def in_group(self, name: str) -> bool:
        """Whether the user is a member of the group *name*."""
        return any(group.name == name for group in self.groups)

    def join_group(self, group: Group) -> bool:
        """Make the user a member of *group*.

        Returns:
            ``False`` when the user was a member already, ``True`` otherwise.
        """
        if self.in_group(group.name):
            return False
        self.groups.append(group)
        return True

    def leave_group(self, name: str) -> bool:
        """Remove the user from the group *name*.

        Returns:
            Whether the user was a member.
        """
        kept = [group for group in self.groups if group.name != name]
        left = len(kept) != len(self.groups)
        self.groups = kept
        return left

    def link_identity(
        self, provider: AuthProvider | str, subject: str, *, email: str | None = None
    ) -> UserIdentity:
        """Attach a sign-in identity; a pair another user holds fails at flush (unique).

        Args:
            provider: The provider's name, one of :class:`AuthProvider`'s values.
            subject: The provider's stable identifier of the account (OIDC ``sub``).
            email: The address the provider reports, when it reports one.

        Returns:
            The new identity, added to :attr:`identities`.
        """
        identity = UserIdentity(provider=str(provider), subject=subject, email=email)
        self.identities.append(identity)
        return identity


class UserIdentity(UUIDv7PrimaryKeyMixin, TimestampMixin, AgentBase):
    """One account at one sign-in provider, belonging to one user."""

    __tablename__ = "user_identities"
    __table_args__ = (
        # The convention would name it after its first column only; both columns say more.
        UniqueConstraint("provider", "subject", name="uq_user_identities_provider_subject"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    user: Mapped[User] = relationship(back_populates="identities", lazy="raise")

    def __repr__(self) -> str:
        return f"UserIdentity(provider={self.provider!r}, subject={self.subject!r})"


async def find_user_by_identity(
    session: AsyncSession, provider: AuthProvider | str, subject: str
) -> User | None:
    """Return the live user who signs in as *subject* at *provider*, or ``None``.

    Through an :class:`~examples.agent_service.base.AgentSession`, a
    soft-deleted user is not found.
    """
    query = (
        select(User)
        .join(User.identities)
        .where(UserIdentity.provider == str(provider), UserIdentity.subject == subject)
    )
    return (await session.scalars(query)).one_or_none()


async def get_or_create_role(session: AsyncSession, name: str) -> Role:
    """Return the role *name*, adding it to *session* when it does not exist yet."""
    role = (await session.scalars(select(Role).where(Role.name == name))).one_or_none()
    if role is None:
        role = Role(name=name)
        session.add(role)
    return role


async def get_or_create_group(session: AsyncSession, name: str) -> Group:
    """Return the group *name*, adding it to *session* when it does not exist yet."""
    group = (await session.scalars(select(Group).where(Group.name == name))).one_or_none()
    if group is None:
        group = Group(name=name)
        session.add(group)
    return group
