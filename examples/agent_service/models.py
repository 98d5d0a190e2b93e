"""Every model of the example, in one import: what Alembic's ``env.py`` and callers load.

Importing this module registers all tables in :data:`metadata`, the
``MetaData`` the migrations are compared with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from examples.agent_service.api_keys import KEY_PREFIX, ApiKey, authenticate, hash_key
from examples.agent_service.audit import AuditLog, actor_of, record
from examples.agent_service.base import AgentBase, AgentSession, agent_sessionmaker
from examples.agent_service.conversations import (
    TRANSITIONS,
    ConversationSession,
    InvalidTransitionError,
    SessionClosedError,
    SessionStatus,
    cancel_expired,
    expired_sessions,
)
from examples.agent_service.users import (
    AuthProvider,
    Group,
    Role,
    User,
    UserIdentity,
    find_user_by_identity,
    get_or_create_group,
    get_or_create_role,
    group_roles,
    user_groups,
    user_roles,
)

if TYPE_CHECKING:
    from sqlalchemy import MetaData

__all__ = [
    "KEY_PREFIX",
    "TRANSITIONS",
    "AgentBase",
    "AgentSession",
    "ApiKey",
    "AuditLog",
    "AuthProvider",
    "ConversationSession",
    "Group",
    "InvalidTransitionError",
    "Role",
    "SessionClosedError",
    "SessionStatus",
    "User",
    "UserIdentity",
    "actor_of",
    "agent_sessionmaker",
    "authenticate",
    "cancel_expired",
    "expired_sessions",
    "find_user_by_identity",
    "get_or_create_group",
    "get_or_create_role",
    "group_roles",
    "hash_key",
    "metadata",
    "record",
    "user_groups",
    "user_roles",
]

metadata: Final[MetaData] = AgentBase.metadata
"""The example's tables, for ``alembic revision --autogenerate`` and schema checks."""
