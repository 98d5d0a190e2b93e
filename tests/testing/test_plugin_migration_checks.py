"""Tests for agentifui_config.testing.migration_checks, imported into inner test suites."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from plugin_support import SAMPLE, SAMPLE_MODELS, InnerSuite

from agentifui_config.testing import migration_checks

if TYPE_CHECKING:
    from agentifui_config.testing.postgres import PostgresServer

_CHECKS = """
from agentifui_config.testing.migration_checks import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
"""

_NAMES = (
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
)


@pytest.fixture
def inner(
    pytester: pytest.Pytester, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> InnerSuite:
    """An inner project importing the checks."""
    suite = InnerSuite.on(pytester, monkeypatch, postgres_server)
    suite.files(test_migrations=_CHECKS)
    return suite


class TestMigrationChecks:
    def test_sample_passes_every_check(self, inner: InnerSuite) -> None:
        """The sample migrations and matching models pass the four imported checks."""
        inner.ini(f"agentifui_alembic_config = {SAMPLE}", "agentifui_metadata = models:metadata")
        inner.files(models=SAMPLE_MODELS)
        result = inner.run("-v")
        result.assert_outcomes(passed=4)
        result.stdout.fnmatch_lines_random([f"*::{name} PASSED*" for name in _NAMES])

    def test_checks_leave_the_run_database_alone(self, inner: InnerSuite) -> None:
        """Each check works on a database of its own, so the run's database stays empty."""
        inner.ini(f"agentifui_alembic_config = {SAMPLE}", "agentifui_metadata = models:metadata")
        inner.files(
            models=SAMPLE_MODELS,
            test_zz_after=(
                "import asyncio\nfrom sqlalchemy import text\n"
                "from agentifui_config import ConnectionManager\n\n"
                "def test_empty(database_config):\n"
                "    async def tables():\n"
                "        manager = ConnectionManager()\n"
                "        await manager.initialize(database_config)\n"
                "        async with manager.session() as session:\n"
                "            found = await session.scalar(text(\n"
                "                \"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'\"))\n"
                "        await manager.dispose()\n"
                "        return found\n"
                "    assert asyncio.run(tables()) == 0\n"
            ),
        )
        inner.run().assert_outcomes(passed=5)

    def test_two_heads_fail_the_single_head_check(self, inner: InnerSuite) -> None:
        """Unmerged branches fail test_single_head_revision, naming both heads."""
        inner.ini()
        inner.pytester.makeconftest(
            "import pytest\nfrom migrations_support import branched_config\n\n"
            "@pytest.fixture(scope='session')\n"
            "def agentifui_alembic_config():\n"
            "    return branched_config()\n"
        )
        inner.pytester.syspathinsert(SAMPLE.parent)
        result = inner.run("-k", "single_head")
        result.assert_outcomes(failed=1, deselected=3)
        result.stdout.fnmatch_lines(["*the migrations have 2 heads (y2, z2)*alembic merge heads*"])

    def test_model_drift_is_listed(self, inner: InnerSuite) -> None:
        """A model column the migrations lack fails the model check, listing the difference."""
        inner.ini(f"agentifui_alembic_config = {SAMPLE}", "agentifui_metadata = models:metadata")
        inner.files(
            models=SAMPLE_MODELS.replace(
                'Column("last_name", String(100)),',
                'Column("last_name", String(100)),\n    Column("nickname", String(50)),',
            )
        )
        result = inner.run("-k", "model_definitions")
        result.assert_outcomes(failed=1, deselected=3)
        result.stdout.fnmatch_lines(
            ["*the models and the migrated schema differ*", "*add_column*nickname*"]
        )

    def test_broken_downgrade_is_named(self, inner: InnerSuite) -> None:
        """A revision whose downgrade fails is named with the database's error."""
        versions = inner.pytester.mkdir("migrations") / "versions"
        versions.mkdir()
        (versions.parent / "env.py").write_text((SAMPLE / "env.py").read_text())
        (versions / "a1.py").write_text(
            "import sqlalchemy as sa\nfrom alembic import op\n\n"
            "revision = 'a1'\ndown_revision = None\n\n"
            "def upgrade():\n    op.create_table('t', sa.Column('id', sa.Integer))\n\n"
            "def downgrade():\n    op.drop_table('not_there')\n"
        )
        inner.ini("agentifui_alembic_config = migrations")
        result = inner.run("-k", "up_down")
        result.assert_outcomes(failed=1, deselected=3)
        result.stdout.fnmatch_lines(["*downgrade from revision a1 failed: *not_there*"])

    def test_checks_need_the_migrations(self, inner: InnerSuite) -> None:
        """Without agentifui_alembic_config the checks fail saying how to set it."""
        inner.ini()
        result = inner.run()
        result.assert_outcomes(failed=4)
        result.stdout.fnmatch_lines(["*set agentifui_alembic_config = alembic.ini*"])

    def test_model_check_needs_the_models(self, inner: InnerSuite) -> None:
        """Without agentifui_metadata the model check fails saying how to give it."""
        inner.ini(f"agentifui_alembic_config = {SAMPLE}")
        result = inner.run("-k", "model_definitions")
        result.assert_outcomes(failed=1, deselected=3)
        result.stdout.fnmatch_lines(["*set agentifui_metadata = package.module:Base.metadata*"])

    def test_exports(self) -> None:
        """The module exports exactly the four checks, each a test function."""
        assert tuple(migration_checks.__all__) == _NAMES
        assert all(callable(getattr(migration_checks, name)) for name in _NAMES)
