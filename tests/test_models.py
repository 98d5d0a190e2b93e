"""Model helpers on a real PostgreSQL: naming convention, UUIDv7, timestamps, soft delete."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from sqlalchemy import ForeignKey, MetaData, String, UniqueConstraint, inspect, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from agentifui_config.models import (
    NAMING_CONVENTION,
    Base,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDv7PrimaryKeyMixin,
    exclude_soft_deleted,
    uuid7,
)

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig


class ModelBase(Base, DeclarativeBase):
    """A base of these tests' own, so their tables stay out of ``Base.metadata``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Owner(UUIDv7PrimaryKeyMixin, TimestampMixin, ModelBase):
    __tablename__ = "model_owners"
    __table_args__ = (UniqueConstraint("name"),)

    name: Mapped[str] = mapped_column(String(50))


class Pet(UUIDv7PrimaryKeyMixin, SoftDeleteMixin, ModelBase):
    __tablename__ = "model_pets"

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Owner.id))
    name: Mapped[str] = mapped_column(String(50), index=True)


class _FilteredSession(Session):
    """A session class of its own, so the soft-delete filter binds only these tests."""


exclude_soft_deleted(_FilteredSession)


@pytest_asyncio.fixture(scope="module")
async def engine(database_config: DatabaseConfig) -> AsyncIterator[AsyncEngine]:
    """An engine on the run's database with the model tables created, dropped afterwards."""
    engine = create_async_engine(database_config.sqlalchemy_url)
    async with engine.begin() as connection:
        await connection.run_sync(ModelBase.metadata.create_all)
    yield engine
    async with engine.begin() as connection:
        await connection.run_sync(ModelBase.metadata.drop_all)
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that leave soft-deleted rows out of queries."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=_FilteredSession)


class TestUUID7:
    def test_version_and_variant(self) -> None:
        """Identifiers are RFC 9562 version 7 with the RFC variant."""
        value = uuid7()
        assert value.version == 7
        assert value.variant == uuid.RFC_4122

    def test_timestamp_is_now(self) -> None:
        """The first 48 bits are the current Unix time in milliseconds."""
        before = datetime.now(UTC)
        millis = uuid7().int >> 80
        stamped = datetime.fromtimestamp(millis / 1000, UTC)
        assert before - timedelta(milliseconds=2) <= stamped <= datetime.now(UTC)

    def test_increasing_within_a_process(self) -> None:
        """Identifiers made one after another sort in the order they were made."""
        values = [uuid7() for _ in range(5000)]
        assert values == sorted(values)
        assert len(set(values)) == len(values)


class TestNamingConvention:
    def test_own_base_keeps_its_tables_apart(self) -> None:
        """A base declared with its own MetaData holds its tables; the shared Base does not."""
        assert "model_owners" in ModelBase.metadata.tables
        assert "model_owners" not in Base.metadata.tables
        assert ModelBase.metadata.naming_convention == Base.metadata.naming_convention

    @pytest.mark.asyncio
    async def test_constraints_get_stable_names(self, engine: AsyncEngine) -> None:
        """Primary, unique, foreign keys and indexes are named by the convention."""

        def names(connection: object) -> dict[str, object]:
            inspector = inspect(connection)
            return {
                "pk": inspector.get_pk_constraint("model_owners")["name"],
                "uq": [u["name"] for u in inspector.get_unique_constraints("model_owners")],
                "fk": [f["name"] for f in inspector.get_foreign_keys("model_pets")],
                "ix": [i["name"] for i in inspector.get_indexes("model_pets")],
            }

        async with engine.connect() as connection:
            found = await connection.run_sync(names)
        assert found == {
            "pk": "pk_model_owners",
            "uq": ["uq_model_owners_name"],
            "fk": ["fk_model_pets_owner_id_model_owners"],
            "ix": ["ix_model_pets_name"],
        }


class TestTimestamps:
    @pytest.mark.asyncio
    async def test_created_and_updated_come_from_the_database(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Insert stamps both columns from the server; an update moves updated_at only."""
        async with sessions() as session:
            owner = Owner(name="stamped")
            session.add(owner)
            await session.commit()
            created, updated = owner.created_at, owner.updated_at
            assert created.tzinfo is not None
            assert created == updated
            await asyncio.sleep(0.01)
            owner.name = "restamped"
            await session.commit()
        assert owner.created_at == created
        assert owner.updated_at > updated

    @pytest.mark.asyncio
    async def test_primary_key_is_generated_in_python(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """The id exists before the row is flushed, and is a UUIDv7."""
        owner = Owner(name="early-id")
        async with sessions() as session:
            session.add(owner)
            await session.flush()
            assert owner.id.version == 7
            await session.rollback()


class TestSoftDelete:
    @pytest.mark.asyncio
    async def test_deleted_rows_leave_queries_and_come_back(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """A soft-deleted row is filtered out unless asked for, and restore brings it back."""
        async with sessions() as session:
            owner = Owner(name="pet-owner")
            session.add(owner)
            await session.flush()
            pet = Pet(owner_id=owner.id, name="rex")
            session.add(pet)
            await session.commit()

            pet.soft_delete()
            await session.commit()
            assert pet.is_deleted
            assert (await session.scalars(select(Pet).where(Pet.name == "rex"))).all() == []
            with_deleted = (
                select(Pet).where(Pet.name == "rex").execution_options(include_deleted=True)
            )
            assert [p.id for p in (await session.scalars(with_deleted)).all()] == [pet.id]

            pet.restore()
            await session.commit()
            assert pet.deleted_at is None
            assert [p.id for p in (await session.scalars(select(Pet))).all()] == [pet.id]

    def test_filter_is_installed_once(self) -> None:
        """Installing the filter twice for one session class leaves one listener."""
        from sqlalchemy import event

        from agentifui_config import models

        exclude_soft_deleted(_FilteredSession)
        assert event.contains(_FilteredSession, "do_orm_execute", models._leave_out_deleted)
        listeners = list(_FilteredSession().dispatch.do_orm_execute)
        assert listeners.count(models._leave_out_deleted) == 1
