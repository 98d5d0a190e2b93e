"""Tests for the session fixtures of agentifui_config.testing.plugin, through inner test suites."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from plugin_support import NOTES_MODELS, SAMPLE, SAMPLE_MODELS, InnerSuite

if TYPE_CHECKING:
    from agentifui_config.testing.postgres import PostgresServer


@pytest.fixture
def inner(
    pytester: pytest.Pytester, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> InnerSuite:
    """An inner project on the outer run's server."""
    return InnerSuite.on(pytester, monkeypatch, postgres_server)


_ROLLED_BACK = """
import pytest
from sqlalchemy import func, select, text

from notes_models import Note


@pytest.mark.asyncio
async def test_commits(db_session):
    db_session.add(Note(text="kept?"))
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 1


@pytest.mark.asyncio
async def test_sees_nothing(db_session):
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0


@pytest.mark.asyncio
async def test_rollback_keeps_the_test_going(db_session):
    db_session.add(Note(text="first"))
    await db_session.commit()
    db_session.add(Note(text="second"))
    await db_session.rollback()
    texts = (await db_session.scalars(select(Note.text))).all()
    assert texts == ["first"]


@pytest.mark.asyncio
async def test_error_is_rolled_back_to_the_commit(db_session):
    db_session.add(Note(text="x" * 10))
    await db_session.commit()
    with pytest.raises(Exception, match="value too long"):
        await db_session.execute(text("INSERT INTO notes (text) VALUES (repeat('y', 300))"))
    await db_session.rollback()
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 1


@pytest.mark.asyncio
async def test_others_see_nothing_either(connection_manager):
    async with connection_manager.session() as session:
        assert await session.scalar(select(func.count()).select_from(Note)) == 0
"""


class TestRolledBackSession:
    def test_commit_does_not_survive_the_test(self, inner: InnerSuite) -> None:
        """A test that commits leaves nothing behind for the next, even on other connections."""
        inner.ini("agentifui_metadata = notes_models:Base.metadata")
        inner.files(notes_models=NOTES_MODELS, test_notes=_ROLLED_BACK)
        result = inner.run()
        result.assert_outcomes(passed=5)

    def test_works_on_a_session_loop(self, inner: InnerSuite) -> None:
        """With both loop scopes set to session the same fixtures work unchanged."""
        inner.ini(
            "agentifui_metadata = notes_models:Base.metadata",
            fixture_loop="session",
            test_loop="session",
        )
        inner.files(notes_models=NOTES_MODELS, test_notes=_ROLLED_BACK)
        inner.run().assert_outcomes(passed=5)


_MIGRATED = """
import pytest
from sqlalchemy import text


@pytest.mark.asyncio
async def test_schema_is_at_head(db_session):
    runs = (await db_session.scalars(text("SELECT revision FROM migration_runs ORDER BY id"))).all()
    assert runs == ["a1", "b2", "c3"]
    await db_session.execute(text("INSERT INTO items (first_name) VALUES ('Ada')"))
    await db_session.commit()


@pytest.mark.asyncio
async def test_insert_is_gone(db_session):
    assert (await db_session.execute(text("SELECT count(*) FROM items"))).scalar_one() == 0


def test_migrated_database_is_the_run_database(migrated_database, database_config):
    assert migrated_database == database_config
"""


class TestMigratedDatabase:
    def test_upgraded_with_the_ini_key(self, inner: InnerSuite) -> None:
        """The ini key names the migrations, upgraded to head once for the run."""
        inner.ini(f"agentifui_alembic_config = {SAMPLE}")
        inner.files(test_migrated=_MIGRATED)
        inner.run().assert_outcomes(passed=3)

    def test_ini_path_is_relative_to_the_ini_file(
        self, inner: InnerSuite, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A relative alembic.ini path is found next to the ini file, wherever pytest runs."""
        inner.ini("agentifui_alembic_config = migrations/alembic.ini")
        ini = inner.pytester.path / "migrations" / "alembic.ini"
        ini.parent.mkdir()
        ini.write_text(f"[alembic]\nscript_location = {SAMPLE}\npath_separator = os\n")
        inner.files(test_migrated=_MIGRATED)
        monkeypatch.chdir(inner.pytester.mkdir("elsewhere"))
        inner.run(str(inner.pytester.path)).assert_outcomes(passed=3)

    def test_overridden_fixtures(self, inner: InnerSuite) -> None:
        """A conftest's agentifui_alembic_config fixture wins over the ini key."""
        inner.ini("agentifui_alembic_config = nowhere.ini")
        inner.pytester.makeconftest(
            "import pytest\n\n"
            "@pytest.fixture(scope='session')\n"
            "def agentifui_alembic_config():\n"
            f"    return {str(SAMPLE)!r}\n"
        )
        inner.files(test_migrated=_MIGRATED)
        inner.run().assert_outcomes(passed=3)

    def test_models_without_migrations(self, inner: InnerSuite) -> None:
        """An app without migrations gets its tables from an overridden agentifui_metadata."""
        inner.ini()
        inner.pytester.makeconftest(
            "import pytest\n\n"
            "@pytest.fixture(scope='session')\n"
            "def agentifui_metadata():\n"
            "    from sample_models import metadata\n"
            "    return metadata\n"
        )
        inner.files(
            sample_models=SAMPLE_MODELS,
            test_tables=(
                "import pytest\nfrom sqlalchemy import text\n\n"
                "@pytest.mark.asyncio\n"
                "async def test_tables(db_session):\n"
                "    found = await db_session.scalars(text(\n"
                "        \"SELECT tablename FROM pg_tables WHERE schemaname = 'public'\"))\n"
                "    assert sorted(found) == ['items', 'migration_runs']\n"
            ),
        )
        inner.run().assert_outcomes(passed=1)

    def test_neither_migrations_nor_models(self, inner: InnerSuite) -> None:
        """Without migrations or models the test fails saying which settings give them."""
        inner.ini()
        inner.files(test_x="def test_x(migrated_database):\n    pass\n")
        result = inner.run()
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(
            ["*migrated_database: agentifui_alembic_config: names neither migrations*"]
        )
        assert "Traceback" not in result.stdout.str()

    @pytest.mark.parametrize(
        ("setting", "said"),
        [
            # A migration refusal, no ConfigurationError, is reported the same way.
            (
                "agentifui_alembic_config = no/such/alembic.ini",
                "*migrated_database: *alembic.ini does not exist*",
            ),
            (
                "agentifui_metadata = os:sep",
                "*agentifui_metadata = os:sep: is a str, not a MetaData*",
            ),
            (
                "agentifui_metadata = no_such_module:Base.metadata",
                "*agentifui_metadata = no_such_module:Base.metadata: cannot import*",
            ),
        ],
    )
    def test_bad_schema_setting(self, inner: InnerSuite, setting: str, said: str) -> None:
        """A schema setting that gives no schema fails the test saying why, without a traceback."""
        inner.ini(setting)
        inner.files(test_x="def test_x(migrated_database):\n    pass\n")
        result = inner.run()
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines([said])
        assert "Traceback" not in result.stdout.str()


class TestConnectionManager:
    def test_initialized_on_the_run_database_and_disposed(self, inner: InnerSuite) -> None:
        """The manager is ready on the run's database during the test and disposed after it."""
        inner.ini()
        inner.files(
            test_manager=(
                "import pytest\n\n"
                "seen = []\n\n"
                "@pytest.mark.asyncio\n"
                "async def test_ready(connection_manager, database_config):\n"
                "    seen.append(connection_manager)\n"
                "    assert connection_manager.is_initialized\n"
                "    assert connection_manager.config == database_config\n"
                "    health = await connection_manager.health_check()\n"
                "    assert health.database_name == database_config.database\n\n"
                "def test_disposed():\n"
                "    assert not seen[0].is_initialized\n"
            )
        )
        inner.run().assert_outcomes(passed=2)
