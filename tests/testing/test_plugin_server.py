"""Tests for the server and database fixtures and the options of agentifui_config.testing.plugin."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import pytest
from connection_support import database_exists
from hypothesis import assume, example, given
from hypothesis import strategies as st
from plugin_support import InnerSuite

from agentifui_config.testing import _embedded, plugin, postgres
from agentifui_config.testing.postgres import DATABASE_PREFIX, URL_VARIABLE
from agentifui_config.testing.server_report import header_line

if TYPE_CHECKING:
    from agentifui_config.testing.postgres import PostgresServer

_UNREACHABLE = "postgresql://app:hunter2@127.0.0.1:1/postgres"

_NEEDS_SERVER = """
def test_needs_database(database_config):
    assert database_config

def test_needs_server(postgres_server):
    assert postgres_server

def test_needs_nothing():
    pass
"""

# Passwords written into a URL unescaped: the characters that end a URL's parts come often.
_PASSWORDS = st.text(
    st.sampled_from("/#?@:%[]a1")
    | st.characters(categories=("L", "M", "N", "P", "S", "Z"), exclude_characters="\0"),
    min_size=4,
)


@pytest.fixture
def inner(
    pytester: pytest.Pytester, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> InnerSuite:
    """An inner project on the outer run's server."""
    return InnerSuite.on(pytester, monkeypatch, postgres_server)


@pytest.fixture
def serverless(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> InnerSuite:
    """An inner project whose test server cannot be reached."""
    suite = InnerSuite(pytester, monkeypatch, _UNREACHABLE)
    suite.files(test_server=_NEEDS_SERVER)
    return suite


@pytest.fixture
def nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, serverless: InnerSuite
) -> InnerSuite:
    """An inner project with no test URL set, no pgserver to import and no server binaries."""
    monkeypatch.delenv(URL_VARIABLE)
    monkeypatch.setitem(sys.modules, "pgserver", None)
    monkeypatch.setattr(_embedded, "find_bindir", lambda: None)
    return serverless


class TestNoServer:
    def test_an_unreachable_url_fails_naming_host_port_and_remedy(
        self, serverless: InnerSuite
    ) -> None:
        """A URL that does not answer fails the tests needing it, never skips them."""
        serverless.ini()
        result = serverless.run("-rs")
        result.assert_outcomes(passed=1, errors=2)
        result.stdout.fnmatch_lines(
            [
                f"no PostgreSQL for the tests: {URL_VARIABLE}: names *@127.0.0.1:1/postgres, "
                "which cannot be reached*start that server or correct the URL*"
            ]
        )
        assert "SKIPPED" not in result.stdout.str()
        assert "hunter2" not in result.stdout.str()

    def test_nothing_configured_skips_and_says_so(self, nothing: InnerSuite) -> None:
        """With no URL and no pgserver the tests are skipped, and header and summary say why."""
        nothing.ini()
        result = nothing.run("-rs")
        result.assert_outcomes(passed=1, skipped=2)
        result.stdout.fnmatch_lines(
            [
                f"agentifui-config: no PostgreSQL: {URL_VARIABLE} is not set and pgserver is "
                "not installed*",
                "agentifui-config: the tests that need PostgreSQL were skipped: "
                f"{URL_VARIABLE}: is not set, pgserver cannot be imported*"
                "no PostgreSQL server binaries*",
                "*SKIPPED * no PostgreSQL for the tests: *--agentifui-require-db*",
            ]
        )

    def test_flag_turns_the_skip_into_a_failure(self, nothing: InnerSuite) -> None:
        """--agentifui-require-db fails the tests that need the server, in one line each."""
        nothing.ini()
        result = nothing.run("--agentifui-require-db")
        result.assert_outcomes(passed=1, errors=2)
        output = result.stdout.str()
        # Each error's whole report is the one line (the summary may repeat it).
        one_line_errors = re.findall(
            rf"ERROR at setup of test_\w+ _+\nno PostgreSQL for the tests: {URL_VARIABLE}", output
        )
        assert len(one_line_errors) == 2
        assert "Traceback" not in output
        assert "During handling" not in output
        assert "hunter2" not in output

    def test_ini_key_turns_the_skip_into_a_failure(self, nothing: InnerSuite) -> None:
        """agentifui_require_db = true in the configuration does what the flag does."""
        nothing.ini("agentifui_require_db = true")
        result = nothing.run()
        result.assert_outcomes(passed=1, errors=2)

    def test_server_is_sought_once(
        self, serverless: InnerSuite, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The failed attempt is remembered for the run, not repeated for each test."""
        calls = []
        real = postgres.start_server

        def counting() -> PostgresServer:
            calls.append(1)
            return real()

        monkeypatch.setattr(postgres, "start_server", counting)
        serverless.ini()
        serverless.run().assert_outcomes(passed=1, errors=2)
        assert calls == [1]


class TestServerNamed:
    def test_header_names_the_url_without_its_password(self, serverless: InnerSuite) -> None:
        """The header shows the test URL with its password masked, before any test runs."""
        serverless.ini()
        result = serverless.run("--collect-only")
        result.stdout.fnmatch_lines(
            [
                "agentifui-config: PostgreSQL at postgresql://app:***@127.0.0.1:1/postgres"
                f" ({URL_VARIABLE})"
            ]
        )
        assert "hunter2" not in result.stdout.str()

    @given(password=_PASSWORDS)
    @example(password="pa/ss")
    @example(password="pa#ss")
    @example(password="pa?ss")
    @example(password="pa@ss:")
    def test_header_shows_no_part_of_an_unescaped_password(self, password: str) -> None:
        """A password holding ``/``, ``#``, ``?``, ``@`` or ``:`` is masked whole in the header."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(
                URL_VARIABLE, "postgresql://app:secret@db.example:5432/app?sslmode=require"
            )
            without = header_line()
            patch.setenv(
                URL_VARIABLE, f"postgresql://app:{password}@db.example:5432/app?sslmode=require"
            )
            line = header_line()
        assert "secret" not in without
        assume(password not in without)  # else the line's other text holds it
        assert password not in line
        assert line == without

    @pytest.mark.parametrize("value", ["mysql://app:hunter2@db/app", "hunter2 is no URL"])
    def test_header_says_a_value_is_no_url_and_shows_none_of_it(
        self, serverless: InnerSuite, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        """A value that is no PostgreSQL URL is named as such in the header, never shown."""
        monkeypatch.setenv(URL_VARIABLE, value)
        serverless.ini()
        result = serverless.run("--collect-only")
        result.stdout.fnmatch_lines(
            [f"agentifui-config: PostgreSQL from {URL_VARIABLE}, which is not a valid URL"]
        )
        assert "hunter2" not in result.stdout.str()

    def test_header_names_the_embedded_server(
        self, serverless: InnerSuite, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a URL, the header says the embedded server starts when first needed."""
        monkeypatch.delenv(URL_VARIABLE)
        serverless.ini()
        result = serverless.run("--collect-only")
        result.stdout.fnmatch_lines(
            ["agentifui-config: embedded PostgreSQL (pgserver), started when a test first needs it"]
        )

    def test_summary_names_the_server_and_version(
        self, inner: InnerSuite, postgres_server: PostgresServer
    ) -> None:
        """After the run, the summary names the server's major version and masked URL."""
        inner.ini()
        inner.files(test_one="def test_server(postgres_server):\n    assert postgres_server\n")
        result = inner.run()
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(
            [
                "agentifui-config: the tests ran on PostgreSQL *"
                f" at {postgres_server.admin.masked_url}"
            ]
        )


class TestRunDatabase:
    def test_created_for_the_run_and_dropped(
        self, inner: InnerSuite, postgres_server: PostgresServer
    ) -> None:
        """The run's database exists with a test name during the run and is gone after it."""
        inner.ini()
        inner.files(
            test_db=(
                "names = []\n\n"
                "def test_first(database_config):\n"
                "    names.append(database_config.database)\n\n"
                "def test_same(database_config):\n"
                "    assert database_config.database == names[0]\n\n"
                "def test_report(database_config):\n"
                "    print('DATABASE=' + names[0])\n"
            )
        )
        result = inner.run("-s")
        result.assert_outcomes(passed=3)
        line = next(x for x in result.outlines if "DATABASE=" in x)
        name = line.split("DATABASE=")[1].split()[0]
        assert name.startswith(DATABASE_PREFIX)
        assert not asyncio.run(database_exists(postgres_server, name))


class TestOptions:
    def test_help_lists_flag_and_ini_keys(self, serverless: InnerSuite) -> None:
        """The output of --help shows the flag and each ini key with what it does."""
        serverless.ini()
        result = serverless.run("--help")
        result.stdout.fnmatch_lines(
            [
                "*--agentifui-require-db*",
                "*agentifui_require_db (bool):*",
                "*agentifui_alembic_config (string):*",
                "*agentifui_metadata (string):*",
            ]
        )

    def test_registered_by_entry_point(self) -> None:
        """The package's pytest11 entry point names the plugin module."""
        found = {e.name: e.value for e in entry_points(group="pytest11")}
        assert found["agentifui_config"] == "agentifui_config.testing.plugin"

    def test_can_be_turned_off(self, serverless: InnerSuite) -> None:
        """-p no:agentifui_config removes the fixtures, as for any plugin."""
        serverless.ini()
        result = serverless.run("-p", "no:agentifui_config")
        result.assert_outcomes(passed=1, errors=2)
        result.stdout.fnmatch_lines(["*fixture 'postgres_server' not found*"])


_BLOCK_PYTEST_ASYNCIO = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pytest_asyncio":
            raise ModuleNotFoundError("No module named 'pytest_asyncio'", name="pytest_asyncio")

sys.meta_path.insert(0, Block())
import agentifui_config.testing.plugin as plugin
print("agentifui_config.testing._no_asyncio" in sys.modules)
print(all(hasattr(plugin, name) for name in ("app_client", "connection_manager", "db_session")))
"""


class TestWithoutPytestAsyncio:
    def test_plugin_loads_with_stand_ins(self) -> None:
        """Without pytest-asyncio the plugin still loads, with stand-ins for the async fixtures."""
        result = subprocess.run(  # noqa: S603 - this interpreter running a fixed snippet
            [sys.executable, "-c", _BLOCK_PYTEST_ASYNCIO],
            capture_output=True,
            text=True,
            check=True,
        )
        assert result.stdout.split() == ["True", "True"]

    def test_stand_ins_say_what_to_install(self, serverless: InnerSuite) -> None:
        """A test asking for an async fixture without pytest-asyncio is told to install it."""
        serverless.ini()
        names = ("app_client", "connection_manager", "db_session")
        serverless.files(
            test_x="".join(f"def test_{name}({name}):\n    pass\n\n" for name in names)
        )
        result = serverless.run(
            "-p", "no:agentifui_config", "-p", "agentifui_config.testing._no_asyncio", "test_x.py"
        )
        result.assert_outcomes(errors=3)
        result.stdout.fnmatch_lines_random(
            [
                f"*the {name} fixture needs pytest-asyncio: pip install pytest-asyncio*"
                for name in names
            ]
        )


class TestModule:
    def test_exports(self) -> None:
        """The plugin module exports its fixtures and hooks, each defined."""
        assert plugin.__all__ == sorted(plugin.__all__)
        assert {
            "agentifui_alembic_config",
            "agentifui_app",
            "agentifui_metadata",
            "app_client",
            "clean_env",
            "connection_manager",
            "database_config",
            "db_session",
            "make_settings",
            "migrated_database",
            "postgres_server",
        } <= set(plugin.__all__)
        assert all(hasattr(plugin, name) for name in plugin.__all__)

    def test_import_is_light(self) -> None:
        """Loading the plugin, as every pytest run does, loads no driver, Alembic or FastAPI."""
        code = (
            "import sys, agentifui_config.testing.plugin; "
            "print(sorted({'asyncpg', 'alembic', 'fastapi', 'httpx', 'pgserver', "
            "'sqlalchemy.ext.asyncio'} & set(sys.modules)))"
        )
        result = subprocess.run(  # noqa: S603 - this interpreter running a fixed snippet
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == "[]"
