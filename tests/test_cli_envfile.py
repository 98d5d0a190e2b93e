"""``.env`` lines the CLI writes read back, through ``load_settings(env_file=...)``, unchanged.

``convert-url --show-password``, ``show --format env`` and ``env-template``
write ``NAME=value`` lines for python-dotenv, the parser the settings read
``.env`` files with: backslashes, quotes, ``#``, ``${...}``, newlines and every
other character must come back as they were written.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import pytest
from cli_support import hide_settings_variables
from dotenv import dotenv_values
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import URL

from agentifui_config import EnvironmentSettings, load_settings
from agentifui_config.cli import main
from agentifui_config.cli.commands import ExitCode
from agentifui_config.cli.envfile import env_line

# Any text an environment variable can hold: every character but NUL (and the
# lone surrogates UTF-8 cannot write).
_TEXT: Final = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1)
_AWKWARD: Final = (
    "x\\",
    "two\\\\backslashes",
    'it\'s "quoted"',
    " # not a comment",
    "${HOME}",
    # A result is printed as it is, even what messages leave out.
    "a\n(Background on this error at: https://sqlalche.me/e/20/e3q8)",
)
# Fixtures are set up once for all examples: each example restores what it changes.
_PROPERTY: Final = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's environment without any variable the settings read."""
    hide_settings_variables(monkeypatch)


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """*values* in ``os.environ`` for the block, removed after it."""
    os.environ.update(values)
    try:
        yield
    finally:
        for name in values:
            os.environ.pop(name, None)


def _run(*argv: str) -> str:
    """Standard output of ``agentifui-config *argv*``, run in this process; it must succeed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    assert code == ExitCode.OK, err.getvalue()
    return out.getvalue()


def _loaded(text: str) -> EnvironmentSettings:
    """The settings *text*, written as a ``.env`` file, gives with nothing else set."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / ".env"
        path.write_text(text, encoding="utf-8")
        return load_settings(env_file=path)


class TestEnvLine:
    @given(_TEXT)
    @example("x\\")
    @example("a ${HOME} b $${X:-y}}")
    @example("line\r\nnext\r")
    @settings(max_examples=500)
    def test_any_value_reads_back_unchanged(self, text: str) -> None:
        """python-dotenv gives back exactly the value written, a comment after it or not."""
        written = f"{env_line('A', text)}  # from somewhere\n{env_line('B', text)}\n"
        assert dotenv_values(stream=io.StringIO(written)) == {"A": text, "B": text}


class TestConvertUrl:
    @given(_TEXT)
    @example("x\\")
    @example("two\\\\backslashes")
    @_PROPERTY
    def test_the_password_comes_back(self, password: str) -> None:
        """convert-url --show-password, saved as .env, loads the URL's password unchanged."""
        url = URL.create("postgresql", "app", password, "db.internal", 6432, "appdb")
        output = _run("convert-url", url.render_as_string(hide_password=False), "--show-password")
        assert _loaded(output).database.password.get_secret_value() == password

    def test_a_backslash_password_is_written_for_dotenv(self) -> None:
        """The issue's URL: a password ending in a backslash is not swallowed by its quote."""
        output = _run(
            "convert-url", "postgresql://app:x%5C@db.internal:6432/appdb", "--show-password"
        )
        assert 'DB_PASSWORD="x\\\\"' in output.splitlines()


class TestShowEnv:
    @given(name=_TEXT, option=_TEXT)
    @example(name="ends in a backslash\\", option="x\\y")
    @_PROPERTY
    def test_values_come_back(self, name: str, option: str) -> None:
        """Lines of show --format env, saved as .env, load the same application name and options."""
        given = {"DB_APPLICATION_NAME": name, "DB_OPTIONS": json.dumps({"k": option})}
        with _environ(given):
            expected = load_settings().database
            output = _run("show", "--format", "env")
        loaded = _loaded(output).database
        assert (loaded.application_name, loaded.options) == (
            expected.application_name,
            expected.options,
        )
        assert (loaded.application_name, loaded.options) == (name, {"k": option})

    @pytest.mark.parametrize("name", _AWKWARD)
    def test_awkward_names_come_back_as_given(self, name: str) -> None:
        """The examples of the issue load back exactly, not stripped or emptied."""
        with _environ({"DB_APPLICATION_NAME": name}):
            output = _run("show", "--format", "env")
        assert _loaded(output).database.application_name == name
