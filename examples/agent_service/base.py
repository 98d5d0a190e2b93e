"""The example's declarative base and session class.

``AgentBase`` is a subclass of :class:`agentifui_config.models.Base`, so it keeps
the library's constraint naming convention and its ``RETURNING`` of
server-generated values, but owns a registry and ``MetaData`` of its own: the
example's tables never mix with those of the service importing it, which
keeps ``alembic revision --autogenerate`` and relationship lookups by class
name confined to this package.

``AgentSession`` is the session class soft-deleted rows are left out of.
"""

from __future__ import annotations

from sqlalchemy import MetaData, orm
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agentifui_config.models import NAMING_CONVENTION, Base, exclude_soft_deleted

__all__ = ["AgentBase", "AgentSession", "agent_sessionmaker"]


class AgentBase(Base, orm.DeclarativeBase):
    """Declarative base of the example's models: the library's ``Base``, with its own metadata.

    Naming ``DeclarativeBase`` again among the bases makes this class a new
    declarative base rather than an abstract model of ``Base``, so its
    ``registry`` (and the ``MetaData`` in it) replaces the library's.
    """

    registry = orm.registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class AgentSession(orm.Session):
    """The example's ``Session`` class: ORM queries through it leave out soft-deleted rows.

    Pass ``.execution_options(include_deleted=True)`` to a query that needs them.
    """


exclude_soft_deleted(AgentSession)


def agent_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return a session factory on *engine* whose sessions are :class:`AgentSession` underneath.

    Args:
        engine: The engine to bind, usually ``ConnectionManager.engine``.

    Returns:
        A factory of ``AsyncSession`` with ``expire_on_commit=False``, like the
        connection manager's own sessions.
    """
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=AgentSession)
