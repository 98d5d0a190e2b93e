"""Tests for rotating credentials: a password provider called for each new connection."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from migrations_support import connected
from pgbouncer_support import password_checking_pgbouncer, server_password_pgbouncer
from pydantic import SecretStr
from secret_file_support import backdate, rotate
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from agentifui_config import ConfigurationError, ConnectionManager, DatabaseConfig, load_settings
from agentifui_config.credentials import (
    Credentials,
    file_credentials,
    password_file,
    pool_recycle_for,
)
from agentifui_config.engine import create_engine_for
from agentifui_config.settings import variable_names

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


class TestCredentials:
    def test_repr_shows_the_lifetime_not_the_provider(self) -> None:
        """The repr names the lifetime; the provider, which may hold a secret, stays out."""
        assert repr(Credentials(lambda: "s3cret", lifetime=900)) == "Credentials(lifetime=900)"

    @pytest.mark.parametrize("lifetime", [0, -1.0])
    def test_lifetime_must_be_positive(self, lifetime: float) -> None:
        """A lifetime of zero or less is refused with the fix."""
        with pytest.raises(ConfigurationError, match="credentials: lifetime must be a positive"):
            Credentials(lambda: "x", lifetime=lifetime)

    def test_password_file_is_read_again_each_time(self, tmp_path: Path) -> None:
        """A rotated secret file gives the new password on the next call."""
        secret = tmp_path / "password"
        secret.write_text("first\n", encoding="utf-8")
        creds = password_file(backdate(secret))
        assert asyncio.run(creds.password()) == "first"
        secret.write_text("second\n", encoding="utf-8")
        backdate(secret)  # only the size differs now
        assert asyncio.run(creds.password()) == "second"

    def test_sync_provider_runs_off_the_event_loop(self) -> None:
        """A sync provider runs in a worker thread, so it cannot block the loop."""
        threads: list[int] = []

        def provider() -> str:
            threads.append(threading.get_ident())
            return "pw"

        async def call() -> str:
            return await Credentials(provider).password()

        assert asyncio.run(call()) == "pw"
        assert threads
        assert threads != [threading.get_ident()]

    def test_async_provider_is_awaited(self) -> None:
        """An async provider is awaited on the loop."""

        async def provider() -> str:
            return "token"

        assert asyncio.run(Credentials(provider).password()) == "token"


class TestPoolRecycleFor:
    def test_kept_below_the_lifetime_with_a_finding(self, caplog: pytest.LogCaptureFixture) -> None:
        """A recycle longer than the token's lifetime is cut to 80 % of it, with a warning."""
        caplog.set_level(logging.WARNING, "agentifui_config")
        recycle = pool_recycle_for(
            DatabaseConfig(pool_recycle=3600), Credentials(str, lifetime=900)
        )
        assert recycle == 720
        assert caplog.messages == [
            "DB_POOL_RECYCLE: 3600 s is longer than the credentials' lifetime of 900 s; "
            "connections are renewed after 720 s instead - set DB_POOL_RECYCLE to 720 or less "
            "(warning)"
        ]

    def test_short_recycle_is_kept(self, caplog: pytest.LogCaptureFixture) -> None:
        """A recycle already below the lifetime is kept, and nothing is logged."""
        recycle = pool_recycle_for(DatabaseConfig(pool_recycle=300), Credentials(str, lifetime=900))
        assert recycle == 300
        assert not caplog.records

    def test_no_lifetime_keeps_the_recycle(self) -> None:
        """Credentials that do not expire leave the configured recycle alone."""
        assert pool_recycle_for(DatabaseConfig(pool_recycle=3600), Credentials(str)) == 3600

    def test_engine_uses_it(self) -> None:
        """The engine's pool renews connections before the token's lifetime ends."""
        engine = create_engine_for(DatabaseConfig(), credentials=Credentials(str, lifetime=60))
        assert engine.sync_engine.pool._recycle == 48

    def test_engine_without_a_pool_says_nothing(self, caplog: pytest.LogCaptureFixture) -> None:
        """An engine without a pool (a health probe's, a migration's) has nothing to renew.

        The warning is the pool's: a manager that opens such engines as it runs
        would repeat it for each one.
        """
        caplog.set_level(logging.WARNING, "agentifui_config")
        credentials = Credentials(str, lifetime=60)
        create_engine_for(DatabaseConfig(), credentials=credentials, poolclass=NullPool)
        assert not caplog.records

    def test_other_drivers_are_refused(self) -> None:
        """Only asyncpg takes a callable password; another driver is refused with the fix."""
        config = DatabaseConfig().model_copy(update={"driver": "postgresql+psycopg"})
        with pytest.raises(ConfigurationError, match="DB_DRIVER: rotating credentials need"):
            create_engine_for(config, credentials=Credentials(str))


async def _assert_refused(config: DatabaseConfig, password: str) -> None:
    """A login to *config* with *password*, the one before the rotation, is refused."""
    stale = create_engine_for(config.model_copy(update={"password": SecretStr(password)}))
    try:
        with pytest.raises(DBAPIError, match="authentication failed"):
            async with stale.connect():
                pass
    finally:
        await stale.dispose()


def _count_connects(engine: AsyncEngine) -> list[object]:
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda *args: opened.append(args[0]))
    return opened


@pytest.mark.asyncio
class TestRotatingCredentialsOnAServer:
    async def test_provider_is_called_once_per_new_connection(
        self, database_config: DatabaseConfig
    ) -> None:
        """Each new pooled connection calls the provider once; a reused one does not."""
        calls: list[int] = []

        def provider() -> str:
            calls.append(threading.get_ident())
            return database_config.password.get_secret_value()

        manager = ConnectionManager(credentials=Credentials(provider))
        await manager.initialize(database_config.model_copy(update={"password": SecretStr("")}))
        try:
            opened = _count_connects(manager.engine)
            async with manager.session() as first, manager.session() as second:
                await first.execute(text("SELECT 1"))
                await second.execute(text("SELECT 1"))
            async with manager.session() as again:
                await again.execute(text("SELECT 1"))
        finally:
            await manager.dispose()
        # The initialize probe's connection was reused by one session; one more was opened.
        assert len(opened) == 1
        assert len(calls) == 2
        assert threading.get_ident() not in calls

    @pytest.mark.parametrize("given", ["password_file()", "DB_PASSWORD_FILE"])
    async def test_rotated_password_file_reaches_a_password_checking_pooler(
        self, database_config: DatabaseConfig, tmp_path: Path, given: str
    ) -> None:
        """After the secret file and the checked password change, new connections log in.

        Whether the file is given as credentials or only as DB_PASSWORD_FILE. The
        machine's PostgreSQL trusts loopback, so a PgBouncer that checks passwords
        stands in front of it, and its password list is rotated.
        """
        secret = tmp_path / "password"
        with password_checking_pgbouncer(database_config) as pooler:
            # Of other lengths: PgBouncer skips reloading a file of the same size and second.
            first, second = secrets.token_urlsafe(12), secrets.token_urlsafe(24)
            pooler.set_users({"app": first})
            secret.write_text(first + "\n", encoding="utf-8")
            config = pooler.config.model_copy(update={"username": "app", "pool_pre_ping": False})
            if given == "DB_PASSWORD_FILE":
                update = {"password": SecretStr(first), "password_file": str(secret)}
                manager = ConnectionManager()
                await manager.initialize(config.model_copy(update=update))
            else:
                manager = ConnectionManager(credentials=password_file(secret))
                await manager.initialize(config)
            try:
                pooler.set_users({"app": second})
                rotate(secret, second)
                async with manager.engine.connect() as held, manager.engine.connect() as fresh:
                    # The second is opened after the rotation (the first may be the probe's).
                    assert await held.scalar(text("SELECT 1")) == 1
                    assert await fresh.scalar(text("SELECT 1")) == 1
            finally:
                await manager.dispose()
            await _assert_refused(config, first)


@pytest_asyncio.fixture
async def rotating_role(database_config: DatabaseConfig) -> AsyncIterator[DatabaseConfig]:
    """A login role of its own with the password ``first-password``, dropped afterwards."""
    name = f"agentifui_rotating_{secrets.token_hex(4)}"
    async with connected(database_config) as admin:
        await admin.execute(text("SET password_encryption = 'scram-sha-256'"))
        await admin.execute(text(f"CREATE ROLE {name} LOGIN PASSWORD 'first-password'"))
        await admin.commit()
    try:
        yield database_config.model_copy(update={"username": name})
    finally:
        async with connected(database_config) as admin:
            await admin.execute(text(f"DROP ROLE {name}"))
            await admin.commit()


async def _alter_password(admin: DatabaseConfig, role: str, password: str) -> None:
    async with connected(admin) as connection:
        await connection.execute(text("SET password_encryption = 'scram-sha-256'"))
        await connection.execute(text(f"ALTER ROLE {role} PASSWORD '{password}'"))
        await connection.commit()


@pytest.mark.asyncio
async def test_alter_role_while_the_manager_runs(
    database_config: DatabaseConfig, rotating_role: DatabaseConfig
) -> None:
    """ALTER ROLE ... PASSWORD while the manager runs: new connections use the new password.

    The machine's PostgreSQL trusts loopback logins, so a PgBouncer in front of
    it checks each login against the role's password on the server.
    """
    current = {"password": "first-password"}
    with server_password_pgbouncer(database_config) as pooler:
        role = rotating_role.model_copy(
            update={"host": pooler.config.host, "port": pooler.config.port, "pgbouncer": True}
        )
        manager = ConnectionManager(credentials=Credentials(lambda: current["password"]))
        await manager.initialize(role)
        try:
            await _alter_password(database_config, role.username, "second-password")
            current["password"] = "second-password"
            async with manager.engine.connect() as one, manager.engine.connect() as two:
                assert await one.scalar(text("SELECT 1")) == await two.scalar(text("SELECT 1"))
        finally:
            await manager.dispose()
        await _assert_refused(role, "first-password")


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files read with Path.read_text from now on."""
    read: list[Path] = []
    original = Path.read_text

    def spy(self: Path, *args: Any, **kwargs: Any) -> str:
        read.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", spy)
    return read


def _file_credentials(path: Path, password: str = "") -> Credentials:
    config = DatabaseConfig(password=password, password_file=str(path))
    credentials = file_credentials(config)
    assert credentials is not None
    return credentials


class TestPasswordFileRotation:
    def test_db_password_file_is_kept_with_the_password(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """DB_PASSWORD_FILE gives the password read at start and the file read again later."""
        secret = tmp_path / "password"
        secret.write_text("from-the-file\n", encoding="utf-8")
        monkeypatch.setenv("DB_PASSWORD_FILE", str(secret))
        database = load_settings().database
        assert (database.password.get_secret_value(), database.password_file) == (
            "from-the-file",
            str(secret),
        )
        assert "DB_PASSWORD_FILE" in variable_names()
        assert len(variable_names()) == len(set(variable_names()))

    def test_unchanged_file_is_not_read_again(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """While the file's status is unchanged, new connections take the password read before."""
        secret = tmp_path / "password"
        secret.write_text("first\n", encoding="utf-8")
        credentials = _file_credentials(backdate(secret))
        read = _reads(monkeypatch)
        assert [asyncio.run(credentials.password()) for _ in range(3)] == ["first"] * 3
        assert read == [secret]

    def test_changed_file_is_read_again(self, tmp_path: Path) -> None:
        """A file replaced as Kubernetes replaces it (a new inode) gives the new password.

        The new file has the old one's size and modification time: only the inode differs.
        """
        secret = tmp_path / "password"
        secret.write_text("first\n", encoding="utf-8")
        credentials = _file_credentials(backdate(secret))
        assert asyncio.run(credentials.password()) == "first"
        before = secret.stat()
        rotate(secret, "later")
        after = secret.stat()
        assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
        assert after.st_ino != before.st_ino
        assert asyncio.run(credentials.password()) == "later"

    def test_vanished_file_keeps_the_last_password(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A file that vanishes keeps the last password read, with one warning without it."""
        caplog.set_level(logging.WARNING, "agentifui_config")
        secret = tmp_path / "password"
        secret.write_text("Last-Good-pw\n", encoding="utf-8")
        credentials = _file_credentials(secret)
        assert asyncio.run(credentials.password()) == "Last-Good-pw"
        secret.unlink()
        assert asyncio.run(credentials.password()) == "Last-Good-pw"
        assert asyncio.run(credentials.password()) == "Last-Good-pw"
        assert caplog.messages == [
            f"DB_PASSWORD_FILE: cannot read the secret file {str(secret)!r} (No such file or "
            "directory); new connections keep the last password read until it can be read again"
        ]
        secret.write_text("back-again\n", encoding="utf-8")
        backdate(secret)
        assert asyncio.run(credentials.password()) == "back-again"

    def test_starts_from_the_password_read_at_start(self, tmp_path: Path) -> None:
        """A file gone before the first connection leaves the password the settings read."""
        credentials = _file_credentials(tmp_path / "gone", password="read-at-start")
        assert asyncio.run(credentials.password()) == "read-at-start"

    def test_no_password_ever_read_is_refused(self, tmp_path: Path) -> None:
        """Without any password read, an unreadable file is an error naming DB_PASSWORD_FILE."""
        credentials = _file_credentials(tmp_path / "gone")
        with pytest.raises(ConfigurationError, match=r"^DB_PASSWORD_FILE: cannot read the secret"):
            asyncio.run(credentials.password())

    def test_undecodable_file_chains_nothing(self, tmp_path: Path) -> None:
        """The UnicodeDecodeError, whose repr holds the file's bytes, is not chained at all."""
        secret = tmp_path / "password"
        secret.write_bytes(b"s3cr\xffet")
        with pytest.raises(ConfigurationError, match=r"\(UnicodeDecodeError\)") as info:
            asyncio.run(_file_credentials(secret).password())
        assert (info.value.__cause__, info.value.__context__) == (None, None)
        assert "s3cr" not in repr(info.value.findings)

    def test_only_with_asyncpg(self, tmp_path: Path) -> None:
        """A driver without a callable password keeps the password read at start."""
        config = DatabaseConfig(password_file=str(tmp_path / "password"))
        assert file_credentials(config.model_copy(update={"driver": "postgresql+psycopg"})) is None
        assert file_credentials(DatabaseConfig()) is None

    def test_migration_url_password_is_not_the_files(self, tmp_path: Path) -> None:
        """A migration URL with its own password does not log in with DB_PASSWORD_FILE's."""
        config = DatabaseConfig(
            password_file=str(tmp_path / "password"),
            migration_url="postgresql://migrator:own@db-primary/app",
        )
        direct = config.migration_config
        assert direct is not None
        assert direct.password_file is None
        assert file_credentials(direct) is None
