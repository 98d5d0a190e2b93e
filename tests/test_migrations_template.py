"""Tests for init_migrations() and the plain alembic command in the directory it writes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from migrations_support import fetch, role_with_hard_password

from agentifui_config.migrations import MigrationError, init_migrations

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

_ALEMBIC = Path(sys.executable).with_name("alembic")
_MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
widgets = sa.Table(
    "widgets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("label", sa.String(40), nullable=False),
)
"""


class TestInitMigrations:
    def test_writes_the_alembic_files(self, tmp_path: Path) -> None:
        """It writes alembic.ini, env.py, script.py.mako and an empty versions/, returns the ini."""
        ini = init_migrations(tmp_path / "migrations")
        directory = tmp_path / "migrations"
        assert ini == directory / "alembic.ini"
        assert sorted(p.name for p in directory.iterdir()) == [
            "alembic.ini",
            "env.py",
            "script.py.mako",
            "versions",
        ]
        assert list((directory / "versions").iterdir()) == []
        env_py = (directory / "env.py").read_text(encoding="utf-8")
        assert "target_metadata = None" in env_py
        assert env_py.rstrip().endswith("run_migrations(target_metadata)")
        compile(env_py, "env.py", "exec")
        assert "sqlalchemy.url" not in ini.read_text(encoding="utf-8").replace(
            "no sqlalchemy.url", ""
        )

    def test_imports_the_metadata_it_is_given(self, tmp_path: Path) -> None:
        """metadata='pkg.models:Base.metadata' becomes an import and the target in env.py."""
        init_migrations(tmp_path, metadata="pkg.models:Base.metadata")
        env_py = (tmp_path / "env.py").read_text(encoding="utf-8")
        assert "from pkg.models import Base\n\ntarget_metadata = Base.metadata\n" in env_py

    def test_malformed_metadata_is_refused(self, tmp_path: Path) -> None:
        """A metadata reference without module:attribute is refused, and nothing is written."""
        with pytest.raises(MigrationError, match=r"metadata 'Base\.metadata' is not of the form"):
            init_migrations(tmp_path / "m", metadata="Base.metadata")
        assert not (tmp_path / "m").exists()

    def test_existing_files_are_kept_unless_overwrite(self, tmp_path: Path) -> None:
        """A second init is refused naming the files, and overwrite=True replaces them."""
        init_migrations(tmp_path)
        (tmp_path / "env.py").write_text("# mine\n", encoding="utf-8")
        with pytest.raises(MigrationError, match=r"already holds alembic\.ini, env\.py"):
            init_migrations(tmp_path)
        assert (tmp_path / "env.py").read_text(encoding="utf-8") == "# mine\n"
        init_migrations(tmp_path, overwrite=True)
        assert "run_migrations" in (tmp_path / "env.py").read_text(encoding="utf-8")


@pytest_asyncio.fixture
async def hard_password_database(fresh_database: DatabaseConfig) -> AsyncIterator[DatabaseConfig]:
    """*fresh_database* reached as a role of its own whose password holds % and @."""
    async with role_with_hard_password(fresh_database) as config:
        yield config


def _variables(config: DatabaseConfig) -> dict[str, str]:
    """The DB_* variables an operator would set for *config*."""
    return {
        "DB_HOST": config.host,
        "DB_PORT": str(config.port),
        "DB_USERNAME": config.username,
        "DB_PASSWORD": config.password.get_secret_value(),
        "DB_DATABASE": config.database,
    }


def _alembic(
    project: Path, variables: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """Run the alembic command in *project* with *variables* and none of the caller's DB_*."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DB_", "DATABASE_URL", "ENVIRONMENT", "AGENTIFUI_"))
    }
    return subprocess.run(  # noqa: S603 - the virtualenv's own alembic, fixed arguments
        [str(_ALEMBIC), "-c", "migrations/alembic.ini", *args],
        cwd=project,
        env={**inherited, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestAlembicSettings:
    def test_bad_settings_stop_the_command_with_the_report(self, tmp_path: Path) -> None:
        """An invalid DB_PORT stops alembic with the library's report naming the variable."""
        init_migrations(tmp_path / "migrations")
        result = _alembic(tmp_path, {"DB_PORT": "54e2", "DB_PASSWORD": "s3cr%t"}, "current")
        assert result.returncode != 0
        assert "DB_PORT: expected a whole number, got '54e2'" in result.stderr
        assert "s3cr%t" not in result.stderr


@pytest.mark.asyncio
class TestAlembicCommand:
    async def test_revision_upgrade_and_sql_from_the_template(
        self, hard_password_database: DatabaseConfig, tmp_path: Path
    ) -> None:
        """In a written project the alembic command autogenerates, upgrades and renders SQL."""
        config = hard_password_database
        variables = _variables(config)
        (tmp_path / "models.py").write_text(_MODELS, encoding="utf-8")
        init_migrations(tmp_path / "migrations", metadata="models:metadata")

        made = _alembic(tmp_path, variables, "revision", "--autogenerate", "-m", "add widgets")
        assert made.returncode == 0, made.stderr
        (revision_file,) = (tmp_path / "migrations" / "versions").glob("*_add_widgets.py")
        source = revision_file.read_text(encoding="utf-8")
        assert "op.create_table('widgets'" in source
        revision = revision_file.name.partition("_")[0]

        upgraded = _alembic(tmp_path, variables, "upgrade", "head")
        assert upgraded.returncode == 0, upgraded.stderr
        assert f"Running upgrade  -> {revision}, add widgets" in upgraded.stderr
        # Alembic's context lines once, as with its stock env.py; migrations use no SECRET_KEY.
        assert upgraded.stderr.count("Context impl PostgresqlImpl.") == 1, upgraded.stderr
        assert upgraded.stderr.count("Will assume transactional DDL.") == 1, upgraded.stderr
        assert "SECRET_KEY" not in upgraded.stderr
        assert await fetch(config, "SELECT version_num FROM alembic_version") == [(revision,)]
        assert await fetch(config, "SELECT count(*) FROM widgets") == [(0,)]

        shown = _alembic(tmp_path, variables, "current")
        assert shown.returncode == 0, shown.stderr
        assert f"{revision} (head)" in shown.stdout

        offline = _alembic(tmp_path, variables, "upgrade", "head", "--sql")
        assert offline.returncode == 0, offline.stderr
        assert "CREATE TABLE widgets" in offline.stdout
        stamped = f"INSERT INTO alembic_version (version_num) VALUES ('{revision}')"  # noqa: S608
        assert stamped in offline.stdout
        assert config.password.get_secret_value() not in offline.stdout + offline.stderr
