"""Tests for ``agentifui_config.secrecy``: the one rule for secret names, the mask, scrubbing.

Each rule here used to be decided in several places that disagreed; the
``TestOneRule`` cases pin that every place now gives the same answer.
"""

from __future__ import annotations

import io
import re
from typing import Any, Final, assert_type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from agentifui_config import (
    ConfigurationError,
    DatabaseConfig,
    EnvironmentSettings,
    load_settings,
)
from agentifui_config.cli.console import Console
from agentifui_config.cli.loading import load
from agentifui_config.database import replacement_lines
from agentifui_config.migrations.target import scrubbed
from agentifui_config.redaction import SECRET_KEY_PARTS, RedactSecrets
from agentifui_config.secrecy import (
    HIDDEN_VARIABLES,
    MASK,
    REVEAL_SECRETS,
    SECRET_NAME_PARTS,
    SECRET_VARIABLES,
    config_secrets,
    is_secret_name,
    mask,
    name_pattern,
    scrub,
    scrub_config,
    settings_secrets,
    url_secrets,
)
from agentifui_config.sources import SECRET_FILE_VARIABLES

pytestmark = pytest.mark.usefixtures("clean_env")

_OPTION_VALUE: Final = "Opt-9Kx2-secret-value"
_PASSWORD: Final = "Pw-7Jq@/%-value"
_KEY: Final = "Key-k7Yx2pQ9vL4mN8rT1wZ5bC3dF6gH0jS2aE"

# Option names each older rule got wrong: libpq's sslpassword, a credential, a passphrase.
_SECRET_OPTIONS: Final = (
    "sslpassword",
    "PASSWD",
    "client_secret",
    "api-key",
    "apikey",
    "token",
    "ssl_passphrase",
    "user_pwd",
    "aws_credential",
)
_PLAIN_OPTIONS: Final = ("sslmode", "sslkey", "sslcert", "target_session_attrs", "krbsrvname")


class TestIsSecretName:
    @pytest.mark.parametrize("name", _SECRET_OPTIONS)
    def test_secret_names(self, name: str) -> None:
        """Names holding a password, passphrase, secret, key or token part are secret."""
        assert is_secret_name(name)

    @pytest.mark.parametrize("name", _PLAIN_OPTIONS)
    def test_plain_names(self, name: str) -> None:
        """Other names, sslkey (a file path) among them, are shown."""
        assert not is_secret_name(name)

    @pytest.mark.parametrize("part", SECRET_NAME_PARTS)
    def test_every_part_in_any_spelling(self, part: str) -> None:
        """A part counts in any case and with ``_`` written as ``-`` or left out."""
        for spelling in (part, part.upper(), part.replace("_", "-"), part.replace("_", "")):
            assert is_secret_name(f"x_{spelling}_y"), spelling

    def test_name_pattern_matches_each_spelling(self) -> None:
        """name_pattern() lets ``_`` stand for ``_``, ``-`` or nothing."""
        pattern = re.compile(name_pattern(["api_key"]), re.IGNORECASE)
        assert [bool(pattern.search(n)) for n in ("API_KEY", "api-key", "apikey", "api")] == [
            True,
            True,
            True,
            False,
        ]


class TestMask:
    def test_hides_a_value(self) -> None:
        """A non-empty value is replaced by the one mask, which holds none of it."""
        assert mask("hunter2-password") == MASK == "**********"

    @pytest.mark.parametrize("empty", [None, "", SecretStr("")])
    def test_keeps_empty_visibly_empty(self, empty: str | SecretStr | None) -> None:
        """An unset or empty secret shows as '' so an operator sees it is missing."""
        assert mask(empty) == "''"

    def test_is_pydantics_mask(self) -> None:
        """The mask is the one pydantic's SecretStr shows, so both read alike."""
        assert str(SecretStr("x")) == MASK


class TestScrub:
    def test_replaces_every_occurrence(self) -> None:
        """Each occurrence of a secret is masked, wherever it appears in the text."""
        assert scrub("password=hunter22 and again hunter22.", ["hunter22"]) == (
            f"password={MASK} and again {MASK}."
        )

    def test_replaces_longer_secrets_first(self) -> None:
        """A secret that contains another is masked whole, not left half visible."""
        assert scrub("key=abcdefgh", ["abc", "abcdefgh"]) == f"key={MASK}"

    def test_replaces_percent_encoded_forms(self) -> None:
        """A secret as a URL carries it, percent-encoded, is masked too."""
        assert scrub("u:p%40ss%2Fw@h", ["p@ss/w"]) == f"u:{MASK}@h"

    def test_ignores_empty_secrets(self) -> None:
        """An empty secret masks nothing (it would otherwise mask between every character)."""
        assert scrub("nothing secret here", ["", ""]) == "nothing secret here"

    @given(
        text=st.text(max_size=40),
        secret=st.text(min_size=1, max_size=12).filter(lambda s: "*" not in s),
    )
    @settings(max_examples=200)
    def test_no_secret_survives(self, text: str, secret: str) -> None:
        """After scrubbing, the secret does not occur in the text, wherever it was put."""
        assert secret not in scrub(text + secret + text, [secret])


class TestSecretsOf:
    def test_url_secrets(self) -> None:
        """A URL's password, as written and decoded, and its secret options' values."""
        url = "postgresql://u:p%40ss@h/db?sslpassword=s1&sslmode=require"
        assert url_secrets(url) == ["p%40ss", "p@ss", "s1"]

    @pytest.mark.parametrize("password", ["pa/ss", "pa#ss", "pa?ss", "pa:ss"])
    def test_password_with_unescaped_url_characters(self, password: str) -> None:
        """A password the URL parser accepts unescaped is found whole, not cut at / # or ?."""
        url = f"postgresql://u:{password}@h/db?sslpassword=s1"
        assert DatabaseConfig.from_url(url).password.get_secret_value() == password
        assert url_secrets(url) == [password, password, "s1"]

    @given(st.text(min_size=1).filter(lambda text: "@" not in text))
    @settings(max_examples=300)
    def test_finds_the_password_the_parser_reads(self, password: str) -> None:
        """Whatever password the library's URL parser reads from a URL, url_secrets finds it."""
        url = f"postgresql://u:{password}@h/db"
        try:
            parsed = DatabaseConfig.from_url(url).password.get_secret_value()
        except ConfigurationError:
            return
        assert parsed in url_secrets(url)

    def test_text_that_is_no_url_is_secret_whole(self) -> None:
        """Text that does not parse as a URL is a secret as a whole."""
        assert url_secrets("x://[bad") == ["x://[bad"]

    def test_config_secrets(self) -> None:
        """A configuration's password and secret options, never its plain options."""
        config = DatabaseConfig(
            password=_PASSWORD, options={"sslpassword": _OPTION_VALUE, "sslcert": "/c.pem"}
        )
        assert config_secrets(config) == [_PASSWORD, _OPTION_VALUE]
        assert config_secrets(None) == []

    def test_settings_secrets(self) -> None:
        """The settings' key, the URL's password and options, and the database's secrets."""
        config = DatabaseConfig(password=_PASSWORD, options={"api_key": _OPTION_VALUE})
        with pytest.warns(DeprecationWarning, match="DATABASE_URL"):
            settings = load_settings(
                secret_key=_KEY,
                database=config,
                database_url="postgresql://u:url-pw@h/db?client_secret=url-opt",
            )
        assert set(settings_secrets(settings)) >= {
            _KEY,
            "url-pw",
            "url-opt",
            _PASSWORD,
            _OPTION_VALUE,
        }
        assert settings_secrets(None) == []

    def test_signatures(self) -> None:
        """The public functions return the types they declare."""
        assert_type(is_secret_name("x"), bool)
        assert_type(mask("x"), str)
        assert_type(scrub("x", []), str)
        assert_type(scrub_config("x", None), str)
        assert_type(url_secrets("x"), list[str])


def _options_config() -> DatabaseConfig:
    options = {name: f"{_OPTION_VALUE}-{i}" for i, name in enumerate(_SECRET_OPTIONS)}
    return DatabaseConfig(host="db", password=_PASSWORD, options=options)


class TestOneRule:
    """Places that used to disagree about what is secret now agree."""

    def test_variables(self) -> None:
        """The secret-file variables are the secret variables; errors hide those and DB_OPTIONS."""
        assert SECRET_FILE_VARIABLES == SECRET_VARIABLES
        assert frozenset({*SECRET_VARIABLES, "DB_OPTIONS"}) == HIDDEN_VARIABLES

    def test_log_keys_follow_the_rule(self) -> None:
        """The log redaction masks every key the rule calls secret (passphrase included)."""
        assert SECRET_KEY_PARTS == SECRET_NAME_PARTS
        redactor = RedactSecrets()
        for name in (*_SECRET_OPTIONS, *_PLAIN_OPTIONS):
            assert redactor.is_secret_key(name) == is_secret_name(name), name

    def test_masked_url_masks_every_secret_option(self) -> None:
        """The masked URL masks exactly the options the rule calls secret, with the one mask."""
        config = _options_config()
        shown = config.masked_url
        assert _OPTION_VALUE not in shown
        assert shown.count(MASK) == len(_SECRET_OPTIONS) + 1
        assert shown.startswith(f"postgresql+asyncpg://postgres:{MASK}@db:5432/postgres?")

    def test_dumps_mask_every_secret_option(self) -> None:
        """model_dump and model_dump_json hide each secret option as the password is hidden."""
        config = _options_config().model_copy(update={"options": {"sslpassword": "x1", "a": "b"}})
        assert config.model_dump_json().endswith(f'"options":{{"sslpassword":"{MASK}","a":"b"}}}}')
        dumped = config.model_dump()
        assert dumped["options"] == {"sslpassword": SecretStr("x1"), "a": "b"}
        assert "x1" not in repr(dumped)
        assert dumped["password"] == SecretStr(_PASSWORD)

    def test_every_secret_field_is_masked_and_scrubbed(self) -> None:
        """Every SecretStr field of DatabaseConfig, a new one too, is masked and scrubbed."""
        names = [
            name
            for name, field in DatabaseConfig.model_fields.items()
            if "SecretStr" in str(field.annotation)
        ]
        assert {"password", "read_password", "migration_url"} <= set(names)
        values = {name: f"{name}-Secret-0123" for name in names}
        update = {**values, "migration_url": f"postgresql://m:{values['migration_url']}@h/db"}
        config = DatabaseConfig(**update)
        dumps = (config.model_dump_json(), repr(config.model_dump()), repr(config))
        found = config_secrets(config)
        revealed = config.model_dump(context={REVEAL_SECRETS: True})
        for name, value in values.items():
            assert not any(value in dump for dump in dumps), name
            assert value in found, name
            assert revealed[name] == update[name], name

    def test_replacement_lines_mask_the_same_options(self) -> None:
        """convert-url's lines mask the options masked_url masks, with the same mask."""
        lines = "\n".join(replacement_lines(_options_config().url))
        assert _OPTION_VALUE not in lines
        assert lines.count(MASK) == len(_SECRET_OPTIONS) + 1

    @pytest.mark.parametrize("name", ["sslpassword", "ssl_passphrase"])
    def test_scrubbers_mask_secret_options(self, name: str) -> None:
        """The configuration scrubbers mask secret options, not only the password."""
        config = DatabaseConfig(password=_PASSWORD, options={name: _OPTION_VALUE})
        text = f"failed: {_PASSWORD} {_OPTION_VALUE}"
        assert scrub_config(text, config) == f"failed: {MASK} {MASK}"
        assert scrubbed(text, config) == f"failed: {MASK} {MASK}"


class TestCliProtects:
    def test_every_secret_the_rule_names(self, clean_env: pytest.MonkeyPatch) -> None:
        """The CLI masks secret options of DB_OPTIONS and DATABASE_URL, not only passwords."""
        clean_env.setenv("DB_PASSWORD", _PASSWORD)
        clean_env.setenv("SECRET_KEY", _KEY)
        clean_env.setenv("DB_OPTIONS", f'{{"sslpassword": "{_OPTION_VALUE}", "sslcert": "/c"}}')
        clean_env.setenv("DATABASE_URL", "postgresql://u:url-pw@h/db?api_token=url-opt")
        console = Console(io.StringIO(), io.StringIO(), colour=False)
        load(console, None)  # quietly: the CLI reports the deprecation itself
        assert {_PASSWORD, _KEY, _OPTION_VALUE, "url-pw", "url-opt"} <= console.secrets
        assert "/c" not in console.secrets

    def test_options_that_fail_to_load(self, clean_env: pytest.MonkeyPatch) -> None:
        """A DB_OPTIONS that is refused still has its secret options masked."""
        clean_env.setenv("DB_OPTIONS", f'{{"sslpassword": "{_OPTION_VALUE}", "host": "x"}}')
        console = Console(io.StringIO(), io.StringIO(), colour=False)
        with pytest.raises(ConfigurationError, match="DB_OPTIONS"):
            load(console, None)
        assert _OPTION_VALUE in console.secrets


class TestDatabaseConfigDumps:
    def test_reveal_gives_the_real_values(self) -> None:
        """With the REVEAL_SECRETS context, a dump holds the password and options in clear."""
        config = _options_config()
        revealed: dict[str, Any] = config.model_dump(context={REVEAL_SECRETS: True})
        assert revealed["password"] == _PASSWORD
        assert revealed["options"] == config.options
        text = config.model_dump_json(context={REVEAL_SECRETS: True})
        assert DatabaseConfig.model_validate_json(text) == config

    def test_python_dump_round_trips(self) -> None:
        """A Python-mode dump, secrets held as SecretStr, builds the same configuration."""
        config = _options_config()
        assert DatabaseConfig(**config.model_dump()) == config

    def test_settings_dump_masks_the_database_options(self) -> None:
        """EnvironmentSettings' JSON dump masks the nested secret options too."""
        config = DatabaseConfig(options={"sslpassword": _OPTION_VALUE})
        settings = EnvironmentSettings(database=config, secret_key=_KEY)
        assert _OPTION_VALUE not in settings.model_dump_json()
        assert _KEY not in settings.model_dump_json()
