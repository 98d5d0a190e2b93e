"""Tests for ``agentifui-config doctor`` and ``migrate`` against the test run's PostgreSQL.

The database is the ``database_config`` fixture's, reached by the command
through ``DB_*`` variables; the migration directory is made by ``migrate init``
and holds one revision creating ``cli_items``. Each test leaves the database
without that table and without a version table.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
import pytest_asyncio
from cli_support import (
    clean_environ,
    database_environ,
    drop_cli_tables,
    run_cli,
    run_cli_process,
    write_revision,
)
from migrations_support import lock_held
from pydantic import SecretStr

from agentifui_config.cli import ExitCode
from agentifui_config.cli.envfile import env_line

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

SECRET_KEY: Final = "Sk-cli-db-8a1f4c7e2b9d5f3a6c0e8b2d4f7a1c3e"
# Nothing listens on port 1: connections are refused at once.
_UNREACHABLE: Final = {"DB_HOST": "127.0.0.1", "DB_PORT": "1"}


@pytest.fixture(scope="module")
def migrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migration directory written by ``migrate init``, with revision 0001 creating cli_items."""
    cwd = tmp_path_factory.mktemp("cli-migrations")
    result = run_cli("migrate", "init", "migrations", cwd=cwd)
    assert result.code == ExitCode.OK, result.output
    write_revision(cwd / "migrations")
    return cwd / "migrations"


@pytest_asyncio.fixture(loop_scope="session")
async def database(database_config: DatabaseConfig) -> AsyncIterator[DatabaseConfig]:
    """The run's database, cleared of this module's tables after the test."""
    yield database_config
    await drop_cli_tables(database_config)


def _env(config: DatabaseConfig, **extra: str) -> dict[str, str]:
    return database_environ(config, SECRET_KEY=SECRET_KEY, **extra)


class TestMigrate:
    def test_init_writes_a_directory_and_refuses_to_overwrite(self, tmp_path: Path) -> None:
        """Init writes four entries, refuses to overwrite unless --force, refuses bad --metadata."""
        first = run_cli("migrate", "init", "db", cwd=tmp_path)
        again = run_cli("migrate", "init", "db", cwd=tmp_path)
        forced = run_cli("migrate", "init", "db", "--force", cwd=tmp_path)
        bad = run_cli("migrate", "init", "other", "--metadata", "no colon", cwd=tmp_path)
        assert (first.code, again.code, forced.code) == (ExitCode.OK, ExitCode.INVALID, 0)
        assert bad.code == ExitCode.INVALID
        assert bad.stderr.startswith("agentifui-config: error: --metadata: metadata 'no colon'")
        assert {p.name for p in (tmp_path / "db").iterdir()} == {
            "alembic.ini",
            "env.py",
            "script.py.mako",
            "versions",
        }
        assert "next: alembic -c" in first.stderr
        assert again.stderr.startswith("agentifui-config: error: DIRECTORY: ")
        assert "add --force" in again.stderr

    def test_upgrade_goes_to_migration_database_url(
        self, database: DatabaseConfig, migrations: Path
    ) -> None:
        """With DB_HOST unreachable, upgrade migrates at MIGRATION_DATABASE_URL, unshown."""
        password = "Migration-Url-S3cret"
        url = database.model_copy(update={"password": SecretStr(password)}).url
        env = _env(database, MIGRATION_DATABASE_URL=url, **_UNREACHABLE)
        ini = str(migrations / "alembic.ini")
        upgraded = run_cli("migrate", "upgrade", "--alembic-config", ini, env=env, cwd=migrations)
        assert upgraded.code == ExitCode.OK, upgraded.output
        assert password not in upgraded.output
        at_head = run_cli(
            "migrate", "current", "--alembic-config", ini, env=_env(database), cwd=migrations
        )
        assert "0001" in at_head.stdout

    def test_alembic_env_py_goes_to_migration_database_url(
        self, database: DatabaseConfig, migrations: Path
    ) -> None:
        """Alembic's own command runs env.py's run_migrations() at MIGRATION_DATABASE_URL."""
        env = _env(database, MIGRATION_DATABASE_URL=database.url, **_UNREACHABLE)
        alembic = Path(sys.executable).with_name("alembic")
        upgraded = subprocess.run(  # noqa: S603 - the venv's own alembic
            [str(alembic), "-c", "alembic.ini", "upgrade", "head"],
            cwd=migrations,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert upgraded.returncode == 0, upgraded.stderr
        at_head = run_cli("migrate", "current", env=_env(database), cwd=migrations)
        assert "0001" in at_head.stdout

    def test_status_upgrade_current_downgrade(
        self, database: DatabaseConfig, migrations: Path
    ) -> None:
        """Status is 3 while 0001 is pending, upgrade applies it, downgrade base reverts it."""
        env, ini = _env(database), str(migrations / "alembic.ini")
        pending = run_cli("migrate", "status", "--alembic-config", ini, env=env, cwd=migrations)
        upgraded = run_cli(
            "migrate",
            "upgrade",
            "--lock-timeout",
            "30",
            "--alembic-config",
            ini,
            env=env,
            cwd=migrations,
        )
        at_head = run_cli("migrate", "current", "--alembic-config", ini, env=env, cwd=migrations)
        ready = run_cli("migrate", "status", "--alembic-config", ini, env=env, cwd=migrations)
        reverted = run_cli(
            "migrate", "downgrade", "base", "--alembic-config", ini, env=env, cwd=migrations
        )
        at_base = run_cli("migrate", "current", "--alembic-config", ini, env=env, cwd=migrations)
        assert pending.code == ExitCode.NOT_MIGRATED
        assert pending.stdout.startswith("fail: 1 pending (0001)")
        assert (upgraded.code, upgraded.stdout) == (ExitCode.OK, "ok: now at 0001\n")
        assert "Running upgrade  -> 0001" in upgraded.stderr
        assert (at_head.code, at_head.stdout) == (ExitCode.OK, "0001\n")
        assert (ready.code, ready.stdout.splitlines()[0]) == (ExitCode.OK, "ok: up to date at 0001")
        assert (reverted.code, reverted.stdout) == (ExitCode.OK, "ok: now at base (no revision)\n")
        assert at_base.stdout == "(none)\n"

    def test_alembic_says_its_context_once_per_command(
        self, database: DatabaseConfig, migrations: Path
    ) -> None:
        """Upgrade and downgrade print Alembic's two context lines once each, as alembic does."""
        env, ini = _env(database), str(migrations / "alembic.ini")
        upgraded = run_cli("migrate", "upgrade", "--alembic-config", ini, env=env, cwd=migrations)
        reverted = run_cli(
            "migrate", "downgrade", "base", "--alembic-config", ini, env=env, cwd=migrations
        )
        for result, ran in ((upgraded, "Running upgrade"), (reverted, "Running downgrade")):
            assert result.code == ExitCode.OK, result.output
            assert result.stderr.count("Context impl PostgresqlImpl.") == 1, result.stderr
            assert result.stderr.count("Will assume transactional DDL.") == 1, result.stderr
            assert result.stderr.count(ran) == 1

    def test_a_migrate_process_without_secret_key_prints_alembic_once_and_no_key_warning(
        self, database: DatabaseConfig, migrations: Path
    ) -> None:
        """As a process, in development without SECRET_KEY: Alembic's lines once, no key warning."""
        env, ini = database_environ(database), str(migrations / "alembic.ini")
        result = run_cli_process(
            "migrate", "upgrade", "--alembic-config", ini, env=env, cwd=migrations
        )
        assert result.code == ExitCode.OK, result.output
        assert result.stdout == "ok: now at 0001\n"
        assert result.stderr.count("Context impl PostgresqlImpl.") == 1, result.stderr
        assert result.stderr.count("Will assume transactional DDL.") == 1, result.stderr
        assert "SECRET_KEY" not in result.output

    def test_stamp_records_a_revision_and_purges(
        self, database: DatabaseConfig, migrations: Path
    ) -> None:
        """Stamp records 0001 without running it; stamp --purge base empties the version table."""
        env = _env(database)
        stamped = run_cli("migrate", "stamp", "0001", env=env, cwd=migrations)
        purged = run_cli("migrate", "stamp", "--purge", "base", env=env, cwd=migrations)
        assert (stamped.code, stamped.stdout) == (ExitCode.OK, "ok: now at 0001\n")
        assert "Running upgrade" not in stamped.stderr
        assert (purged.code, purged.stdout) == (ExitCode.OK, "ok: now at base (no revision)\n")

    def test_sql_renders_offline_without_a_database(self, migrations: Path) -> None:
        """With --sql, upgrade and downgrade print SQL though no server answers."""
        env = clean_environ(SECRET_KEY=SECRET_KEY, **_UNREACHABLE)
        up = run_cli("migrate", "upgrade", "--sql", env=env, cwd=migrations)
        down = run_cli("migrate", "downgrade", "--sql", "0001:base", env=env, cwd=migrations)
        assert (up.code, down.code) == (ExitCode.OK, ExitCode.OK)
        assert "CREATE TABLE cli_items" in up.stdout
        assert "DROP TABLE cli_items" in down.stdout

    def test_a_directory_reads_its_alembic_ini(self, tmp_path: Path) -> None:
        """--alembic-config DIRECTORY uses the alembic.ini in it, prepend_sys_path included."""
        app, cwd = tmp_path / "app", tmp_path / "elsewhere"
        cwd.mkdir()
        assert run_cli("migrate", "init", str(app / "migrations"), cwd=cwd).code == ExitCode.OK
        # env.py imports the app's models, found only through prepend_sys_path.
        (app / "cli_dir_models.py").write_text(
            "import sqlalchemy\nmetadata = sqlalchemy.MetaData()\n"
        )
        (app / "migrations" / "env.py").write_text(
            "from agentifui_config.migrations import run_migrations\n"
            "from cli_dir_models import metadata\n"
            "run_migrations(metadata)\n"
        )
        ini = app / "migrations" / "alembic.ini"
        ini.write_text(
            ini.read_text().replace("prepend_sys_path = .", "prepend_sys_path = %(here)s/..")
        )
        write_revision(app / "migrations")
        env = clean_environ(SECRET_KEY=SECRET_KEY, **_UNREACHABLE)
        results = [
            run_cli(
                "migrate",
                "upgrade",
                "--sql",
                "base:head",
                "--alembic-config",
                given,
                env=env,
                cwd=cwd,
            )
            for given in (str(ini), str(app / "migrations"), "../app/migrations")
        ]
        assert [r.code for r in results] == [ExitCode.OK] * 3, results[1].stderr
        assert results[0].stdout == results[1].stdout == results[2].stdout
        assert "CREATE TABLE cli_items" in results[1].stdout

    def test_refusals_exit_1(
        self, database: DatabaseConfig, migrations: Path, tmp_path: Path
    ) -> None:
        """No alembic.ini, an unknown revision: one error line each, status 1."""
        env = _env(database)
        no_config = run_cli("migrate", "status", env=env, cwd=tmp_path)
        unknown = run_cli("migrate", "upgrade", "nosuch", env=env, cwd=migrations)
        assert (no_config.code, unknown.code) == (ExitCode.INVALID, ExitCode.INVALID)
        assert no_config.stderr.startswith(
            "agentifui-config: error: --alembic-config: alembic.ini does not exist"
        )
        assert "Can't locate revision identified by 'nosuch'" in unknown.stderr
        assert "Traceback" not in no_config.stderr + unknown.stderr

    def test_unreachable_database_exits_2(self, migrations: Path) -> None:
        """A database that refuses connections gives one line naming it, and status 2."""
        env = clean_environ(SECRET_KEY=SECRET_KEY, **_UNREACHABLE)
        result = run_cli("migrate", "current", env=env, cwd=migrations)
        assert result.code == ExitCode.UNREACHABLE
        assert result.stderr.startswith("agentifui-config: error: cannot connect to 127.0.0.1:1/")
        assert "DB_HOST: " not in result.stderr  # a server that is down is no variable's fault
        assert len(result.stderr.splitlines()) == 1

    def test_missing_database_exits_2_naming_db_database(
        self, database: DatabaseConfig, migrations: Path
    ) -> None:
        """A database the server lacks is refused at once, naming DB_DATABASE, with status 2."""
        env = _env(database, DB_DATABASE="agentifui_no_such_database")
        result = run_cli("migrate", "current", env=env, cwd=migrations)
        assert result.code == ExitCode.UNREACHABLE
        assert result.stderr.startswith("agentifui-config: error: DB_DATABASE: cannot connect to ")
        assert "no database 'agentifui_no_such_database' (not retried" in result.stderr

    def test_unexpected_error_exits_70_and_debug_shows_the_traceback(
        self, database: DatabaseConfig, tmp_path: Path
    ) -> None:
        """A migration that raises gives one line with a hint; --debug prints the traceback."""
        assert run_cli("migrate", "init", ".", cwd=tmp_path).code == ExitCode.OK
        write_revision(tmp_path, extra='raise RuntimeError("the migration broke")')
        env = _env(database)
        plain = run_cli("migrate", "upgrade", env=env, cwd=tmp_path)
        debug = run_cli("migrate", "upgrade", "--debug", env=env, cwd=tmp_path)
        assert plain.code == debug.code == ExitCode.INTERNAL
        assert plain.stderr.splitlines()[-1] == (
            "agentifui-config: error: unexpected RuntimeError: the migration broke "
            "(rerun with --debug for the traceback)"
        )
        assert "Traceback" not in plain.stderr
        assert "Traceback (most recent call last)" in debug.stderr
        assert debug.stderr.splitlines()[-1].endswith(
            "unexpected RuntimeError: the migration broke"
        )


class TestDoctor:
    def test_every_step_ok_when_migrated(self, database: DatabaseConfig, migrations: Path) -> None:
        """After an upgrade, every step is ok and the status is 0."""
        env = _env(database)
        assert run_cli("migrate", "upgrade", env=env, cwd=migrations).code == ExitCode.OK
        result = run_cli("doctor", "--alembic-config", "alembic.ini", env=env, cwd=migrations)
        assert result.code == ExitCode.OK, result.output
        states = [line.split()[:2] for line in result.stdout.splitlines()]
        assert states == [
            ["ok", "configuration"],
            ["ok", "connect"],
            ["ok", "health"],
            ["ok", "migrations"],
        ]
        assert "up to date at 0001" in result.stdout
        assert result.stderr == ""

    def test_pending_migrations_exit_3(self, database: DatabaseConfig, migrations: Path) -> None:
        """With ./alembic.ini found and 0001 not applied, the migrations step fails with 3."""
        result = run_cli("doctor", env=_env(database), cwd=migrations)
        assert result.code == ExitCode.NOT_MIGRATED
        assert result.stdout.splitlines()[-1].startswith("fail  migrations     1 pending (0001)")

    def test_without_alembic_config_migrations_are_skipped(
        self, database: DatabaseConfig, tmp_path: Path
    ) -> None:
        """Without alembic.ini the migrations step is skipped and the status is 0."""
        result = run_cli("doctor", env=_env(database), cwd=tmp_path)
        assert result.code == ExitCode.OK
        assert result.stdout.splitlines()[-1].startswith("skip  migrations")

    def test_configuration_errors_exit_1_before_connecting(self, tmp_path: Path) -> None:
        """Configuration errors are listed under a failed first step; nothing is connected to."""
        env = clean_environ(DB_PORT="abc")
        missing = run_cli("doctor", "--alembic-config", "nope.ini", cwd=tmp_path)
        result = run_cli("doctor", env=env, cwd=tmp_path)
        assert result.code == missing.code == ExitCode.INVALID
        # doctor does not use SECRET_KEY: the key generated for development is no warning of its.
        assert result.stdout.splitlines()[0] == "fail  configuration  1 error"
        assert "DB_PORT: expected a whole number, got 'abc'" in result.stdout
        assert "connect" not in result.stdout
        assert "--alembic-config: nope.ini does not exist" in missing.stdout

    def test_unreachable_database_exits_2(self, tmp_path: Path) -> None:
        """A refused connection fails the connect step, within the timeout, with status 2."""
        env = clean_environ(SECRET_KEY=SECRET_KEY, **_UNREACHABLE)
        result = run_cli("doctor", "--timeout", "3", env=env, cwd=tmp_path)
        assert result.code == ExitCode.UNREACHABLE
        assert result.stdout.splitlines()[-1].startswith("fail  connect        cannot connect")


def _hint(output: str) -> list[str]:
    """The command the output tells the operator to run next, as its words."""
    return shlex.split(output.split("apply them with: ", 1)[1].splitlines()[0])


class TestHints:
    def test_migrate_status_hint_runs_as_printed(
        self, database: DatabaseConfig, migrations: Path
    ) -> None:
        """The pending verdict repeats --alembic-config, so the printed command applies them."""
        env, cwd = _env(database), migrations.parent
        status = ("migrate", "status", "--alembic-config", "migrations/alembic.ini")
        before = run_cli(*status, env=env, cwd=cwd)
        assert before.code == ExitCode.NOT_MIGRATED
        hint = _hint(before.stdout)
        assert hint == [
            "agentifui-config",
            "migrate",
            "upgrade",
            "--alembic-config",
            "migrations/alembic.ini",
        ]
        assert run_cli(*hint[1:], env=env, cwd=cwd).code == ExitCode.OK
        assert run_cli(*status, env=env, cwd=cwd).code == ExitCode.OK

    def test_doctor_hint_repeats_the_env_file_and_alembic_config(
        self, database: DatabaseConfig, migrations: Path, tmp_path: Path
    ) -> None:
        """Doctor's hint reads the same .env file and scripts, quoted for a shell."""
        env_file = tmp_path / "my settings.env"
        settings = {k: v for k, v in _env(database).items() if k.startswith(("DB_", "SECRET_"))}
        env_file.write_text("".join(env_line(k, v) + "\n" for k, v in settings.items()))
        given = ("--env-file", str(env_file), "--alembic-config", str(migrations))
        doctor = run_cli("doctor", *given, env=clean_environ(), cwd=tmp_path)
        assert doctor.code == ExitCode.NOT_MIGRATED, doctor.output
        hint = _hint(doctor.stdout)
        assert hint == ["agentifui-config", "migrate", "upgrade", *given]
        assert run_cli(*hint[1:], env=clean_environ(), cwd=tmp_path).code == ExitCode.OK

    def test_a_failed_connection_names_the_options_on_one_line(self, migrations: Path) -> None:
        """Doctor says --timeout, migrate DB_CONNECT_TIMEOUT; no retry_for=, no Background link."""
        env = clean_environ(SECRET_KEY=SECRET_KEY, DB_CONNECT_TIMEOUT="3", **_UNREACHABLE)
        doctor = run_cli("doctor", "--timeout", "3", env=env, cwd=migrations)
        current = run_cli("migrate", "current", env=env, cwd=migrations)
        assert doctor.code == current.code == ExitCode.UNREACHABLE
        connect, error = doctor.stdout.splitlines()[-1], current.stderr.splitlines()[-1]
        assert connect.startswith("fail  connect        cannot connect")
        assert connect.endswith("allow a slow or starting server longer with --timeout")
        assert error.endswith("allow a slow or starting server longer with DB_CONNECT_TIMEOUT")
        for output in (doctor.output, current.output):
            assert "retry_for" not in output
            assert "Background on this error" not in output

    @pytest.mark.asyncio(loop_scope="session")
    async def test_a_lock_timeout_names_the_option(
        self, database: DatabaseConfig, migrations: Path
    ) -> None:
        """A migration lock held elsewhere: the error says to allow longer with --lock-timeout."""
        async with lock_held(database):
            result = await asyncio.to_thread(
                run_cli,
                "migrate",
                "upgrade",
                "--lock-timeout",
                "0.3",
                env=_env(database),
                cwd=migrations,
            )
        assert result.code == ExitCode.INVALID
        error = result.stderr.splitlines()[-1]
        assert error.startswith("agentifui-config: error: --lock-timeout: the migration lock (held")
        assert "allow longer with --lock-timeout SECONDS" in error
        assert "lock_timeout=" not in result.output
