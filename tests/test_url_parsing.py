"""Tests for ``agentifui_config.url_parsing``: database URLs from text."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import assert_type
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentifui_config.errors import ConfigurationError
from agentifui_config.url_parsing import (
    DEFAULT_DRIVER,
    URL_QUERY_FIELDS,
    DatabaseURLParts,
    parse_database_url,
    parse_host_ports,
)

# Text from every printable character (no surrogates, which no environment holds).
_printable = st.characters(exclude_categories=("Cs", "Cc"))

# Characters that mean something inside a URL, to make URL-shaped junk likely.
_url_junk = st.text(st.one_of(st.sampled_from("@:/?#&=%[]+. 0a9Z"), _printable), max_size=40)


class TestParseDatabaseURL:
    @pytest.mark.parametrize(
        ("scheme", "driver"),
        [
            ("postgres", DEFAULT_DRIVER),
            ("postgresql", DEFAULT_DRIVER),
            ("postgresql+asyncpg", "postgresql+asyncpg"),
            ("postgresql+psycopg", "postgresql+psycopg"),
            ("postgres+psycopg", "postgresql+psycopg"),
        ],
    )
    def test_schemes(self, scheme: str, driver: str) -> None:
        """postgres:// and postgresql:// get the default driver; +driver is kept."""
        assert parse_database_url(f"{scheme}://u:p@db:5433/app") == DatabaseURLParts(
            driver=driver, username="u", password="p", host="db", port=5433, database="app"
        )

    def test_default_driver_is_asyncpg(self) -> None:
        """The default driver is asyncpg, the async driver the library installs."""
        assert DEFAULT_DRIVER == "postgresql+asyncpg"

    def test_only_given_parts_are_present(self) -> None:
        """A URL without user, password, port or database gives only what it has."""
        assert parse_database_url("postgresql://db.internal") == DatabaseURLParts(
            driver=DEFAULT_DRIVER, host="db.internal"
        )

    def test_empty_password_is_kept(self) -> None:
        """`user:@host` gives an empty password, distinct from none."""
        assert parse_database_url("postgresql://u:@h/db")["password"] == ""
        assert "password" not in parse_database_url("postgresql://u@h/db")

    def test_surrounding_whitespace_is_ignored(self) -> None:
        """A trailing newline from a secret file or .env does not change the URL."""
        assert parse_database_url("  postgresql://u@h/db\n")["database"] == "db"

    @pytest.mark.parametrize(
        ("encoded", "decoded"),
        [
            ("p%40ss", "p@ss"),
            ("p%2Fss%3Aword", "p/ss:word"),
            ("100%25", "100%"),
            ("caf%C3%A9", "café"),
            ("a%20b+c", "a b+c"),
            ("%3F%23%26", "?#&"),
        ],
    )
    def test_user_and_password_are_percent_decoded(self, encoded: str, decoded: str) -> None:
        """Percent-encoded user names and passwords are decoded."""
        parts = parse_database_url(f"postgresql://{encoded}:{encoded}@h/db")
        assert (parts["username"], parts["password"]) == (decoded, decoded)

    @pytest.mark.parametrize(
        ("netloc", "host", "port"),
        [
            ("db.example.com:6432", "db.example.com", 6432),
            ("10.0.0.5", "10.0.0.5", None),
            ("[::1]:5432", "::1", 5432),
            ("[2001:db8::7]", "2001:db8::7", None),
            ("my_db-1", "my_db-1", None),
        ],
    )
    def test_hosts(self, netloc: str, host: str, port: int | None) -> None:
        """Host names, IPv4 and bracketed IPv6 addresses are read, with their port."""
        parts = parse_database_url(f"postgresql://u@{netloc}/db")
        assert parts["host"] == host
        assert parts.get("port") == port

    @pytest.mark.parametrize(
        "socket",
        ["/var/run/postgresql", "/cloudsql/project:region:instance", "/tmp/a b"],  # noqa: S108
    )
    def test_unix_socket_directory_from_query(self, socket: str) -> None:
        """?host=/path gives a socket directory, colons (Cloud SQL) included."""
        url = f"postgresql://u:p@/db?host={quote(socket, safe='')}"
        assert parse_database_url(url)["host"] == socket
        raw = f"postgresql://u:p@/db?host={socket}"
        assert parse_database_url(raw)["host"] == socket

    def test_query_options_become_fields(self) -> None:
        """sslmode, application_name and the timeouts become fields; others go to options."""
        parts = parse_database_url(
            "postgresql://u@h/db?sslmode=verify-full&application_name=billing"
            "&connect_timeout=5&statement_timeout=2.5&target_session_attrs=read-write&x=%2F"
        )
        assert parts == DatabaseURLParts(
            driver=DEFAULT_DRIVER,
            username="u",
            host="h",
            database="db",
            ssl_mode="verify-full",
            application_name="billing",
            connect_timeout=5.0,
            statement_timeout=2.5,
            options={"target_session_attrs": "read-write", "x": "/"},
        )

    def test_ssl_is_an_alias_of_sslmode(self) -> None:
        """The asyncpg spelling ?ssl= sets the same field as libpq's ?sslmode=."""
        assert parse_database_url("postgresql://h/db?ssl=require")["ssl_mode"] == "require"

    def test_user_and_password_from_query(self) -> None:
        """?user= and ?password= (libpq style) set the fields, never the options."""
        parts = parse_database_url("postgresql://h/db?user=app&password=hunter2%40x")
        assert (parts["username"], parts["password"]) == ("app", "hunter2@x")
        assert "options" not in parts

    def test_query_field_map_is_documented(self) -> None:
        """Each query option that sets a field names a field the URL parts can hold."""
        assert set(URL_QUERY_FIELDS.values()) <= set(DatabaseURLParts.__annotations__)
        assert {"host", "password", "sslmode"} <= set(URL_QUERY_FIELDS)

    @pytest.mark.parametrize(
        ("url", "key", "field"),
        [
            ("postgresql://u:p@h/db?password=other", "password", "password"),
            ("postgresql://u@h/db?user=other", "user", "username"),
            ("postgresql://u@h/db?host=/tmp", "host", "host"),
            ("postgresql://u@h/db?sslmode=require&ssl=disable", "ssl", "ssl_mode"),
        ],
    )
    def test_a_part_given_twice_is_an_error(self, url: str, key: str, field: str) -> None:
        """A field given both in the URL and as a query option is refused, not guessed."""
        with pytest.raises(
            ConfigurationError,
            match=rf"^DATABASE_URL: query option '{key}' gives the {field} a second time - "
            rf"give the {field} once, either in the URL or as a query option$",
        ):
            parse_database_url(url)

    def test_repeated_query_option_is_an_error(self) -> None:
        """The same query option twice is refused."""
        with pytest.raises(
            ConfigurationError,
            match=r"^DATABASE_URL: query option 'x' is given more than once - "
            r"give each query option once$",
        ):
            parse_database_url("postgresql://h/db?x=1&x=2")

    @pytest.mark.parametrize(
        ("option", "raw"),
        [
            ("connect_timeout", "abc"),
            ("connect_timeout", "0"),
            ("statement_timeout", "-1"),
            ("statement_timeout", "nan"),
            ("connect_timeout", "inf"),
            ("connect_timeout", "1e999"),
        ],
    )
    def test_bad_timeout_is_an_error(self, option: str, raw: str) -> None:
        """A timeout must be a positive, finite number of seconds."""
        with pytest.raises(
            ConfigurationError,
            match=rf"^DATABASE_URL: query option {option} must be a positive number of seconds, "
            rf"got '{raw}' - give {option}=<seconds>, for example {option}=10$",
        ):
            parse_database_url(f"postgresql://h/db?{option}={raw}")

    @pytest.mark.parametrize(
        "url",
        [
            "postgresql://user:p@ss@host/db",
            "postgresql://user:p@ss/word@host/db",
            "postgresql://user:p@ss:word@host:5432/db",
            "postgresql://us@er:pw@host/db",
            "postgresql://user:p?s@x@host/db",
            "postgresql://us@er:p?s@x@host/db",
            "postgresql://user:p@s?x@host/db",
            "postgresql://user:p@s?x@host:5432",
        ],
    )
    def test_unencoded_at_is_an_error_saying_to_percent_encode(self, url: str) -> None:
        """An unencoded '@' in the user name or password is refused with the fix."""
        with pytest.raises(
            ConfigurationError,
            match=r"^DATABASE_URL: the password or user name contains an unencoded '@' - "
            r"percent-encode it as %40 \(and '/' as %2F, ':' as %3A\)$",
        ):
            parse_database_url(url)

    def test_at_in_the_query_is_fine(self) -> None:
        """An '@' in a query option (an application name) is not mistaken for a password."""
        parts = parse_database_url("postgresql://u:p@h/db?application_name=me@laptop")
        assert parts["application_name"] == "me@laptop"
        assert parts["password"] == "p"

    @pytest.mark.parametrize("url", ["mysql://u:p@h/db", "sqlite:///x.db", "postgresqlx://h/db"])
    def test_other_schemes_are_an_error(self, url: str) -> None:
        """A URL for another database is refused, naming the scheme."""
        scheme = url.partition("://")[0]
        with pytest.raises(
            ConfigurationError,
            match=rf"^DATABASE_URL: scheme '{scheme}' is not PostgreSQL - "
            r"start the URL with postgresql:// or postgresql\+asyncpg://$",
        ):
            parse_database_url(url)

    @pytest.mark.parametrize("url", ["", "   ", "\n"])
    def test_empty_is_an_error(self, url: str) -> None:
        """An empty URL is refused with an example of a good one."""
        with pytest.raises(
            ConfigurationError,
            match=r"^DATABASE_URL: is empty - give postgresql://user:password@host:5432/database$",
        ):
            parse_database_url(url)

    @pytest.mark.parametrize(
        "url",
        [
            "not a url with s3cret-pw",
            "postgresql://u:s3cret-pw@h:port/db",
            "postgresql://u:s3cret-pw@h:1.5/db",
            "://u:s3cret-pw@h/db",
        ],
    )
    def test_malformed_url_is_an_error_that_does_not_echo_it(self, url: str) -> None:
        """A malformed URL is refused without repeating it (it may hold a password)."""
        with pytest.raises(
            ConfigurationError,
            match=r"^DATABASE_URL: is not a database URL \(user name and password are not "
            r"shown\) - use postgresql://user:password@host:5432/database; percent-encode "
            r"special characters in the user name and password$",
        ):
            parse_database_url(url)

    @pytest.mark.parametrize("port", ["0", "65536", "99999999999999999999"])
    def test_port_out_of_range_is_an_error(self, port: str) -> None:
        """A port outside 1-65535 is refused."""
        with pytest.raises(
            ConfigurationError,
            match=rf"^DATABASE_URL: port {port} is out of range - use a port from 1 to 65535$",
        ):
            parse_database_url(f"postgresql://u@h:{port}/db")

    def test_names_the_variable_it_is_given(self) -> None:
        """A caller parsing another variable gets errors naming that variable."""
        with pytest.raises(ConfigurationError, match=r"^TEST_DATABASE_URL: is empty"):
            parse_database_url("", variable="TEST_DATABASE_URL")

    @given(_url_junk.map(lambda rest: "postgresql://" + rest) | st.text())
    @settings(max_examples=300)
    def test_any_text_gives_parts_or_a_configuration_error(self, text: str) -> None:
        """Whatever the text, the result is URL parts or a ConfigurationError, nothing else."""
        with contextlib.suppress(ConfigurationError):
            assert parse_database_url(text)["driver"].startswith("postgresql+")

    @given(
        password=st.text(_printable, min_size=6).map(lambda pw: "Zq9" + pw),
        rest=_url_junk.filter(lambda rest: "Zq9" not in rest),
        encode=st.booleans(),
    )
    @settings(max_examples=300)
    def test_errors_never_hold_the_password(self, password: str, rest: str, encode: bool) -> None:
        """Whatever is wrong with a URL, its error never repeats the password it holds."""
        shown = quote(password, safe="") if encode else password
        try:
            parse_database_url(f"postgresql://user:{shown}@{rest}")
        except ConfigurationError as exc:
            message = str(exc)
        else:
            return
        assert "Zq9" not in message
        assert password not in message

    @pytest.mark.parametrize(
        "parse",
        [
            lambda junk: parse_host_ports(f"db:5432,{junk}:x"),
            lambda junk: parse_database_url(f"postgresql://h/db?connect_timeout={junk}"),
        ],
        ids=["host list", "timeout"],
    )
    def test_a_huge_value_is_echoed_cut_short(self, parse: Callable[[str], object]) -> None:
        """A megabyte of junk in a host list or a timeout is shown as its first characters."""
        with pytest.raises(ConfigurationError) as caught:
            parse("x" * 1_000_000)
        assert len(str(caught.value)) < 300

    def test_signature(self) -> None:
        """parse_database_url returns the URL parts."""
        assert_type(parse_database_url("postgresql://h/db"), DatabaseURLParts)
