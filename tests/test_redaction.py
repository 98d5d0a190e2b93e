"""Tests for ``agentifui_config.redaction``: what ``RedactSecrets`` masks, and what it leaves."""

from __future__ import annotations

import time
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Final, assert_type

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from agentifui_config import DatabaseConfig, EnvironmentSettings, load_settings
from agentifui_config.redaction import SECRET_KEY_PARTS, RedactSecrets, without_background
from agentifui_config.secrecy import mask

# Settings come from arguments only: none of our variables (nor look-alikes) is set.
pytestmark = pytest.mark.usefixtures("clean_env")

MASK: Final = mask("x")
PASSWORD: Final = "Pw-9f3Kq7-zZ1x"
SECRET_KEY: Final = "SK-k7Yx2pQ9vL4mN8rT1wZ5bC3dF6gH0jS2aE4u"


@dataclass
class _Client:
    """An object holding secrets in plain fields, logged whole."""

    api_token: str
    host: str


@pytest.fixture
def redactor() -> RedactSecrets:
    """A redactor that knows one password and one key."""
    return RedactSecrets([PASSWORD, SECRET_KEY])


def _event(redactor: RedactSecrets, **values: Any) -> dict[str, Any]:
    return dict(redactor(None, "info", dict(values)))


class TestSecretKeys:
    @pytest.mark.parametrize(
        "key",
        [
            "password",
            "DB_PASSWORD",
            "passwd",
            "user_pwd",
            "passphrase",
            "secret",
            "client_secret",
            "SECRET_KEY",
            "token",
            "refresh_token",
            "api_key",
            "apikey",
            "X-Api-Key",
            "access_key",
            "private_key",
            "Authorization",
            "Proxy-Authorization",
            "cookie",
            "Set-Cookie",
            "credentials",
            "session_id",
            "sessionid",
            "dsn",
            "database_url",
            "connection_string",
            "jwt",
        ],
    )
    def test_value_under_a_secret_looking_key_is_masked(
        self, redactor: RedactSecrets, key: str
    ) -> None:
        """A key name holding a secret part, in any case and spelling, has its value masked."""
        assert _event(redactor, **{key: "visible-value"})[key] == MASK

    @pytest.mark.parametrize("key", ["user", "host", "event_name", "level", "rule", "variable"])
    def test_ordinary_keys_are_kept(self, redactor: RedactSecrets, key: str) -> None:
        """Keys that look like nothing secret keep their values."""
        assert _event(redactor, **{key: "plain"})[key] == "plain"

    def test_whole_containers_under_a_secret_key_are_masked(self, redactor: RedactSecrets) -> None:
        """A dict or list under a secret key is masked whole, not walked."""
        event = _event(redactor, credentials={"user": "u", "pass": "p"}, tokens=["a", "b"])
        assert event == {"credentials": MASK, "tokens": MASK}

    def test_numbers_booleans_and_none_under_secret_keys_are_kept(
        self, redactor: RedactSecrets
    ) -> None:
        """A count or a flag under a secret-looking key is not a secret."""
        event = _event(redactor, prompt_tokens=812, password_set=True, api_key=None, ratio=0.5)
        assert event == {"prompt_tokens": 812, "password_set": True, "api_key": None, "ratio": 0.5}

    def test_empty_value_stays_visibly_empty(self, redactor: RedactSecrets) -> None:
        """An empty secret shows as empty, the way the library's reports show it."""
        assert _event(redactor, password="")["password"] == mask("")

    def test_nested_keys_are_masked(self, redactor: RedactSecrets) -> None:
        """Secret keys are found in dicts inside lists inside dicts."""
        event = _event(redactor, payload={"users": [{"name": "ann", "api-key": "k1"}]})
        assert event["payload"] == {"users": [{"name": "ann", "api-key": MASK}]}

    def test_extra_secret_keys_are_masked(self) -> None:
        """Key parts given as extra_secret_keys mask like the built-in ones."""
        redactor = RedactSecrets(extra_secret_keys=["signing-salt", " "])
        event = _event(redactor, SIGNING_SALT="salty", SigningSalt="salty", salt="kept")
        assert event == {"SIGNING_SALT": MASK, "SigningSalt": MASK, "salt": "kept"}

    def test_non_string_keys_are_not_secret(self, redactor: RedactSecrets) -> None:
        """Integer keys are never taken for secret names."""
        assert not redactor.is_secret_key(42)
        assert redactor.redact({42: "value"}) == {42: "value"}

    def test_secret_parts_cover_the_documented_names(self) -> None:
        """The parts include every kind the documentation names."""
        assert {"password", "secret", "token", "api_key", "authorization", "cookie", "dsn"} <= set(
            SECRET_KEY_PARTS
        )


class TestKnownSecrets:
    def test_known_secret_is_masked_inside_any_string(self, redactor: RedactSecrets) -> None:
        """A known secret is masked inside the message and inside other values."""
        event = _event(redactor, event=f"connecting with {PASSWORD}!", note=f"key={SECRET_KEY}")
        assert event == {"event": f"connecting with {MASK}!", "note": f"key={MASK}"}

    def test_known_secret_is_masked_in_nested_values(self, redactor: RedactSecrets) -> None:
        """Strings in lists, tuples and dicts are scrubbed, and dict keys too."""
        value = {"hosts": [f"a {PASSWORD}", (SECRET_KEY, 1)], PASSWORD: "x"}
        assert redactor.redact(value) == {"hosts": [f"a {MASK}", (MASK, 1)], MASK: "x"}

    def test_secret_str_values_are_revealed_to_be_masked(self) -> None:
        """Secrets may be given as SecretStr; empty and missing ones are ignored."""
        redactor = RedactSecrets([SecretStr(PASSWORD), None, "", SecretStr("")])
        assert redactor.scrub(f"pw {PASSWORD}") == f"pw {MASK}"
        assert repr(redactor) == "RedactSecrets(secrets=1, extra_keys=())"

    def test_longer_secret_is_masked_first(self) -> None:
        """A secret containing another is masked whole, not half visible."""
        redactor = RedactSecrets(["abcdef", "abcdef-ghijkl"])
        assert redactor.scrub("x abcdef-ghijkl y") == f"x {MASK} y"

    @pytest.mark.parametrize(
        "spelled",
        [
            'Quote\\"Pw\\\\7',  # JSON
            'Quote"Pw\\\\7',  # repr()
            "Quote%22Pw%5C7",  # percent-encoded
        ],
    )
    def test_escaped_spellings_are_masked(self, spelled: str) -> None:
        """A secret is masked as JSON, repr() and URL escaping write it."""
        redactor = RedactSecrets(['Quote"Pw\\7'])
        assert redactor.scrub_rendered(f"<{spelled}>") == f"<{MASK}>"

    def test_objects_are_scrubbed_through_their_repr(self, redactor: RedactSecrets) -> None:
        """An object the renderer would repr() is replaced by its scrubbed repr()."""
        value = redactor.redact([_Client("tok-123", PASSWORD), ValueError(f"bad {SECRET_KEY}")])
        assert value == [f"_Client(api_token='{MASK}', host='{MASK}')", f"ValueError('bad {MASK}')"]

    def test_namedtuples_and_deep_values_are_scrubbed_as_text(
        self, redactor: RedactSecrets
    ) -> None:
        """A namedtuple keeps its repr(); nesting past the depth limit is scrubbed as text."""
        pair = namedtuple("pair", "left right")
        deep: object = PASSWORD
        for _ in range(12):
            deep = [deep]
        assert redactor.redact(pair(PASSWORD, 1)) == f"pair(left='{MASK}', right=1)"
        assert PASSWORD not in str(redactor.redact(deep))

    def test_a_broken_repr_does_not_lose_the_event(self, redactor: RedactSecrets) -> None:
        """An object whose repr() raises is named instead."""

        class Broken:
            def __repr__(self) -> str:
                raise RuntimeError(PASSWORD)

        assert str(redactor.redact(Broken())).endswith(".Broken object, repr() failed>")

    def test_objects_that_render_themselves_are_left_to_structlog(
        self, redactor: RedactSecrets
    ) -> None:
        """An object with a __structlog__ hook is passed through for the renderer to call."""

        class Renders:
            def __structlog__(self) -> str:
                return "rendered"

        value = Renders()
        assert redactor.redact(value) is value

    @given(
        secret=st.text(st.characters(categories=["L", "N"]), min_size=6, max_size=30),
        before=st.text(max_size=30),
        after=st.text(max_size=30),
    )
    def test_a_known_secret_never_survives(self, secret: str, before: str, after: str) -> None:
        """Whatever surrounds it, a known secret is not in the scrubbed text."""
        redactor = RedactSecrets([secret])
        assert secret not in redactor.scrub(before + secret + after)
        assert secret not in redactor.scrub_rendered(before + secret + after)


class TestUrls:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "postgresql+asyncpg://app:hunter2@db:5432/app",
                f"postgresql+asyncpg://app:{MASK}@db:5432/app",
            ),
            ("redis://:hunter2@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
            ("amqps://user:p@ss:w0rd@mq/vhost", f"amqps://user:{MASK}@mq/vhost"),
            ("'https://u:pw@example.com/x'", f"'https://u:{MASK}@example.com/x'"),
            ("see postgresql://db.internal/app", "see postgresql://db.internal/app"),
            ("mail https://example.com/a@b", "mail https://example.com/a@b"),
            ("http://host:8080/path", "http://host:8080/path"),
        ],
    )
    def test_url_passwords_are_masked_in_any_scheme(
        self, redactor: RedactSecrets, text: str, expected: str
    ) -> None:
        """The password of scheme://user:password@host is masked; URLs without one are kept."""
        assert redactor.scrub(text) == expected
        assert redactor.scrub_rendered(text) == expected

    def test_configured_database_url_keeps_its_host(self) -> None:
        """Of a configured URL, the password (escaped or not) and secret options are masked."""
        url = "postgresql://app:p%40ss@db.internal/app?sslpassword=Ssl-Pw-1&sslmode=require"
        redactor = RedactSecrets.from_settings(_settings(database_url=url))
        assert redactor.scrub(f"{url} p@ss Ssl-Pw-1") == (
            f"postgresql://app:{MASK}@db.internal/app?sslpassword={MASK}&sslmode=require"
            f" {MASK} {MASK}"
        )

    def test_a_configured_url_that_does_not_parse_is_masked_whole(self) -> None:
        """Text in DATABASE_URL that is no URL is a secret as a whole."""
        settings = EnvironmentSettings.model_construct(
            secret_key=None, database=DatabaseConfig(), database_url=SecretStr("x://[bad")
        )
        assert RedactSecrets.from_settings(settings).scrub("at x://[bad") == f"at {MASK}"


class TestTextPairs:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "dbname=app user=app password=hunter2 host=db",
                f"dbname=app user=app password={MASK} host=db",
            ),
            ('{"password": "hunter 2", "user": "app"}', f'{{"password": "{MASK}", "user": "app"}}'),
            ("{'api_key': 'k', 'n': 1}", f"{{'api_key': '{MASK}', 'n': 1}}"),
            ("GET /x?access_token=abc&page=2", f"GET /x?access_token={MASK}&page=2"),
            ("Authorization: Basic dXNlcjpw", f"Authorization: {MASK}"),
            ("Cookie: a=b; c=d", f"Cookie: {MASK}"),
            ("sent Bearer eyJhbGciOi.x-y_z", f"sent Bearer {MASK}"),
            ("token=Bearer abc", f"token={MASK}"),
            ("password=true token=None pwd=''", "password=true token=None pwd=''"),
        ],
    )
    def test_secret_values_in_text_are_masked(
        self, redactor: RedactSecrets, text: str, expected: str
    ) -> None:
        """key=value pairs, quoted "key": value pairs, header lines and bearer tokens are masked."""
        assert redactor.scrub(text) == expected

    def test_a_variable_name_opening_prose_is_not_a_pair(self, redactor: RedactSecrets) -> None:
        """The library's own findings (`SECRET_KEY: is too short`) keep their words."""
        text = "SECRET_KEY: was generated for this process"
        assert redactor.scrub(text) == text

    def test_numbers_in_text_pairs_are_masked(self, redactor: RedactSecrets) -> None:
        """In text a number may be a PIN, so a secret-looking pair's number is masked."""
        assert redactor.scrub("pin password=123456") == f"pin password={MASK}"

    def test_rendered_lines_keep_pairs_of_counts(self, redactor: RedactSecrets) -> None:
        """The rendered-line guard leaves JSON counts alone; only known secrets and URLs go."""
        line = '{"max_tokens": 4096, "event": "x"}'
        assert redactor.scrub_rendered(line) == line

    @pytest.mark.parametrize(
        "hostile",
        ["a" * 100_000, "a.b-" * 25_000, "password" * 12_000, "http://" * 15_000, "a:b@" * 25_000],
    )
    def test_scrubbing_hostile_text_takes_linear_time(
        self, redactor: RedactSecrets, hostile: str
    ) -> None:
        """No input makes the patterns backtrack quadratically."""
        start = time.perf_counter()
        redactor.scrub(hostile)
        assert time.perf_counter() - start < 0.5


class TestFromSettings:
    def test_masks_the_configured_secrets(self) -> None:
        """SECRET_KEY, DB_PASSWORD and secret driver options are masked wherever they appear."""
        settings = _settings(
            options={"sslpassword": "ssl-Pw-8812", "target_session_attrs": "read-write"}
        )
        redactor = RedactSecrets.from_settings(settings, extra_secrets=["extra-Val-1"])
        text = f"{PASSWORD} {SECRET_KEY} ssl-Pw-8812 extra-Val-1 read-write"
        assert redactor.scrub(text) == f"{MASK} {MASK} {MASK} {MASK} read-write"

    def test_signatures(self) -> None:
        """The public methods return the types they declare."""
        redactor = RedactSecrets.from_settings(_settings())
        assert_type(redactor, RedactSecrets)
        assert_type(redactor.scrub("x"), str)
        assert_type(redactor.scrub_rendered("x"), str)
        assert_type(redactor.redact("x"), object)
        assert_type(redactor.is_secret_key("x"), bool)

    def test_repr_counts_secrets_and_shows_none(self) -> None:
        """repr() tells how many secrets are held and the extra keys, never a secret."""
        redactor = RedactSecrets.from_settings(_settings(), extra_secret_keys=["salt"])
        assert repr(redactor) == "RedactSecrets(secrets=2, extra_keys=('salt',))"


def _settings(**database: Any) -> Any:
    url = database.pop("database_url", None)
    config = DatabaseConfig(host="db.internal", username="app", password=PASSWORD, **database)
    if url is None:
        return load_settings(secret_key=SECRET_KEY, database=config)
    with pytest.warns(DeprecationWarning, match="DATABASE_URL is deprecated"):
        return load_settings(secret_key=SECRET_KEY, database=config, database_url=url)


_BACKGROUND_LINK = "(Background on this error at: https://sqlalche.me/e/20/e3q8)"


class TestWithoutBackground:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (f"refused\n{_BACKGROUND_LINK} - check DB_HOST", "refused - check DB_HOST"),
            (f'{{"event": "refused\\n{_BACKGROUND_LINK}"}}', '{"event": "refused"}'),
            (f"a\n{_BACKGROUND_LINK}\nb {_BACKGROUND_LINK}", "a\nb"),
            ("Background on this error is elsewhere", "Background on this error is elsewhere"),
        ],
    )
    def test_removes_sqlalchemys_link_and_its_line_break(self, text: str, expected: str) -> None:
        """The link goes with the line break before it, raw or escaped; other text stays."""
        assert without_background(text) == expected

    @given(st.text())
    def test_text_without_the_link_is_unchanged(self, text: str) -> None:
        """Only the link is ever removed."""
        assert without_background(text.replace("(Background", "")) == text.replace(
            "(Background", ""
        )
