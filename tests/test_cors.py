"""CORS parsers: origins in the form browsers send them, and HTTP methods."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from settings_support import VALID

from agentifui_config import load_settings
from agentifui_config.cors import HTTP_METHODS, parse_methods, parse_origins
from agentifui_config.errors import ConfigurationError

# What a browser's Origin header holds: '*' here, or a scheme, a host with no
# space in it and a port; nothing after.
_ORIGIN_HEADER = re.compile(r"\*|https?://(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")

# Origin-shaped text: a scheme, then characters that mean something in a URL made likely.
# Plain random text almost never gets past the scheme check.
_URL_CHARACTERS = st.one_of(st.sampled_from("[]:@/?#*%.,09aZ"), st.characters(codec="utf-8"))
_ORIGIN_LIKE = st.builds(
    str.__add__,
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "*", ""]),
    st.text(_URL_CHARACTERS, max_size=30),
)


class TestParseOrigins:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("https://app.example.com/", "https://app.example.com"),
            ("HTTPS://App.Example.com", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://localhost:80", "http://localhost"),
            ("http://localhost:3000", "http://localhost:3000"),
            ("https://app.example.com:8443", "https://app.example.com:8443"),
            ("http://[::1]:5173/", "http://[::1]:5173"),
            ("*", "*"),
        ],
    )
    def test_normalises_to_the_origin_header_form(self, given: str, expected: str) -> None:
        """An origin comes out exactly as a browser's Origin header would carry it."""
        assert parse_origins(given) == [expected]

    @pytest.mark.parametrize(
        "bad",
        [
            "ftp://files.example.com",
            "https://app.example.com/path",
            "https://user:pw@app.example.com",
            "https://app.example.com?x=1",
            "app.example.com",
            "http://[::1",
            "https://app.example.com:99999",
            "https://app.example.com #",
            "HTTPS:// #",
            "HTTP://0 #",
            "https://app .example.com",
            "https://app.example\t.com",
            "https://app.example.com#",
            "https://app.example.com?",
            "https://app<b>.example.com",
            "https://%61pp.example.com",
            "https://bücher.example",
            "http://[fe80::zz]",
        ],
    )
    def test_refuses_what_is_not_an_origin(self, bad: str) -> None:
        """Paths, credentials, queries, other schemes and bad ports are refused by name."""
        with pytest.raises(ConfigurationError, match=r"CORS_ORIGINS: .* is not an origin"):
            parse_origins(bad)

    @pytest.mark.parametrize("wildcard", ["https://*.example.com", "http://*:3000", "https://*"])
    def test_refuses_a_wildcard_in_the_host(self, wildcard: str) -> None:
        """A wildcard host would never match a browser's Origin: refused, saying so."""
        with pytest.raises(
            ConfigurationError, match=r"CORS_ORIGINS: .* has a wildcard in its host, .* - list each"
        ):
            parse_origins(wildcard)

    @pytest.mark.parametrize("given", ["https://app.example.com #", "HTTPS:// #"])
    def test_production_refuses_an_origin_with_a_space_or_no_host(
        self, monkeypatch: pytest.MonkeyPatch, given: str
    ) -> None:
        """A trailing comment or a missing host fails at start, not on every browser request."""
        for name, value in {**VALID, "ENVIRONMENT": "production", "CORS_ORIGINS": given}.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(ConfigurationError, match=r"CORS_ORIGINS: .* is not an origin"):
            load_settings()

    def test_reads_lists_both_ways(self) -> None:
        """Comma-separated values and JSON arrays give the same origins."""
        csv = parse_origins("https://a.example.com, http://localhost:3000")
        assert csv == parse_origins('["https://a.example.com", "http://localhost:3000"]')

    @given(st.text(max_size=40) | _ORIGIN_LIKE)
    @settings(max_examples=300)
    @example("HTTP://0 #")
    @example("HTTPS:// #")
    def test_any_text_gives_origins_or_a_configuration_error(self, text: str) -> None:
        """Arbitrary text never raises anything but ConfigurationError; origins come normalised."""
        try:
            origins = parse_origins(text)
        except ConfigurationError:
            return
        assert all(_ORIGIN_HEADER.fullmatch(o) for o in origins), origins
        assert [parse_origins(o) for o in origins] == [[o] for o in origins]

    def test_origin_like_text_reaches_the_parser(self) -> None:
        """The strategy above does produce origins that are accepted, not only refusals."""
        accepted: list[str] = []

        @given(_ORIGIN_LIKE)
        @settings(max_examples=200, database=None)
        def collect(text: str) -> None:
            with contextlib.suppress(ConfigurationError):
                accepted.extend(o for o in parse_origins(text) if o != "*")

        collect()
        assert accepted


class TestParseMethods:
    def test_upper_cases_known_methods(self) -> None:
        """Methods are accepted in any case and upper-cased."""
        assert parse_methods("get, Post,*") == ["GET", "POST", "*"]

    def test_refuses_an_unknown_method_by_name(self) -> None:
        """An unknown method is named in the error, quoted."""
        with pytest.raises(ConfigurationError, match=r"'FETCH' is not an HTTP method"):
            parse_methods("GET,FETCH")

    def test_every_listed_method_is_accepted(self) -> None:
        """Each method in HTTP_METHODS passes on its own."""
        for method in sorted(HTTP_METHODS):
            assert parse_methods(method.lower()) == [method]
