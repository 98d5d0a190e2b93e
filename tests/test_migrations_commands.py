"""Tests for upgrade(), downgrade(), stamp(), current() and the migration lock, on PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_type

import asyncpg
import pytest
import pytest_asyncio
from alembic import command
from alembic.config import Config
from migrations_support import (
    HARD_PASSWORD,
    SAMPLE,
    branched_config,
    connected,
    fetch,
    lock_held,
    role_with_hard_password,
    runs,
)
from migrations_support import sent_statements as _statements
from pgbouncer_support import password_checking_pgbouncer
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentifui_config import ConnectionManager, MigrationState
from agentifui_config.credentials import Credentials
from agentifui_config.migrations import (
    MIGRATION_LOCK_KEY,
    AlembicConfigSource,
    MigrationError,
    MigrationLockTimeoutError,
    current,
    downgrade,
    get_migration_status,
    load_alembic_config,
    stamp,
    upgrade,
)
from agentifui_config.migrations.target import login_credentials

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig


@pytest_asyncio.fixture
async def percent_role(fresh_database: DatabaseConfig) -> AsyncIterator[DatabaseConfig]:
    """*fresh_database* reached as a role of its own whose password holds % and @."""
    async with role_with_hard_password(fresh_database) as config:
        yield config


@pytest.mark.asyncio
class TestUpgrade:
    async def test_from_empty_to_head(self, fresh_database: DatabaseConfig) -> None:
        """An empty database gets every revision, each run once, and is stamped at the head."""
        await upgrade(fresh_database, SAMPLE)
        assert await runs(fresh_database) == ["a1", "b2", "c3"]
        revisions = await current(fresh_database, SAMPLE)
        assert_type(revisions, tuple[str, ...])
        assert revisions == ("c3",)

    async def test_from_the_middle_moves_the_data(self, fresh_database: DatabaseConfig) -> None:
        """Upgrading from the first revision runs the rest, and the data-moving one splits names."""
        await upgrade(fresh_database, SAMPLE, "a1")
        async with connected(fresh_database) as connection:
            await connection.execute(
                text("INSERT INTO items (name) VALUES ('Ada Lovelace'), ('Plato')")
            )
            await connection.commit()
        await upgrade(fresh_database, SAMPLE)
        names = await fetch(fresh_database, "SELECT first_name, last_name FROM items ORDER BY id")
        assert names == [("Ada", "Lovelace"), ("Plato", None)]
        assert await runs(fresh_database) == ["a1", "b2", "c3"]

    async def test_status_then_upgrade_on_one_connection_is_committed(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """An upgrade on a connection a status check left in a transaction is durable."""
        async with connected(fresh_database) as connection:
            status = await get_migration_status(connection, SAMPLE)
            assert status.state is MigrationState.PENDING
            assert connection.in_transaction()
            await upgrade(connection, SAMPLE)
            # Closed without a commit of the caller's: the upgrade must not roll back.
        assert await fetch(fresh_database, "SELECT version_num FROM alembic_version") == [("c3",)]
        assert await runs(fresh_database) == ["a1", "b2", "c3"]

    @pytest.mark.parametrize("form", ["directory", "ini", "config"])
    async def test_accepts_every_form_of_configuration(
        self, fresh_database: DatabaseConfig, tmp_path: Path, form: str
    ) -> None:
        """A migration directory, an alembic.ini path and an alembic Config all work."""
        ini = tmp_path / "alembic.ini"
        ini.write_text(f"[alembic]\nscript_location = {SAMPLE}\n", encoding="utf-8")
        sources: dict[str, AlembicConfigSource] = {
            "directory": SAMPLE,
            "ini": ini,
            "config": Config(ini),
        }
        source = sources[form]
        await upgrade(fresh_database, source)
        assert await current(fresh_database, source) == ("c3",)

    async def test_runs_inside_a_running_event_loop_on_a_manager(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """Awaited in a running loop, as a FastAPI lifespan would, it migrates a manager's."""
        asyncio.get_running_loop()
        manager = ConnectionManager()
        await manager.initialize(fresh_database)
        try:
            await upgrade(manager, SAMPLE)
            assert (await get_migration_status(manager, SAMPLE)).is_ready
            assert manager.connection_count == 0
        finally:
            await manager.dispose()

    async def test_session_settings_of_a_migration_stay_out_of_the_pool(
        self, fresh_database: DatabaseConfig, tmp_path: Path
    ) -> None:
        """A migration's SET for its session never reaches the requests of the manager's pool."""
        shutil.copy(SAMPLE / "env.py", tmp_path / "env.py")
        (tmp_path / "versions").mkdir()
        (tmp_path / "versions" / "s1.py").write_text(
            "from alembic import op\n\n"
            "revision = 's1'\ndown_revision = None\n\n\n"
            "def upgrade() -> None:\n"
            "    op.execute('SET statement_timeout = 0')  # for a long backfill\n"
            "    op.execute('SET application_name = migrating')\n\n\n"
            "def downgrade() -> None:\n    pass\n",
            encoding="utf-8",
        )
        manager = ConnectionManager()
        await manager.initialize(
            fresh_database.model_copy(
                update={"statement_timeout": 5.0, "pool_size": 1, "max_overflow": 0}
            )
        )
        try:
            await upgrade(manager, tmp_path)
            assert await current(manager, tmp_path) == ("s1",)
            async with manager.session() as session:
                shown = await session.execute(
                    text(
                        "SELECT current_setting('statement_timeout'), "
                        "current_setting('application_name')"
                    )
                )
                assert tuple(shown.one()) == ("5s", fresh_database.application_name or "")
        finally:
            await manager.dispose()

    async def test_password_with_percent_and_at_reaches_the_driver_intact(
        self, percent_role: DatabaseConfig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A password holding % and @ meets no ini interpolation and reaches asyncpg unchanged."""
        passwords: list[object] = []
        real_connect = asyncpg.connect

        async def spy(*args: Any, **kwargs: Any) -> Any:
            passwords.append(kwargs.get("password"))
            return await real_connect(*args, **kwargs)

        monkeypatch.setattr(asyncpg, "connect", spy)
        await upgrade(percent_role, SAMPLE)
        assert await current(percent_role, SAMPLE) == ("c3",)
        assert passwords
        assert set(passwords) == {HARD_PASSWORD}
        owner = await fetch(
            percent_role, "SELECT tableowner FROM pg_tables WHERE tablename = 'items'"
        )
        assert owner == [(percent_role.username,)]

    async def test_unknown_revision_is_refused(self, fresh_database: DatabaseConfig) -> None:
        """A revision the scripts do not have raises MigrationError with Alembic's words."""
        with pytest.raises(MigrationError, match="Can't locate revision identified by 'nope'"):
            await upgrade(fresh_database, SAMPLE, "nope")

    async def test_several_heads_are_refused_for_head(self, fresh_database: DatabaseConfig) -> None:
        """Upgrading to 'head' with two unmerged heads raises MigrationError naming the problem."""
        with pytest.raises(MigrationError, match="Multiple head revisions"):
            await upgrade(fresh_database, branched_config())

    async def test_failed_migration_rolls_back_and_releases_the_lock(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A migration that fails leaves no revision stamped and the lock free for the next try."""
        async with connected(fresh_database) as connection:
            await connection.execute(text("CREATE TABLE items (id integer)"))
            await connection.commit()
        with pytest.raises(ProgrammingError, match="already exists"):
            await upgrade(fresh_database, SAMPLE)
        assert await current(fresh_database, SAMPLE) == ()
        lock = await fetch(fresh_database, f"SELECT pg_try_advisory_lock({MIGRATION_LOCK_KEY})")
        assert lock == [(True,)]

    async def test_pgbouncer_mode_takes_a_transaction_scoped_lock(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """With DB_PGBOUNCER and no direct target, an xact lock guards a committed upgrade."""
        config = fresh_database.model_copy(update={"pgbouncer": True})
        with _statements() as sent:
            await upgrade(config, SAMPLE)
        assert await runs(fresh_database) == ["a1", "b2", "c3"]
        assert any("pg_try_advisory_xact_lock" in statement for statement in sent)
        assert not any("pg_try_advisory_lock(" in statement for statement in sent)
        assert not any("pg_advisory_unlock" in statement for statement in sent)

    async def test_pgbouncer_mode_waits_for_a_session_lock(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """The transaction-scoped lock excludes a replica holding the session lock."""
        config = fresh_database.model_copy(update={"pgbouncer": True})
        async with lock_held(fresh_database):
            with pytest.raises(MigrationLockTimeoutError, match="held by server process"):
                await upgrade(config, SAMPLE, lock_timeout=0.3)
        assert await current(fresh_database, SAMPLE) == ()

    async def test_direct_target_is_what_migrates(self, fresh_database: DatabaseConfig) -> None:
        """With DB_MIGRATION_HOST/PORT set, the lock and the migration use them, not DB_HOST."""
        config = fresh_database.model_copy(
            update={
                "host": "192.0.2.1",  # TEST-NET-1: never answers
                "port": 6432,
                "connect_timeout": 0.5,
                "pgbouncer": True,
                "migration_host": fresh_database.host,
                "migration_port": fresh_database.port,
            }
        )
        with _statements() as sent:
            await upgrade(config, SAMPLE)
        assert await runs(fresh_database) == ["a1", "b2", "c3"]
        assert any("pg_try_advisory_lock(" in statement for statement in sent)

    async def test_manager_credentials_log_the_migration_in(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A manager's upgrade and current() log in with its credentials, not DB_PASSWORD.

        The pooler checks passwords (the machine's PostgreSQL trusts loopback), and
        the manager's password is its provider's token only: an empty DB_PASSWORD fails.
        """
        with password_checking_pgbouncer(fresh_database) as pooler:
            pooler.set_users({"app": "token-1"})
            config = pooler.config.model_copy(update={"username": "app"})
            manager = ConnectionManager(credentials=Credentials(lambda: "token-1"))
            await manager.initialize(config)
            try:
                await upgrade(manager, SAMPLE)
                assert await current(manager, SAMPLE) == ("c3",)
            finally:
                await manager.dispose()
        assert await runs(fresh_database) == ["a1", "b2", "c3"]

    @pytest.mark.parametrize(
        ("direct", "shared"),
        [
            ({"migration_port": 5432}, True),
            ({"migration_url": SecretStr("postgresql://postgres@db.internal/app")}, True),
            ({"migration_url": SecretStr("postgresql://migrator@db.internal/app")}, False),
            ({"migration_url": SecretStr("postgresql://postgres:other@db.internal/app")}, False),
        ],
        ids=["migration-port", "url-same-user", "url-other-user", "url-own-password"],
    )
    async def test_direct_target_shares_the_manager_login(
        self, fresh_database: DatabaseConfig, direct: dict[str, Any], shared: bool
    ) -> None:
        """A direct target that logs in as the manager's user gets its credentials; another not."""
        credentials = Credentials(lambda: "token-1")
        manager = ConnectionManager(credentials=credentials)
        await manager.initialize(fresh_database.model_copy(update={"username": "postgres"}))
        try:
            assert manager.config is not None
            target = manager.config.model_copy(update=direct).migration_config
            assert target is not None
            expected = credentials if shared else None
            assert login_credentials(manager, target) is expected
        finally:
            await manager.dispose()

    async def test_migration_url_is_what_migrates(self, fresh_database: DatabaseConfig) -> None:
        """With MIGRATION_DATABASE_URL set, the upgrade runs there as its own role, not DB_*."""
        async with role_with_hard_password(fresh_database) as migrator:
            config = fresh_database.model_copy(
                update={
                    "host": "192.0.2.1",  # TEST-NET-1: never answers
                    "port": 6432,
                    "database": "not_this_one",
                    "connect_timeout": 0.5,
                    "pgbouncer": True,
                    "migration_url": SecretStr(migrator.url),
                }
            )
            await upgrade(config, SAMPLE)
            owners = await fetch(
                fresh_database,
                "SELECT tableowner FROM pg_tables WHERE tablename = 'migration_runs'",
            )
            assert owners == [(migrator.username,)]
            assert await runs(fresh_database) == ["a1", "b2", "c3"]

    async def test_connection_inside_engine_begin_is_refused(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A connection whose transaction belongs to engine.begin() is refused with the fix."""
        engine = create_async_engine(fresh_database.sqlalchemy_url, poolclass=NullPool)
        try:
            with pytest.raises(
                MigrationError, match=r"engine\.connect\(\), not from engine\.begin"
            ):
                async with engine.begin() as connection:
                    await upgrade(connection, SAMPLE)
        finally:
            await engine.dispose()

    async def test_env_that_starts_its_own_loop_is_refused(
        self, fresh_database: DatabaseConfig, tmp_path: Path
    ) -> None:
        """An env.py that calls asyncio.run(), as Alembic's async template does, is refused."""
        (tmp_path / "env.py").write_text(
            "import asyncio\n\n"
            "async def main() -> None:\n    pass\n\n"
            "coroutine = main()\n"
            "try:\n    asyncio.run(coroutine)\nfinally:\n    coroutine.close()\n",
            encoding="utf-8",
        )
        (tmp_path / "versions").mkdir()
        with pytest.raises(MigrationError, match=r"^env\.py started an event loop"):
            await upgrade(fresh_database, tmp_path)

    async def test_other_runtime_errors_of_env_pass_through(
        self, fresh_database: DatabaseConfig, tmp_path: Path
    ) -> None:
        """A RuntimeError of env.py's own is not mistaken for the event-loop trap."""
        (tmp_path / "env.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
        (tmp_path / "versions").mkdir()
        with pytest.raises(RuntimeError, match=r"^boom$"):
            await upgrade(fresh_database, tmp_path)

    async def test_lost_connection_leaves_the_lock_free(
        self, fresh_database: DatabaseConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A migration whose session dies fails, says the lock went with it, and leaves it free."""
        (tmp_path / "env.py").write_text(
            (SAMPLE / "env.py").read_text(encoding="utf-8"), encoding="utf-8"
        )
        (tmp_path / "versions").mkdir()
        (tmp_path / "versions" / "k1.py").write_text(
            "from alembic import op\n\nrevision = 'k1'\ndown_revision = None\n\n\n"
            "def upgrade() -> None:\n"
            "    op.execute('SELECT pg_terminate_backend(pg_backend_pid())')\n",
            encoding="utf-8",
        )
        with pytest.raises(DBAPIError):
            await upgrade(fresh_database, tmp_path)
        assert "the migration connection was lost" in caplog.text
        lock = await fetch(fresh_database, f"SELECT pg_try_advisory_lock({MIGRATION_LOCK_KEY})")
        assert lock == [(True,)]

    async def test_async_connection_handed_to_env_is_refused(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """run_migrations() refuses an AsyncConnection in config.attributes, naming the fix."""
        config = load_alembic_config(SAMPLE)
        async with connected(fresh_database) as connection:
            config.attributes["connection"] = connection
            with pytest.raises(MigrationError, match="holds an AsyncConnection"):
                command.upgrade(config, "head")

    async def test_alembic_api_inside_a_loop_without_connection_is_refused(self) -> None:
        """alembic.command called in a running loop with no connection says to await upgrade()."""
        with pytest.raises(MigrationError, match=r"await agentifui_config\.migrations\.upgrade"):
            command.upgrade(load_alembic_config(SAMPLE), "head")


@pytest.mark.asyncio
class TestOfflineSQL:
    async def test_upgrade_renders_sql_with_literal_values(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """sql=True returns the whole upgrade as SQL, values inlined, and touches no table."""
        sql = await upgrade(fresh_database, SAMPLE, sql=True)
        assert_type(sql, str)
        assert "CREATE TABLE alembic_version" in sql
        assert "CREATE TABLE items" in sql
        assert "INSERT INTO migration_runs (revision) VALUES ('b2')" in sql
        assert "UPDATE alembic_version SET version_num='c3'" in sql
        assert await current(fresh_database, SAMPLE) == ()

    async def test_range_renders_only_the_later_revisions(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A from:to range renders the revisions after 'from' only."""
        sql = await upgrade(fresh_database, SAMPLE, "a1:head", sql=True)
        assert "CREATE TABLE items" not in sql
        assert "CREATE INDEX ix_items_last_name" in sql

    async def test_manager_and_connection_name_the_dialect(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """A manager or a connection serves as the target of offline SQL, and stays unused."""
        manager = ConnectionManager()
        await manager.initialize(fresh_database)
        try:
            async with manager.engine.connect() as connection:
                from_connection = await stamp(connection, SAMPLE, "c3", sql=True)
                assert not connection.in_transaction()
            from_manager = await stamp(manager, SAMPLE, "c3", sql=True)
        finally:
            await manager.dispose()
        assert from_connection == from_manager
        assert "INSERT INTO alembic_version (version_num) VALUES ('c3')" in from_manager

    async def test_downgrade_without_range_is_refused(self, fresh_database: DatabaseConfig) -> None:
        """Offline downgrade needs from:to, and says so."""
        with pytest.raises(MigrationError, match="requires <fromrev>:<torev>"):
            await downgrade(fresh_database, SAMPLE, sql=True)
        sql = await downgrade(fresh_database, SAMPLE, "c3:b2", sql=True)
        assert "DROP INDEX ix_items_last_name" in sql


@pytest.mark.asyncio
class TestDowngradeStampCurrent:
    async def test_downgrade_one_step_at_a_time(self, fresh_database: DatabaseConfig) -> None:
        """downgrade() goes back one revision by default, and the data-moving one joins names."""
        await upgrade(fresh_database, SAMPLE)
        async with connected(fresh_database) as connection:
            await connection.execute(
                text("INSERT INTO items (first_name, last_name) VALUES ('Ada', 'Lovelace')")
            )
            await connection.commit()
        await downgrade(fresh_database, SAMPLE)
        assert await current(fresh_database, SAMPLE) == ("b2",)
        await downgrade(fresh_database, SAMPLE)
        assert await current(fresh_database, SAMPLE) == ("a1",)
        assert await fetch(fresh_database, "SELECT name FROM items") == [("Ada Lovelace",)]
        status = await get_migration_status(fresh_database, SAMPLE)
        assert status.pending_revisions == ("b2", "c3")

    async def test_stamp_records_without_running(self, fresh_database: DatabaseConfig) -> None:
        """stamp() sets the version table and creates no table of the migrations."""
        await stamp(fresh_database, SAMPLE, "b2")
        assert await current(fresh_database, SAMPLE) == ("b2",)
        assert await fetch(fresh_database, "SELECT to_regclass('items') IS NULL") == [(True,)]
        await stamp(fresh_database, SAMPLE, "a1", purge=True)
        assert await current(fresh_database, SAMPLE) == ("a1",)

    async def test_current_of_an_empty_database(self, fresh_database: DatabaseConfig) -> None:
        """An empty database is stamped with nothing, and current() creates no version table."""
        assert await current(fresh_database, SAMPLE) == ()
        assert await fetch(fresh_database, "SELECT to_regclass('alembic_version') IS NULL") == [
            (True,)
        ]


@pytest.mark.asyncio
class TestMigrationLock:
    async def test_times_out_naming_the_holder(self, fresh_database: DatabaseConfig) -> None:
        """With the lock held elsewhere, upgrade() waits lock_timeout, then names the holder."""
        async with lock_held(fresh_database) as holder:
            pid = await holder.scalar(text("SELECT pg_backend_pid()"))
            with pytest.raises(MigrationLockTimeoutError, match=rf"held by server process {pid}\)"):
                await upgrade(fresh_database, SAMPLE, lock_timeout=0.3)
        assert await current(fresh_database, SAMPLE) == ()

    async def test_waiter_migrates_once_the_holder_lets_go(
        self, fresh_database: DatabaseConfig
    ) -> None:
        """An upgrade waits while the lock is held and runs as soon as it is released."""
        async with lock_held(fresh_database) as holder:
            await holder.commit()
            waiting = asyncio.create_task(upgrade(fresh_database, SAMPLE, lock_timeout=30))
            await asyncio.sleep(0.4)
            assert not waiting.done()
            assert await current(fresh_database, SAMPLE) == ()
            await holder.execute(text("SELECT pg_advisory_unlock_all()"))
            await holder.commit()
            await asyncio.wait_for(waiting, 30)
        assert await runs(fresh_database) == ["a1", "b2", "c3"]
        lock = await fetch(fresh_database, f"SELECT pg_try_advisory_lock({MIGRATION_LOCK_KEY})")
        assert lock == [(True,)]

    async def test_another_key_does_not_wait(self, fresh_database: DatabaseConfig) -> None:
        """A lock_key of its own lets an upgrade pass a lock held under the default key."""
        async with lock_held(fresh_database):
            await upgrade(fresh_database, SAMPLE, lock_timeout=0.3, lock_key=42)
        assert await current(fresh_database, SAMPLE) == ("c3",)


@pytest.mark.asyncio
class TestRunMigrationsWithoutConnection:
    async def test_alembic_api_without_a_loop_uses_the_settings(
        self, fresh_database: DatabaseConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Alembic's own API, called where no loop runs, migrates the DB_* database."""
        for name, value in {
            "DB_HOST": fresh_database.host,
            "DB_PORT": str(fresh_database.port),
            "DB_USERNAME": fresh_database.username,
            "DB_PASSWORD": fresh_database.password.get_secret_value(),
            "DB_DATABASE": fresh_database.database,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DATABASE_URL", raising=False)
        ini = tmp_path / "alembic.ini"
        ini.write_text(f"[alembic]\nscript_location = {SAMPLE}\n", encoding="utf-8")

        buffer = io.StringIO()
        offline = Config(ini, output_buffer=buffer)
        await asyncio.to_thread(command.upgrade, offline, "head", sql=True)
        assert "INSERT INTO migration_runs (revision) VALUES ('c3')" in buffer.getvalue()

        await asyncio.to_thread(command.upgrade, Config(ini), "head")
        assert await runs(fresh_database) == ["a1", "b2", "c3"]
        assert await current(fresh_database, ini) == ("c3",)
