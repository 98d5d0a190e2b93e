"""Tests for the host checks behind DB_HOST, DB_MIGRATION_HOST, DB_READ_HOSTS and DB_PORT."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentifui_config import ConfigurationError
from agentifui_config.hosts import (
    checked_host,
    checked_read_hosts,
    is_valid_host,
    refuse_service_link,
)


class TestIsValidHost:
    @pytest.mark.parametrize(
        "host", ["db", "db.internal", "10.0.0.1", "::1", "/cloudsql/p:r:i", "under_score"]
    )
    def test_accepts_names_addresses_and_sockets(self, host: str) -> None:
        """DNS names, IPv4 and IPv6 addresses and absolute socket directories are hosts."""
        assert is_valid_host(host)

    @pytest.mark.parametrize("host", ["bad host", "-db", "999.1.1.1", "x" * 254, "a..b", ""])
    def test_refuses_the_rest(self, host: str) -> None:
        """Spaces, a leading hyphen, a bad IPv4 address, overlong or empty labels are refused."""
        assert not is_valid_host(host)

    @given(st.text())
    def test_never_raises(self, text: str) -> None:
        """Any text gets an answer, never an exception."""
        assert isinstance(is_valid_host(text), bool)


class TestCheckedHost:
    def test_strips_and_unbrackets(self) -> None:
        """Surrounding spaces and an IPv6 address's brackets are removed."""
        assert checked_host(" [::1] ") == "::1"

    def test_list_keeps_each_port(self) -> None:
        """A comma-separated list gives each host with its port."""
        assert checked_host("a:5432, b") == "a:5432,b"

    @given(st.text())
    def test_any_text_is_a_host_or_a_value_error(self, text: str) -> None:
        """Any text is a host or a ValueError (which validation reports), never another error."""
        try:
            host = checked_host(text)
        except ValueError:
            return
        assert isinstance(host, str)

    def test_blank_read_hosts_are_none(self) -> None:
        """A blank DB_READ_HOSTS is no replicas."""
        assert checked_read_hosts("  ") == ()


class TestServiceLink:
    def test_refused_naming_db_port(self) -> None:
        """A Kubernetes service link in DB_PORT is refused with its cause and fix."""
        with pytest.raises(ConfigurationError, match=r"^DB_PORT: 'tcp://10\.0\.0\.11:5432' is a"):
            refuse_service_link(" tcp://10.0.0.11:5432 ")

    def test_a_port_passes(self) -> None:
        """Anything else is passed on unchanged for the field's own validation."""
        assert refuse_service_link("5432") == "5432"
