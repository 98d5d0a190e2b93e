"""Tests for host lists: read replicas (``DB_READ_HOSTS``) and a multi-host ``DB_HOST``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentifui_config import ConfigurationError, DatabaseConfig, load_settings
from agentifui_config.url_parsing import parse_host_ports

_NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
_PORTS = st.none() | st.integers(1, 65535)
_V6 = st.ip_addresses(v=6).map(str)


def _entry(host: str, port: int | None) -> str:
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class TestParseHostPorts:
    @given(st.lists(st.tuples(_NAMES | _V6, _PORTS), min_size=1, max_size=5))
    def test_round_trip(self, pairs: list[tuple[str, int | None]]) -> None:
        """Any list of hosts and optional ports, written host[:port],..., reads back as given."""
        text = ",".join(_entry(host, port) for host, port in pairs)
        assert parse_host_ports(text) == pairs

    @given(_NAMES, st.integers(65536, 10**6) | st.just(0))
    def test_port_out_of_range(self, host: str, port: int) -> None:
        """A port outside 1-65535 is refused, naming the port."""
        with pytest.raises(ConfigurationError, match=f"port {port} is out of range"):
            parse_host_ports(f"{host}:{port}")

    @pytest.mark.parametrize("text", ["db:x", "[::1", "[::1]5432", ":5432"])
    def test_malformed_entry(self, text: str) -> None:
        """An entry that is not host[:port] is named in the error."""
        with pytest.raises(ConfigurationError, match="is not host\\[:port\\]"):
            parse_host_ports(text)

    def test_nothing(self) -> None:
        """An empty list names no host."""
        with pytest.raises(ConfigurationError, match="names no host"):
            parse_host_ports(" , ")


class TestReadHosts:
    def test_targets_share_the_primary_settings(self) -> None:
        """Each replica is the primary's configuration with its own host and port."""
        cfg = DatabaseConfig(
            host="primary", password="s3cret", database="app", read_hosts="r1, r2:5433"
        )
        first, second = cfg.read_targets
        assert (first.host, first.port, second.host, second.port) == ("r1", 5432, "r2", 5433)
        assert first.password.get_secret_value() == "s3cret"
        assert (first.database, first.read_hosts) == ("app", ())

    def test_secrets_masked(self) -> None:
        """No replica's repr or URL shows the shared password."""
        cfg = DatabaseConfig(password="s3cret", read_hosts="r1,[::1]:7")
        shown = [repr(cfg), *(repr(t) for t in cfg.read_targets), *map(str, cfg.read_targets)]
        assert all("s3cret" not in text for text in shown)
        assert repr(cfg.read_targets[1]) == (
            "DatabaseConfig('postgresql+asyncpg://postgres:**********@[::1]:7/postgres')"
        )

    def test_no_replicas(self) -> None:
        """Without replicas, reads have no target of their own."""
        assert DatabaseConfig(read_hosts="").read_targets == ()

    @pytest.mark.usefixtures("clean_env")
    def test_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """DB_READ_HOSTS and DB_READ_MAX_LAG_SECONDS are read like the other DB_* variables."""
        monkeypatch.setenv("DB_READ_HOSTS", "r1,r2:5433")
        monkeypatch.setenv("DB_READ_MAX_LAG_SECONDS", "none")
        database = load_settings().database
        assert database.read_hosts == ("r1", "r2:5433")
        assert database.read_max_lag_seconds is None

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("r1,bad host", "'bad host' is not a host name"),
            ("r1:70000", "port 70000 is out of range"),
        ],
    )
    @pytest.mark.usefixtures("clean_env")
    def test_refused_at_load(
        self, monkeypatch: pytest.MonkeyPatch, value: str, message: str
    ) -> None:
        """A bad replica is reported under DB_READ_HOSTS, like a bad DB_HOST."""
        monkeypatch.setenv("DB_READ_HOSTS", value)
        with pytest.raises(ConfigurationError, match=f"DB_READ_HOSTS: {message}"):
            load_settings()


class TestMultiHostPrimary:
    def test_url_carries_each_host_for_writes(self) -> None:
        """DB_HOST=a,b:5433 gives SQLAlchemy's multi-host URL asking for the read-write host."""
        cfg = DatabaseConfig(host="a,b:5433", port=5440)
        url = cfg.sqlalchemy_url
        assert cfg.hosts == (("a", 5440), ("b", 5433))
        assert url.host is None
        assert url.query["host"] == ("a:5440", "b:5433")
        assert url.query["target_session_attrs"] == "read-write"

    def test_reads_prefer_a_standby(self) -> None:
        """Without DB_READ_HOSTS, a multi-host primary is read preferring a standby."""
        (reads,) = DatabaseConfig(host="a,b").read_targets
        assert reads.sqlalchemy_url.query["target_session_attrs"] == "prefer-standby"

    def test_from_multi_host_url(self) -> None:
        """A multi-host DATABASE_URL keeps every host."""
        cfg = DatabaseConfig.from_url("postgresql://app:pw@/app?host=a:5432&host=b:5433")
        assert cfg.hosts == (("a", 5432), ("b", 5433))

    @pytest.mark.parametrize("host", ["a,::1", "a,/run/postgresql"])
    def test_refuses_what_a_multi_host_url_cannot_carry(self, host: str) -> None:
        """IPv6 addresses and socket directories cannot travel in a multi-host URL."""
        with pytest.raises(ConfigurationError, match="host names and IPv4 addresses only"):
            DatabaseConfig.from_url("postgresql://app@db/app", host=host)
