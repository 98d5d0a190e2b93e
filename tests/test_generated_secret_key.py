"""The development ``SECRET_KEY`` warning: once per process, and only where the key is used.

Settings loaded in development without ``SECRET_KEY`` get a key generated for
the process and a ``GeneratedSecretKeyWarning``. A script or a server shows it
once however often it loads the settings; of the command line's commands only
``check``, which judges the key, reports it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
from cli_support import clean_environ, run_cli, run_cli_process

from agentifui_config.cli import COMMANDS

if TYPE_CHECKING:
    from agentifui_config.cli.commands import Command

_NOT_SET: Final = "SECRET_KEY: is not set"
# Nothing listens on port 1: doctor's connection is refused at once.
_UNREACHABLE: Final = {"DB_HOST": "127.0.0.1", "DB_PORT": "1"}

# Each leaf command, with the arguments it is run with and whether it reports the generated key.
_COMMAND_LINES: Final = {
    ("check",): ((), True),
    ("show",): ((), False),
    ("env-template",): ((), False),
    ("convert-url",): (("postgresql://app@db.internal/app",), False),
    ("doctor",): (("--timeout", "1"), False),
    ("migrate", "status"): ((), False),
    ("migrate", "current"): ((), False),
    ("migrate", "upgrade"): ((), False),
    ("migrate", "downgrade"): (("base",), False),
    ("migrate", "stamp"): (("head",), False),
    ("migrate", "init"): (("migrations",), False),
}


def _leaves(
    commands: tuple[Command, ...], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Command]]:
    for command in commands:
        names = (*path, command.name)
        if command.subcommands:
            yield from _leaves(command.subcommands, names)
        else:
            yield names, command


def _python(cwd: Path, *args: str) -> str:
    """Run this interpreter with *args* in an environment without our variables; its stderr."""
    completed = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed script
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=clean_environ(),
        cwd=cwd,
        timeout=60,
        check=True,
    )
    return completed.stderr


class TestProcess:
    def test_a_script_that_loads_twice_prints_one_warning(self, tmp_path: Path) -> None:
        """A script loading the settings twice, under Python's default filters, warns once."""
        script = (
            "from agentifui_config import get_settings, load_settings\n"
            "load_settings()\n"
            "load_settings()\n"
            "get_settings()\n"
        )
        stderr = _python(tmp_path, "-c", script)
        assert stderr.count("GeneratedSecretKeyWarning") == 1, stderr
        assert stderr.count(_NOT_SET) == 1

    def test_silenced_with_a_standard_filter(self, tmp_path: Path) -> None:
        """``-W ignore::UserWarning:agentifui_config.settings``, as documented, silences it."""
        script = "from agentifui_config import load_settings; load_settings()"
        ignore = "ignore::UserWarning:agentifui_config.settings"
        assert _python(tmp_path, "-W", ignore, "-c", script) == ""

    def test_show_as_a_process_says_nothing_of_the_key(self, tmp_path: Path) -> None:
        """``agentifui-config show`` run as a process prints no warning about SECRET_KEY."""
        result = run_cli_process("show", env=clean_environ(), cwd=tmp_path)
        assert result.code == 0, result.output
        assert result.stderr == ""
        assert "generated" in result.stdout


class TestCommands:
    def test_every_command_is_decided(self) -> None:
        """Each command is listed here, and only check uses the key."""
        leaves = dict(_leaves(COMMANDS))
        assert set(leaves) == set(_COMMAND_LINES)
        users = {names for names, command in leaves.items() if command.uses_secret_key}
        assert users == {names for names, (_, uses) in _COMMAND_LINES.items() if uses}

    @pytest.mark.parametrize(
        ("names", "arguments", "reports"),
        [(names, arguments, reports) for names, (arguments, reports) in _COMMAND_LINES.items()],
        ids=[" ".join(names) for names in _COMMAND_LINES],
    )
    def test_only_check_reports_the_generated_key(
        self, tmp_path: Path, names: tuple[str, ...], arguments: tuple[str, ...], reports: bool
    ) -> None:
        """Without SECRET_KEY in development, check reports the generated key; no other command."""
        result = run_cli(*names, *arguments, env=clean_environ(**_UNREACHABLE), cwd=tmp_path)
        assert (_NOT_SET in result.output) is reports, result.output
        assert "GeneratedSecretKeyWarning" not in result.output
