"""The migrated schema itself, read from PostgreSQL's catalogs: index, keys, id storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text
from ulid import ULID

from examples.config_service.repository import ApplicationRepository
from examples.config_service.schema import applications

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

pytestmark = pytest.mark.asyncio


async def test_gin_index_on_the_documents(db_session: AsyncSession) -> None:
    """The migrations create a GIN index, jsonb_path_ops, on configurations.data."""
    query = text(
        "SELECT indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() AND tablename = :table AND indexname = :index"
    )
    found = await db_session.execute(
        query, {"table": "configurations", "index": "ix_configurations_data"}
    )
    definition = found.scalar_one()
    assert "USING gin (data jsonb_path_ops)" in definition


async def test_containment_filter_can_use_the_index(db_session: AsyncSession) -> None:
    """With sequential scans off, the planner answers ``data @> ...`` from the GIN index."""
    await db_session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = await db_session.execute(
        text("EXPLAIN SELECT id FROM configurations WHERE data @> CAST(:doc AS jsonb)"),
        {"doc": '{"region": "eu-west-1"}'},
    )
    assert "ix_configurations_data" in "\n".join(plan.scalars())


async def test_foreign_key_cascades_on_delete(db_session: AsyncSession) -> None:
    """The key from configurations to applications is ON DELETE CASCADE, in the database."""
    query = text(
        "SELECT confdeltype::text FROM pg_constraint "
        "WHERE conname = 'fk_configurations_application_id_applications'"
    )
    assert (await db_session.execute(query)).scalar_one() == "c"


async def test_names_are_unique_per_application(db_session: AsyncSession) -> None:
    """A unique constraint covers (application_id, name), in that order."""
    query = text(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conname = 'uq_configurations_application_id_name'"
    )
    assert (await db_session.execute(query)).scalar_one() == "UNIQUE (application_id, name)"


async def test_ulid_is_stored_as_the_same_uuid(db_session: AsyncSession) -> None:
    """A ULID id is kept in a uuid column holding its 128 bits, and reads back as the ULID."""
    created = await ApplicationRepository(db_session).create(name="checkout")
    stored = await db_session.execute(
        text("SELECT id::text, pg_typeof(id)::text FROM applications WHERE name = 'checkout'")
    )
    as_text, type_name = stored.one()
    assert type_name == "uuid"
    assert as_text == str(created.id.to_uuid())
    read = await db_session.execute(select(applications.c.id))
    assert read.scalar_one() == created.id
    assert isinstance(created.id, ULID)
