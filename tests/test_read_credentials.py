"""Tests for read replicas with a login of their own: DB_READ_USERNAME and DB_READ_PASSWORD.

The "replica" is the test run's own server, reached again as a read host: what
is proven is the login the read pool uses, not replication (see test_replicas).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from connection_support import managed
from migrations_support import connected
from pgbouncer_support import password_checking_pgbouncer
from pydantic import SecretStr
from secret_file_support import backdate, rotate
from sqlalchemy import text

from agentifui_config import ConfigurationError, ConnectionManager, DatabaseConfig, load_settings
from agentifui_config.credentials import Credentials, replica_credentials
from agentifui_config.testing.fixtures import hidden_variables


def _shared() -> Credentials:
    """The primary's credentials, which a replica with a password of its own must not use."""
    return Credentials(lambda: "primary-token")


class TestReadTargets:
    def test_own_login_on_every_read_target(self) -> None:
        """Each read host logs in with DB_READ_USERNAME/_PASSWORD; the primary keeps its own."""
        cfg = DatabaseConfig(
            username="app",
            password="primary-pw",
            read_hosts="r1,r2:5433",
            read_username="reader",
            read_password="read-pw",
        )
        logins = [(t.username, t.password.get_secret_value()) for t in cfg.read_targets]
        assert logins == [("reader", "read-pw"), ("reader", "read-pw")]
        assert (cfg.username, cfg.password.get_secret_value()) == ("app", "primary-pw")

    def test_read_password_alone_keeps_the_user(self) -> None:
        """A read password without a read user logs in as DB_USERNAME with the read password."""
        cfg = DatabaseConfig(username="app", password="p", read_hosts="r1", read_password="r")
        (target,) = cfg.read_targets
        assert (target.username, target.password.get_secret_value()) == ("app", "r")

    def test_without_read_login_the_primary_one_is_shared(self) -> None:
        """Without DB_READ_PASSWORD the replicas share the primary's user, password and file."""
        cfg = DatabaseConfig(username="app", password="p", read_hosts="r1", password_file="/pw")
        (target,) = cfg.read_targets
        assert (target.username, target.password.get_secret_value()) == ("app", "p")
        assert target.password_file == "/pw"
        shared = _shared()
        assert replica_credentials(cfg, shared) is shared

    def test_own_login_on_a_multi_host_primary_reads(self) -> None:
        """The prefer-standby read target of a multi-host primary logs in with the read login."""
        cfg = DatabaseConfig(host="a,b", read_username="reader", read_password="r")
        (target,) = cfg.read_targets
        assert (target.username, target.password.get_secret_value()) == ("reader", "r")

    def test_primary_password_file_is_not_read_for_replicas(self) -> None:
        """A read password replaces DB_PASSWORD_FILE on the replicas too, and the provider."""
        cfg = DatabaseConfig(password_file="/primary", read_hosts="r1", read_password="r")
        (target,) = cfg.read_targets
        assert target.password_file is None
        assert replica_credentials(cfg, _shared()) is None

    def test_read_password_file_is_read_again_once_it_changes(self, tmp_path: Path) -> None:
        """DB_READ_PASSWORD_FILE gives credentials reading the rotated file, not the shared ones."""
        secret = tmp_path / "read-password"
        secret.write_text("first\n", encoding="utf-8")
        backdate(secret)
        cfg = DatabaseConfig(read_hosts="r1", read_password="first", read_password_file=str(secret))
        credentials = replica_credentials(cfg, _shared())
        assert credentials is not None
        assert asyncio.run(credentials.password()) == "first"
        secret.write_text("second-password\n", encoding="utf-8")
        backdate(secret)  # only the size differs now
        assert asyncio.run(credentials.password()) == "second-password"

    def test_unreadable_read_password_file_names_its_variable(self, tmp_path: Path) -> None:
        """A read password file that cannot be read, with none read before, names its variable."""
        cfg = DatabaseConfig(read_hosts="r1", read_password_file=str(tmp_path / "nowhere"))
        credentials = replica_credentials(cfg, None)
        assert credentials is not None
        with pytest.raises(ConfigurationError, match=r"^DB_READ_PASSWORD_FILE: cannot read"):
            asyncio.run(credentials.password())


class TestSettings:
    @pytest.fixture(autouse=True)
    def _clean(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Only the variables a test sets."""
        for name in hidden_variables():
            monkeypatch.delenv(name, raising=False)

    def test_read_username_without_password_is_a_finding(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """DB_READ_USERNAME alone is refused, naming both variables and the fix."""
        monkeypatch.setenv("DB_READ_HOSTS", "r1")
        monkeypatch.setenv("DB_READ_USERNAME", "reader")
        with pytest.raises(ConfigurationError) as info:
            load_settings()
        (finding,) = [f for f in info.value.findings if f.variable == "DB_READ_USERNAME"]
        assert "is set without DB_READ_PASSWORD" in finding.message
        assert "set DB_READ_PASSWORD (or DB_READ_PASSWORD_FILE)" in finding.remedy
        assert "unset DB_READ_USERNAME" in finding.remedy

    def test_read_password_file_gives_the_password_and_the_file(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """DB_READ_PASSWORD_FILE gives the password read at start and the file kept for rotation."""
        secret = tmp_path / "read-password"
        secret.write_text("from-the-file\n", encoding="utf-8")
        monkeypatch.setenv("DB_READ_HOSTS", "r1")
        monkeypatch.setenv("DB_READ_USERNAME", "reader")
        monkeypatch.setenv("DB_READ_PASSWORD_FILE", str(secret))
        database = load_settings().database
        assert database.read_password is not None
        assert database.read_password.get_secret_value() == "from-the-file"
        assert database.read_password_file == str(secret)

    def test_read_password_is_masked(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The read password never shows in the repr or the JSON dump; revealed only when asked."""
        monkeypatch.setenv("DB_READ_HOSTS", "r1")
        monkeypatch.setenv("DB_READ_PASSWORD", "read-s3cret")
        database = load_settings().database
        shown = [
            repr(database),
            str(database),
            database.model_dump_json(),
            repr(database.model_dump()),
        ]
        assert not [text for text in shown if "read-s3cret" in text]
        assert '"read_password":"**********"' in database.model_dump_json()
        revealed = database.model_dump(context={"reveal_secrets": True})
        assert revealed["read_password"] == "read-s3cret"
        assert DatabaseConfig.model_validate(revealed) == database


@pytest_asyncio.fixture
async def reader(database_config: DatabaseConfig) -> AsyncIterator[str]:
    """A login role of its own, with the password ``read-password``, dropped afterwards."""
    name = f"agentifui_reader_{secrets.token_hex(4)}"
    async with connected(database_config) as admin:
        await admin.execute(text(f"CREATE ROLE {name} LOGIN PASSWORD 'read-password'"))
        await admin.commit()
    try:
        yield name
    finally:
        async with connected(database_config) as admin:
            await admin.execute(text(f"DROP ROLE {name}"))
            await admin.commit()


def _reading_itself(config: DatabaseConfig, **update: object) -> DatabaseConfig:
    """*config* with its own server as the one read replica, and *update*."""
    read_hosts = (f"{config.host}:{config.port}",)
    return config.model_copy(update={"read_hosts": read_hosts, **update})


@pytest.mark.asyncio
async def test_replica_session_logs_in_as_the_read_user(
    database_config: DatabaseConfig, reader: str
) -> None:
    """Read sessions run as DB_READ_USERNAME; the primary's sessions as DB_USERNAME."""
    login = {"read_username": reader, "read_password": SecretStr("read-password")}
    async with managed(_reading_itself(database_config, **login)) as manager:
        async with manager.read_session() as session:
            read_user = (await session.execute(text("SELECT current_user"))).scalar_one()
        async with manager.session() as session:
            user = (await session.execute(text("SELECT current_user"))).scalar_one()
        assert manager.get_metrics()["reads_to_replicas"] == 1
    assert (read_user, user) == (reader, database_config.username)


@pytest.mark.asyncio
async def test_rotated_read_password_file_reaches_a_password_checking_replica(
    database_config: DatabaseConfig, tmp_path: Path
) -> None:
    """A replica that checks passwords takes the read password, then the rotated one.

    The manager's own credentials give the primary's password: were the replicas
    to log in with them, the pooler standing in for the replica would refuse.
    """
    secret = tmp_path / "read-password"
    with password_checking_pgbouncer(database_config) as pooler:
        first, second = secrets.token_urlsafe(12), secrets.token_urlsafe(24)
        pooler.set_users({"reader": first})
        secret.write_text(first + "\n", encoding="utf-8")
        login = {
            "read_username": "reader",
            "read_password": SecretStr(first),
            "read_password_file": str(secret),
            "pgbouncer": True,
            "pool_pre_ping": False,
        }
        config = _reading_itself(database_config, **login).model_copy(
            update={"read_hosts": (f"127.0.0.1:{pooler.config.port}",)}
        )
        primary = database_config.password.get_secret_value()
        manager = ConnectionManager(credentials=Credentials(lambda: primary))
        await manager.initialize(config)
        try:
            async with manager.read_session() as session:
                assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
            pooler.set_users({"reader": second})
            rotate(secret, second)
            async with manager.read_session() as held, manager.read_session() as fresh:
                # Two at once: the second needs a new connection, opened after the rotation.
                assert (await held.execute(text("SELECT 1"))).scalar_one() == 1
                assert (await fresh.execute(text("SELECT 1"))).scalar_one() == 1
            assert manager.get_metrics()["reads_to_primary"] == 0
        finally:
            await manager.dispose()
