"""Tests for PostgreSQL provisioning in agentifui_config.testing.postgres, on real servers."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import socket
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import assert_type

import asyncpg
import pytest
from connection_support import asyncpg_connection, database_exists
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from agentifui_config import ConfigurationError, DatabaseConfig, testing
from agentifui_config.testing import _embedded, postgres
from agentifui_config.testing.postgres import (
    DATABASE_PREFIX,
    URL_VARIABLE,
    PostgresServer,
    PostgresUnavailableError,
    create_database,
    drop_database,
    postgres_server,
    start_server,
    temporary_database,
)

_LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_NOWHERE = DatabaseConfig(host="127.0.0.1", port=1)
_NO_SERVER = "pip install 'agentifui-config\\[embedded\\]'"


def _local_server_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return False
    return True


def _without_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_VARIABLE, raising=False)


def _hide_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make both routes to a throwaway server unavailable: no pgserver, no server binaries."""
    monkeypatch.setitem(sys.modules, "pgserver", None)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(_embedded, "_VERSIONED_BINDIRS", str(tmp_path / "*" / "bin"))


def _fake_bindir(directory: Path, initdb: str = "exit 0") -> Path:
    """A directory holding executable initdb and pg_ctl scripts; initdb runs *initdb*."""
    directory.mkdir(parents=True)
    for tool, body in (("initdb", initdb), ("pg_ctl", "exit 0")):
        (directory / tool).write_text(f"#!/bin/sh\n{body}\n")
        (directory / tool).chmod(0o755)
    return directory


@pytest.fixture(params=["pgserver", "binaries"])
def embedded_route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each route to a throwaway server in turn: pgserver, then the machine's binaries."""
    if request.param == "pgserver" and importlib.util.find_spec("pgserver") is None:
        pytest.skip("pgserver (extra embedded) not installed")
    if request.param == "binaries":
        if _embedded.find_bindir() is None:
            pytest.skip("no PostgreSQL server binaries on this machine")
        monkeypatch.setitem(sys.modules, "pgserver", None)
    _without_url(monkeypatch)
    return str(request.param)


class TestRunDatabase:
    @pytest.mark.asyncio
    async def test_is_fresh_and_empty(self, postgres_server: PostgresServer) -> None:
        """A database made for a run exists under a test name and holds no tables."""
        with temporary_database(postgres_server) as config:
            async with asyncpg_connection(config) as connection:
                name = await connection.fetchval("SELECT current_database()")
                tables = await connection.fetchval(
                    "SELECT count(*) FROM pg_tables"
                    " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                )
        assert name == config.database
        assert name.startswith(DATABASE_PREFIX)
        assert tables == 0

    def test_run_database_has_a_test_name(self, database_config: DatabaseConfig) -> None:
        """The run's shared database carries the test prefix, so nothing else is touched."""
        assert database_config.database.startswith(DATABASE_PREFIX)

    @pytest.mark.asyncio
    async def test_accepts_sqlalchemy_connections(self, database_config: DatabaseConfig) -> None:
        """SQLAlchemy's async engine connects with the configuration's URL."""
        engine = create_async_engine(database_config.sqlalchemy_url)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text("SELECT current_database()"))
                assert result.scalar_one() == database_config.database
        finally:
            await engine.dispose()

    def test_is_marked_database(
        self, request: pytest.FixtureRequest, database_config: DatabaseConfig
    ) -> None:
        """A test that requests the database fixtures carries the database marker."""
        assert request.node.get_closest_marker("database") is not None

    def test_differs_from_admin_database(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig
    ) -> None:
        """The run's database is on the session server but is not its admin database."""
        assert database_config.host == postgres_server.admin.host
        assert database_config.port == postgres_server.admin.port
        assert database_config.database != postgres_server.admin.database


class TestCreateDatabase:
    @pytest.mark.asyncio
    async def test_created_database_is_dropped(self, postgres_server: PostgresServer) -> None:
        """A created database exists until drop_database removes it, even inside a running loop."""
        config = create_database(postgres_server)
        assert await database_exists(postgres_server, config.database)
        drop_database(postgres_server, config.database)
        assert not await database_exists(postgres_server, config.database)

    @pytest.mark.asyncio
    async def test_name_is_quoted(self, postgres_server: PostgresServer) -> None:
        """A given name with capitals, spaces and quotes is created exactly as written."""
        name = DATABASE_PREFIX + 'Odd "Name"; x'
        with temporary_database(postgres_server, name) as config:
            assert config.database == name
            assert await database_exists(postgres_server, name)
        assert not await database_exists(postgres_server, name)

    @pytest.mark.asyncio
    async def test_temporary_database_is_dropped_on_error(
        self, postgres_server: PostgresServer
    ) -> None:
        """temporary_database drops its database when the block raises."""
        names = []

        def fail_inside() -> None:
            with temporary_database(postgres_server) as config:
                names.append(config.database)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            fail_inside()
        assert not await database_exists(postgres_server, names[0])

    def test_works_without_running_loop(self, postgres_server: PostgresServer) -> None:
        """The synchronous API runs from plain code with no event loop."""
        with pytest.raises(RuntimeError, match="no running event loop"):
            asyncio.get_running_loop()
        config = create_database(postgres_server)
        drop_database(postgres_server, config.database)
        drop_database(postgres_server, config.database)  # already gone: not an error

    def test_returns_database_config(self, postgres_server: PostgresServer) -> None:
        """create_database returns the admin configuration with the new database name."""
        config = create_database(postgres_server)
        try:
            assert_type(config, DatabaseConfig)
            assert config == postgres_server.admin.model_copy(update={"database": config.database})
        finally:
            drop_database(postgres_server, config.database)

    @pytest.mark.asyncio
    async def test_copies_a_template(self, postgres_server: PostgresServer) -> None:
        """With template=, the new database starts as a copy of that one, rows included."""
        with temporary_database(postgres_server) as source:
            async with asyncpg_connection(source) as connection:
                await connection.execute("CREATE TABLE t (v int); INSERT INTO t VALUES (7)")
            copy = create_database(postgres_server, template=source.database)
            try:
                async with asyncpg_connection(copy) as connection:
                    assert await connection.fetchval("SELECT v FROM t") == 7
            finally:
                drop_database(postgres_server, copy.database)

    def test_refuses_names_without_prefix(self) -> None:
        """Only names with the test prefix are created or dropped, so nothing else is touched."""
        server = PostgresServer(_NOWHERE)
        with pytest.raises(ConfigurationError, match="does not start with 'agentifui_test_'"):
            create_database(server, "app")
        with pytest.raises(ConfigurationError, match="does not start with 'agentifui_test_'"):
            drop_database(server, "postgres")

    def test_refuses_names_postgres_would_truncate(self) -> None:
        """A name longer than 63 bytes is refused instead of silently truncated."""
        with pytest.raises(ConfigurationError, match="not a PostgreSQL identifier"):
            create_database(PostgresServer(_NOWHERE), DATABASE_PREFIX + "x" * 49)


class TestStartServer:
    @pytest.mark.asyncio
    @pytest.mark.database
    @pytest.mark.skipif(not _local_server_reachable(), reason="no server on 127.0.0.1:5432")
    async def test_url_variable_is_honoured(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """AGENTIFUI_TEST_DATABASE_URL names the server databases are created on."""
        monkeypatch.setenv(URL_VARIABLE, _LOCAL_URL)
        with postgres_server() as server:
            assert not server.embedded
            assert server.admin == DatabaseConfig.from_url(_LOCAL_URL)
            with temporary_database(server) as config:
                assert config.port == 5432
                assert await database_exists(server, config.database)
            assert not await database_exists(server, config.database)

    def test_malformed_url_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A URL that is not PostgreSQL's means no server, naming the variable, not the password."""
        monkeypatch.setenv(URL_VARIABLE, "mysql://app:hunter2@db/app")
        with pytest.raises(PostgresUnavailableError, match=f"^{URL_VARIABLE}: scheme") as info:
            start_server()
        assert "hunter2" not in str(info.value)

    def test_invalid_url_part_names_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A URL whose host is invalid is refused under the test variable, not DB_HOST."""
        monkeypatch.setenv(URL_VARIABLE, "postgresql://app:hunter2@bad..host/app")
        with pytest.raises(PostgresUnavailableError, match=f"^{URL_VARIABLE}: ") as info:
            start_server()
        assert "DB_HOST" not in str(info.value)
        assert "hunter2" not in str(info.value)

    def test_unreachable_server_is_reported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A server that does not answer is reported with a masked URL and a remedy."""
        monkeypatch.setenv(URL_VARIABLE, "postgresql://app:hunter2@127.0.0.1:1/postgres")
        with pytest.raises(PostgresUnavailableError, match="cannot be reached") as info:
            start_server()
        assert "app:**********@127.0.0.1:1" in str(info.value)
        assert "hunter2" not in str(info.value)

    def test_neither_server_available(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Without the variable, pgserver or server binaries, the error says what works where."""
        _without_url(monkeypatch)
        _hide_embedded(monkeypatch, tmp_path)
        with pytest.raises(PostgresUnavailableError, match=_NO_SERVER) as info:
            start_server()
        message = str(info.value)
        assert message.startswith(f"{URL_VARIABLE}: is not set, pgserver cannot be imported")
        assert "no PostgreSQL server binaries (initdb, pg_ctl) were found" in message
        assert f"set {URL_VARIABLE}=postgresql://user@host:5432/postgres" in message
        assert "(pgserver, on Python 3.11 and 3.12)" in message
        assert "initdb and pg_ctl (any Python;" in message

    def test_empty_variable_counts_as_unset(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """An empty AGENTIFUI_TEST_DATABASE_URL falls back to the embedded server."""
        monkeypatch.setenv(URL_VARIABLE, " ")
        _hide_embedded(monkeypatch, tmp_path)
        with pytest.raises(PostgresUnavailableError, match="is not set, pgserver"):
            start_server()

    def test_binaries_start_failure_is_reported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Server binaries that fail give their own error text and leave no directory."""
        # Not under tmp_path: run as root, the binaries run as another user, who
        # must be able to reach them and the server's directory.
        base = Path(tempfile.mkdtemp())
        try:
            base.chmod(0o755)
            bindir = _fake_bindir(base / "bin", initdb="echo 'initdb: disk full' >&2; exit 1")
            (base / "tmp").mkdir(mode=0o777)
            _without_url(monkeypatch)
            _hide_embedded(monkeypatch, base)
            monkeypatch.setenv("PATH", str(bindir))
            monkeypatch.setattr(tempfile, "tempdir", str(base / "tmp"))
            with pytest.raises(PostgresUnavailableError, match="failed to start") as info:
                start_server()
            assert f"{bindir}: CalledProcessError" in str(info.value)
            assert "initdb: disk full" in str(info.value)
            assert list((base / "tmp").iterdir()) == []
        finally:
            shutil.rmtree(base)

    def test_embedded_start_failure_is_reported(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A pgserver that fails to start gives a readable error and leaves no directory."""

        def get_server(pgdata: Path, cleanup_mode: str | None) -> None:
            pgdata.mkdir()
            (pgdata / "log").write_text("FATAL:  could not create lock file\n")
            raise subprocess.CalledProcessError(1, ["pg_ctl", "start"])

        fake = types.ModuleType("pgserver")
        fake.get_server = get_server  # type: ignore[attr-defined]
        _without_url(monkeypatch)
        monkeypatch.setitem(sys.modules, "pgserver", fake)
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        with pytest.raises(PostgresUnavailableError, match="failed to start") as info:
            start_server()
        assert "could not create lock file" in str(info.value)
        assert list(tmp_path.iterdir()) == []


class TestFindBindir:
    def test_path_is_searched_without_pg_config(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Without pg_config, the directory of the initdb on PATH is the one."""
        bindir = _fake_bindir(tmp_path / "bin")
        monkeypatch.setattr(_embedded, "_VERSIONED_BINDIRS", str(tmp_path / "none" / "*"))
        monkeypatch.setenv("PATH", str(bindir))
        assert _embedded.find_bindir() == bindir

    def test_newest_versioned_directory_wins(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Off PATH, the newest /usr/lib/postgresql/<major>/bin is taken, by number not text."""
        for major in ("9", "16", "13"):
            _fake_bindir(tmp_path / major / "bin")
        (tmp_path / "17" / "bin").mkdir(parents=True)  # client tools only: no initdb
        monkeypatch.setattr(_embedded, "_VERSIONED_BINDIRS", str(tmp_path / "*" / "bin"))
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        assert _embedded.find_bindir() == tmp_path / "16" / "bin"

    def test_none_without_binaries(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """No pg_config, no initdb on PATH and no versioned directory: nothing is found."""
        _hide_embedded(monkeypatch, tmp_path)
        assert _embedded.find_bindir() is None


@pytest.mark.database
@pytest.mark.usefixtures("embedded_route")
class TestEmbeddedServer:
    @pytest.mark.asyncio
    async def test_starts_stops_and_restarts(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The embedded server listens on TCP and a socket, stops, starts, and is removed."""
        _without_url(monkeypatch)
        with postgres_server() as server:
            assert server.embedded
            assert server.admin.host == "127.0.0.1"
            assert server.socket_dir is not None
            assert server.data_dir is not None
            async with asyncpg_connection(server.admin) as connection:
                assert connection.get_server_version().major >= 13
            async with asyncpg_connection(server.admin, host=str(server.socket_dir)) as connection:
                assert await connection.fetchval("SELECT 1") == 1
            server.stop()
            running = [server.is_running]
            with pytest.raises(OSError, match="Connect call failed"):
                await asyncpg.connect(host="127.0.0.1", port=server.admin.port, timeout=5)
            server.start()
            running.append(server.is_running)
            assert running == [False, True]
            async with asyncpg_connection(server.admin) as connection:
                assert await connection.fetchval("SELECT 1") == 1
            root = server.data_dir.parent
        assert not root.exists()

    @pytest.mark.asyncio
    async def test_recovers_after_immediate_stop(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Committed rows survive a crash-like stop and the server's recovery."""
        _without_url(monkeypatch)
        with postgres_server() as server, temporary_database(server) as config:
            async with asyncpg_connection(config) as connection:
                await connection.execute("CREATE TABLE t (v int); INSERT INTO t VALUES (42)")
            server.stop(mode="immediate")
            server.start()
            async with asyncpg_connection(config) as connection:
                assert await connection.fetchval("SELECT v FROM t") == 42

    def test_closes_while_stopped(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A stopped embedded server is closed without an error and its directory removed."""
        _without_url(monkeypatch)
        server = start_server()
        assert server.data_dir is not None
        root = server.data_dir.parent
        server.stop()
        server.close()
        assert not root.exists()


class TestPostgresServer:
    def test_repr_hides_password(self) -> None:
        """repr() shows where the server is and whether it is embedded, never the password."""
        admin = DatabaseConfig.from_url("postgresql://app:hunter2@db.internal:5432/postgres")
        server = PostgresServer(admin)
        assert repr(server) == (
            "PostgresServer('postgresql+asyncpg://app:**********@db.internal:5432/postgres',"
            " embedded=False)"
        )
        assert "hunter2" not in repr(server.admin_url)
        assert server.admin_url.password == "hunter2"

    def test_session_server_repr_hides_password(self, postgres_server: PostgresServer) -> None:
        """The session server's repr() is its masked URL, whichever server it is."""
        # The test servers trust local connections, so their password is usually empty:
        # pinning the whole repr() is what shows that none could be printed.
        password = postgres_server.admin.password.get_secret_value()
        assert repr(postgres_server) == (
            f"PostgresServer({postgres_server.admin.masked_url!r},"
            f" embedded={postgres_server.embedded})"
        )
        assert not password or password not in repr(postgres_server)

    def test_external_server_is_not_controlled(self) -> None:
        """A server named by URL cannot be stopped or started, and closing it does nothing."""
        server = PostgresServer(_NOWHERE)
        assert not server.embedded
        assert server.is_running
        assert server.data_dir is None
        assert server.socket_dir is None
        with pytest.raises(PostgresUnavailableError, match=r"stop\(\) cannot control it"):
            server.stop()
        with pytest.raises(PostgresUnavailableError, match=r"start\(\) cannot control it"):
            server.start()
        server.close()

    def test_public_signatures(self) -> None:
        """The public functions return the types their annotations promise."""
        server = PostgresServer(_NOWHERE)
        assert_type(server.admin, DatabaseConfig)
        assert_type(server.admin_url, URL)
        assert_type(server.embedded, bool)
        assert isinstance(server.admin_url, URL)


class TestModule:
    def test_exports(self) -> None:
        """The module exports the documented names, each defined, and the package none."""
        assert sorted(postgres.__all__) == [
            "DATABASE_PREFIX",
            "PostgresServer",
            "PostgresUnavailableError",
            "StopMode",
            "URL_VARIABLE",
            "create_database",
            "drop_database",
            "postgres_server",
            "start_server",
            "temporary_database",
        ]
        assert all(hasattr(postgres, name) for name in postgres.__all__)
        assert testing.__all__ == []

    def test_package_import_is_light(self) -> None:
        """Importing agentifui_config.testing loads neither asyncpg nor pgserver."""
        code = (
            "import sys, agentifui_config.testing; "
            "print(sorted({'asyncpg', 'pgserver'} & set(sys.modules)))"
        )
        result = subprocess.run(  # noqa: S603 - this interpreter running a fixed snippet
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == "[]"
