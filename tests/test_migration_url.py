"""Tests for MIGRATION_DATABASE_URL: a whole URL for the direct migration target."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentifui_config import ConfigurationError, DatabaseConfig, load_settings
from agentifui_config.secrecy import REVEAL_SECRETS, SECRET_VARIABLES, scrub_config
from agentifui_config.settings import variable_names
from agentifui_config.urls import MIGRATION_URL_VARIABLE

_PRIMARY = "postgresql://app:primary-pw@pgbouncer:6432/app?sslmode=require"
_MIGRATOR = "postgresql://migrator:Migr%40tor-S3cret@db-primary:5432/app"
_MIGRATOR_PASSWORD = "Migr@tor-S3cret"


def _config(url: str = _MIGRATOR, **overrides: Any) -> DatabaseConfig:
    return DatabaseConfig.from_url(_PRIMARY, pgbouncer=True, migration_url=url, **overrides)


def _refusal(url: str, **overrides: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        _config(url, **overrides)
    return str(caught.value)


class TestMigrationTarget:
    def test_url_gives_the_whole_target(self) -> None:
        """The URL's user, password, host, port and database are the migration target's."""
        direct = _config().migration_config
        assert direct is not None
        assert direct.connection_info == {
            "host": "db-primary",
            "port": 5432,
            "database": "app",
            "driver": "postgresql+asyncpg",
            "username": "migrator",
        }
        assert direct.password.get_secret_value() == _MIGRATOR_PASSWORD

    def test_what_the_url_leaves_out_is_the_primarys(self) -> None:
        """Settings the URL does not give (TLS, timeouts) are the primary's; no pooler."""
        direct = _config(statement_timeout=30).migration_config
        assert direct is not None
        assert (direct.ssl_mode, direct.statement_timeout) == ("require", 30)
        assert (direct.pgbouncer, direct.migration_config) == (False, None)

    def test_url_options_win(self) -> None:
        """An option in the URL (sslmode) wins over the primary's."""
        direct = _config(
            _MIGRATOR + "?sslmode=verify-full&options=-c%20role%3Dddl"
        ).migration_config
        assert direct is not None
        assert direct.ssl_mode == "verify-full"
        assert direct.options == {"options": "-c role=ddl"}

    def test_another_user_never_gets_the_primary_password(self) -> None:
        """A URL naming another user without a password does not send the primary's to it."""
        direct = _config("postgresql://migrator@db-primary/app").migration_config
        assert direct is not None
        assert direct.password.get_secret_value() == ""

    def test_same_user_keeps_the_primary_password(self) -> None:
        """A URL giving only a host reaches it as the primary's user, with its password."""
        direct = _config("postgresql://db-primary").migration_config
        assert direct is not None
        assert (direct.username, direct.password.get_secret_value()) == ("app", "primary-pw")

    def test_blank_is_unset(self) -> None:
        """A blank MIGRATION_DATABASE_URL (a template's empty line) means no direct target."""
        assert DatabaseConfig(migration_url=" ").migration_config is None


class TestMigrationHostAndPort:
    def test_port_reaches_each_host_of_a_list(self) -> None:
        """DB_MIGRATION_PORT moves every host of a DB_HOST list, even one that names its port.

        Two poolers at 6432 in front of two servers at 5432: the direct target
        is the servers, never a pooler, where a session lock could be stranded.
        """
        config = DatabaseConfig(
            host="pgb-a:6432,pgb-b:6432", pgbouncer=True, migration_port=5432
        ).migration_config
        assert config is not None
        assert (config.hosts, config.pgbouncer) == ((("pgb-a", 5432), ("pgb-b", 5432)), False)

    def test_host_and_port_replace_the_list(self) -> None:
        """With DB_MIGRATION_HOST, the direct target is that host alone, at DB_MIGRATION_PORT."""
        config = DatabaseConfig(
            host="pgb-a:6432,pgb-b:6432", migration_host="db-primary", migration_port=5433
        ).migration_config
        assert config is not None
        assert config.hosts == (("db-primary", 5433),)

    def test_host_alone_takes_db_port(self) -> None:
        """DB_MIGRATION_HOST alone is reached at DB_PORT."""
        config = DatabaseConfig(host="pgbouncer", port=6432, migration_host="db").migration_config
        assert config is not None
        assert config.hosts == (("db", 6432),)


class TestMigrationUrlRefusals:
    @pytest.mark.parametrize(
        ("overrides", "clash"),
        [
            ({"migration_host": "db-primary"}, "DB_MIGRATION_HOST"),
            ({"migration_port": 5432}, "DB_MIGRATION_PORT"),
            (
                {"migration_host": "db", "migration_port": 5432},
                "DB_MIGRATION_HOST and DB_MIGRATION_PORT",
            ),
        ],
    )
    def test_clash_with_migration_host_names_both(
        self, overrides: dict[str, Any], clash: str
    ) -> None:
        """Two ways of naming the migration target are refused, naming both and the fix."""
        assert _refusal(_MIGRATOR, **overrides) == (
            f"MIGRATION_DATABASE_URL: is set together with {clash}; both name the migration "
            f"target - give the host and port in the URL and unset {clash}, or unset "
            "MIGRATION_DATABASE_URL"
        )

    @pytest.mark.parametrize(
        ("url", "report"),
        [
            ("mysql://u:pw@db/app", "MIGRATION_DATABASE_URL: scheme 'mysql' is not PostgreSQL"),
            ("postgresql://u:pw@db:0/app", "MIGRATION_DATABASE_URL: port 0 is out of range"),
            (
                "postgresql://u:pw@bad%20host/app",
                "MIGRATION_DATABASE_URL: its host: 'bad%20host' is not a host name",
            ),
            ("not a url", "MIGRATION_DATABASE_URL: is not a database URL"),
        ],
    )
    def test_bad_url_is_refused_naming_the_variable(self, url: str, report: str) -> None:
        """A malformed URL or part is a finding about MIGRATION_DATABASE_URL, not DB_*."""
        assert _refusal(url).startswith(report)

    @given(text=st.text(max_size=80))
    @settings(max_examples=300, deadline=None)
    def test_any_text_is_accepted_or_a_configuration_error(self, text: str) -> None:
        """Whatever the variable holds, the result is a configuration or a ConfigurationError."""
        try:
            config = _config(text)
        except ConfigurationError:
            return
        assert config.migration_url is None or config.migration_config is not None

    @given(
        password=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1),
        host=st.sampled_from(["db", "bad host", "", "::1", "[::1]", "db:0", "db:99999", "x" * 300]),
        database=st.sampled_from(["app", "", "a%2Fb"]),
    )
    @settings(max_examples=200, deadline=None)
    def test_password_is_never_shown(self, password: str, host: str, database: str) -> None:
        """The URL's password appears in no error, repr, str or dump."""
        password = "S3cr3t-" + password  # never a word the output holds anyway
        url = f"postgresql://migrator:{quote(password, safe='')}@{host}/{database}"
        try:
            config = _config(url)
        except ConfigurationError as exc:
            shown = [str(exc), repr(exc)]
        else:
            direct = config.migration_config
            assert direct is not None
            shown = [repr(config), str(config), config.model_dump_json(), str(config.model_dump())]
            shown += [repr(direct), str(direct), direct.masked_url, scrub_config(url, config)]
        assert not any(password in text or quote(password, safe="") in text for text in shown)


class TestMigrationUrlSettings:
    def test_read_from_its_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """MIGRATION_DATABASE_URL in the environment reaches the database configuration."""
        monkeypatch.setenv("MIGRATION_DATABASE_URL", _MIGRATOR)
        direct = load_settings().database.migration_config
        assert direct is not None
        assert direct.username == "migrator"

    def test_read_from_a_secret_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """MIGRATION_DATABASE_URL_FILE names a file holding the URL, as other secrets do."""
        path = tmp_path / "migration-url"
        path.write_text(_MIGRATOR + "\n", encoding="utf-8")
        monkeypatch.setenv("MIGRATION_DATABASE_URL_FILE", str(path))
        direct = load_settings().database.migration_config
        assert direct is not None
        assert direct.password.get_secret_value() == _MIGRATOR_PASSWORD

    def test_refusal_lists_the_other_findings_too(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A clash is one finding among the rest, with the URL's password never shown."""
        monkeypatch.setenv("MIGRATION_DATABASE_URL", _MIGRATOR)
        monkeypatch.setenv("DB_MIGRATION_HOST", "db-primary")
        monkeypatch.setenv("DB_PORT", "nope")
        with pytest.raises(ConfigurationError) as caught:
            load_settings()
        variables = {finding.variable for finding in caught.value.findings}
        assert {"MIGRATION_DATABASE_URL", "DB_PORT"} <= variables
        assert _MIGRATOR_PASSWORD not in str(caught.value)

    def test_is_a_secret_variable(self) -> None:
        """The variable is secret, listed with the others and with its _FILE form."""
        assert MIGRATION_URL_VARIABLE in SECRET_VARIABLES
        names = variable_names()
        assert {"MIGRATION_DATABASE_URL", "MIGRATION_DATABASE_URL_FILE"} <= set(names)
        assert "DB_MIGRATION_URL" not in names

    def test_dump_masks_unless_asked(self) -> None:
        """model_dump_json masks the URL; the REVEAL_SECRETS context gives it back."""
        config = _config()
        assert '"migration_url":"**********"' in config.model_dump_json()
        revealed = config.model_dump(context={REVEAL_SECRETS: True})
        assert revealed["migration_url"] == _MIGRATOR
        assert DatabaseConfig.model_validate(revealed) == config
