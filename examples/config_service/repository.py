"""Every query the service runs, in SQLAlchemy Core, returning plain records.

The repositories take the request's ``AsyncSession`` and never commit: the
transaction belongs to the caller (``TransactionDep`` commits it when the
handler returns). Every value travels as a bound parameter. They raise
:class:`NotFoundError` and :class:`NameConflictError`, which know nothing of
HTTP; the API turns them into 404 and 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from sqlalchemy import RowMapping, Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from ulid import ULID

from examples.config_service.schema import applications, configurations

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.sql import ColumnElement
    from sqlalchemy.sql.dml import ReturningUpdate

__all__ = [
    "Application",
    "ApplicationRepository",
    "Configuration",
    "ConfigurationRepository",
    "NameConflictError",
    "NotFoundError",
    "Page",
]

RecordT = TypeVar("RecordT")

_UNIQUE_VIOLATION: Final = "23505"  # PostgreSQL's SQLSTATE for unique_violation
_APPLICATION_FIELDS: Final = frozenset({"name", "description"})
_CONFIGURATION_FIELDS: Final = frozenset({"name", "data"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Application:
    """An application, as stored."""

    id: ULID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Configuration:
    """A named configuration of an application, as stored; *version* counts its updates from 1."""

    id: ULID
    application_id: ULID
    name: str
    data: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[RecordT]):
    """One page of a listing, with the number of records in the whole listing."""

    items: tuple[RecordT, ...]
    total: int
    limit: int
    offset: int


class NotFoundError(LookupError):
    """The record asked for does not exist; the message names it."""


class NameConflictError(Exception):
    """Another record holds the name already; the message names it."""


class ApplicationRepository:
    """Applications: create, read, list, update, delete.

    Args:
        session: The session whose transaction the queries run in.
    """

    __slots__ = ("_session",)

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, *, name: str, description: str | None = None) -> Application:
        """Insert an application with a new ULID.

        Raises:
            NameConflictError: An application has that name already.
        """
        statement = (
            insert(applications)
            .values(id=ULID(), name=name, description=description)
            # A taken name inserts nothing, rather than failing the transaction.
            .on_conflict_do_nothing(index_elements=[applications.c.name])
            .returning(*applications.c)
        )
        row = (await self._session.execute(statement)).first()
        if row is None:
            raise NameConflictError(f"an application named {name!r} exists already")
        return Application(**row._mapping)

    async def get(self, application_id: ULID) -> Application:
        """Return the application.

        Raises:
            NotFoundError: There is none with that id.
        """
        statement = select(applications).where(applications.c.id == application_id)
        row = (await self._session.execute(statement)).first()
        if row is None:
            raise _no_application(application_id)
        return Application(**row._mapping)

    async def list(self, *, limit: int, offset: int) -> Page[Application]:
        """Return *limit* applications from *offset*, oldest first, and how many there are."""
        rows, total = await _page(self._session, applications, [], limit, offset)
        items = tuple(Application(**row) for row in rows)
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def update(self, application_id: ULID, changes: Mapping[str, object]) -> Application:
        """Change the fields named in *changes* (``name``, ``description``); none is a read.

        Raises:
            NotFoundError: There is none with that id.
            NameConflictError: *changes* renames it to a name another one holds.
            ValueError: *changes* names a field that cannot be changed.
        """
        values = _editable(changes, _APPLICATION_FIELDS)
        if not values:
            return await self.get(application_id)
        statement = (
            update(applications)
            .where(applications.c.id == application_id)
            .values(values)
            .returning(*applications.c)
        )
        conflict = None
        if "name" in values:
            conflict = f"an application named {values['name']!r} exists already"
        row = await _update_row(self._session, statement, conflict)
        if row is None:
            raise _no_application(application_id)
        return Application(**row)

    async def delete(self, application_id: ULID) -> None:
        """Delete the application; the database deletes its configurations with it.

        Raises:
            NotFoundError: There is none with that id.
        """
        statement = (
            delete(applications)
            .where(applications.c.id == application_id)
            .returning(applications.c.id)
        )
        if (await self._session.execute(statement)).first() is None:
            raise _no_application(application_id)


class ConfigurationRepository:
    """Configurations of applications: create, read (by id or by name), list, update, delete.

    Args:
        session: The session whose transaction the queries run in.
    """

    __slots__ = ("_session",)

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self, application_id: ULID, *, name: str, data: Mapping[str, Any]
    ) -> Configuration:
        """Insert a configuration, version 1, into the application.

        Raises:
            NotFoundError: There is no such application.
            NameConflictError: The application has a configuration of that name already.
        """
        # FOR KEY SHARE keeps the application from being deleted until this
        # transaction ends, so the insert cannot meet a vanished parent.
        locked = (
            select(applications.c.id)
            .where(applications.c.id == application_id)
            .with_for_update(key_share=True)
        )
        if (await self._session.execute(locked)).first() is None:
            raise _no_application(application_id)
        statement = (
            insert(configurations)
            .values(id=ULID(), application_id=application_id, name=name, data=dict(data))
            .on_conflict_do_nothing(constraint="uq_configurations_application_id_name")
            .returning(*configurations.c)
        )
        row = (await self._session.execute(statement)).first()
        if row is None:
            raise NameConflictError(
                f"application {application_id} has a configuration named {name!r} already"
            )
        return Configuration(**row._mapping)

    async def get(self, configuration_id: ULID) -> Configuration:
        """Return the configuration.

        Raises:
            NotFoundError: There is none with that id.
        """
        return await self._one(
            configurations.c.id == configuration_id, f"no configuration {configuration_id}"
        )

    async def get_by_name(self, application_id: ULID, name: str) -> Configuration:
        """Return the application's configuration called *name*.

        Raises:
            NotFoundError: The application has none of that name, or does not exist.
        """
        condition = (configurations.c.application_id == application_id) & (
            configurations.c.name == name
        )
        return await self._one(
            condition, f"application {application_id} has no configuration named {name!r}"
        )

    async def list(
        self,
        application_id: ULID,
        *,
        limit: int,
        offset: int,
        contains: Mapping[str, Any] | None = None,
    ) -> Page[Configuration]:
        """Return *limit* of the application's configurations from *offset*, oldest first.

        Args:
            application_id: The application.
            limit: How many to return at most.
            offset: How many to skip.
            contains: Keep only documents containing this one (``data @> contains``,
                which the GIN index on ``data`` answers).

        Raises:
            NotFoundError: There is no such application (an empty page means it has none).
        """
        exists = select(applications.c.id).where(applications.c.id == application_id)
        if (await self._session.execute(exists)).first() is None:
            raise _no_application(application_id)
        conditions = [configurations.c.application_id == application_id]
        if contains is not None:
            conditions.append(configurations.c.data.contains(dict(contains)))
        rows, total = await _page(self._session, configurations, conditions, limit, offset)
        items = tuple(Configuration(**row) for row in rows)
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def update(self, configuration_id: ULID, changes: Mapping[str, object]) -> Configuration:
        """Change the fields named in *changes* (``name``, ``data``), counting a new version.

        ``data`` replaces the whole document. With no changes it is a read.

        Raises:
            NotFoundError: There is none with that id.
            NameConflictError: *changes* renames it to a name its application has already.
            ValueError: *changes* names a field that cannot be changed.
        """
        values: dict[str, object] = _editable(changes, _CONFIGURATION_FIELDS)
        if not values:
            return await self.get(configuration_id)
        values["version"] = configurations.c.version + 1
        statement = (
            update(configurations)
            .where(configurations.c.id == configuration_id)
            .values(values)
            .returning(*configurations.c)
        )
        conflict = None
        if "name" in values:
            conflict = f"its application has a configuration named {values['name']!r} already"
        row = await _update_row(self._session, statement, conflict)
        if row is None:
            raise NotFoundError(f"no configuration {configuration_id}")
        return Configuration(**row)

    async def delete(self, configuration_id: ULID) -> None:
        """Delete the configuration.

        Raises:
            NotFoundError: There is none with that id.
        """
        statement = (
            delete(configurations)
            .where(configurations.c.id == configuration_id)
            .returning(configurations.c.id)
        )
        if (await self._session.execute(statement)).first() is None:
            raise NotFoundError(f"no configuration {configuration_id}")

    async def _one(self, condition: ColumnElement[bool], missing: str) -> Configuration:
        row = (await self._session.execute(select(configurations).where(condition))).first()
        if row is None:
            raise NotFoundError(missing)
        return Configuration(**row._mapping)


async def _page(
    session: AsyncSession,
    table: Table,
    conditions: list[ColumnElement[bool]],
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """Read one page of *table*'s rows matching *conditions*, by id (creation time), and count all.

    The count is a query of its own, so a page past the end still tells the total.
    """
    count = select(func.count()).select_from(table).where(*conditions)
    total = (await session.execute(count)).scalar_one()
    page = select(table).where(*conditions).order_by(table.c.id).limit(limit).offset(offset)
    rows = (await session.execute(page)).mappings().all()
    return list(rows), total


async def _update_row(
    session: AsyncSession, statement: ReturningUpdate[Any], conflict: str | None
) -> RowMapping | None:
    """Run an ``UPDATE ... RETURNING``; ``None`` when it matched no row.

    With a *conflict* message (the update renames), it runs in a savepoint, so
    that a unique violation rolls back only this statement and becomes
    :class:`NameConflictError`, leaving the caller's transaction usable.
    """
    row: RowMapping | None
    if conflict is None:
        row = (await session.execute(statement)).mappings().first()
        return row
    try:
        async with session.begin_nested():
            row = (await session.execute(statement)).mappings().first()
            return row
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != _UNIQUE_VIOLATION:
            raise
        # Not chained: the driver's error repeats the statement's parameters,
        # which may be a configuration document holding secrets.
        raise NameConflictError(conflict) from None


def _editable(changes: Mapping[str, object], allowed: frozenset[str]) -> dict[str, object]:
    """*changes* as column values, after checking that each names an editable field."""
    unknown = changes.keys() - allowed
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    return dict(changes)


def _no_application(application_id: ULID) -> NotFoundError:
    return NotFoundError(f"no application {application_id}")
