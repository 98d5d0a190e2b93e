"""The repository on its own, on the rolled-back session: what the API relies on it for."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from ulid import ULID

from examples.config_service.repository import (
    ApplicationRepository,
    ConfigurationRepository,
    NameConflictError,
    NotFoundError,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

pytestmark = pytest.mark.asyncio


class TestApplicationRepository:
    """ApplicationRepository."""

    async def test_conflict_leaves_the_transaction_usable(self, db_session: AsyncSession) -> None:
        """A rename refused for its name rolls back only itself: the transaction goes on."""
        repository = ApplicationRepository(db_session)
        await repository.create(name="checkout")
        payments = await repository.create(name="payments")
        with pytest.raises(NameConflictError, match="'checkout' exists already"):
            await repository.update(payments.id, {"name": "checkout"})
        assert (await repository.get(payments.id)).name == "payments"
        assert (await repository.list(limit=10, offset=0)).total == 2

    async def test_duplicate_create_inserts_nothing(self, db_session: AsyncSession) -> None:
        """A create with a taken name raises and leaves one application of that name."""
        repository = ApplicationRepository(db_session)
        await repository.create(name="checkout")
        with pytest.raises(NameConflictError, match="an application named 'checkout'"):
            await repository.create(name="checkout")
        count = await db_session.execute(text("SELECT count(*) FROM applications"))
        assert count.scalar_one() == 1

    async def test_unknown_field_is_refused(self, db_session: AsyncSession) -> None:
        """Only the name and the description can be changed."""
        repository = ApplicationRepository(db_session)
        created = await repository.create(name="checkout")
        with pytest.raises(ValueError, match="cannot change created_at, id"):
            await repository.update(created.id, {"id": ULID(), "created_at": None})

    async def test_missing_application(self, db_session: AsyncSession) -> None:
        """Reading, updating or deleting an unknown id raises NotFoundError naming it."""
        repository = ApplicationRepository(db_session)
        unknown = ULID()
        for attempt in (
            repository.get(unknown),
            repository.update(unknown, {"description": "x"}),
            repository.delete(unknown),
        ):
            with pytest.raises(NotFoundError, match=f"no application {unknown}"):
                await attempt


class TestConfigurationRepository:
    """ConfigurationRepository."""

    async def test_versions_count_updates(self, db_session: AsyncSession) -> None:
        """Every update that changes something adds one to the version; an empty one does not."""
        application = await ApplicationRepository(db_session).create(name="checkout")
        repository = ConfigurationRepository(db_session)
        created = await repository.create(application.id, name="production", data={"a": 1})
        await repository.update(created.id, {"data": {"a": 2}})
        renamed = await repository.update(created.id, {"name": "prod"})
        unchanged = await repository.update(created.id, {})
        assert (created.version, renamed.version, unchanged.version) == (1, 3, 3)
        assert (unchanged.name, unchanged.data) == ("prod", {"a": 2})

    async def test_create_in_a_missing_application(self, db_session: AsyncSession) -> None:
        """Creating in an unknown application raises NotFoundError, not a database error."""
        unknown = ULID()
        with pytest.raises(NotFoundError, match=f"no application {unknown}"):
            await ConfigurationRepository(db_session).create(unknown, name="x", data={})

    async def test_unknown_field_is_refused(self, db_session: AsyncSession) -> None:
        """Only the name and the document can be changed: the version is the repository's."""
        application = await ApplicationRepository(db_session).create(name="checkout")
        repository = ConfigurationRepository(db_session)
        created = await repository.create(application.id, name="production", data={})
        with pytest.raises(ValueError, match="cannot change version"):
            await repository.update(created.id, {"version": 10})
