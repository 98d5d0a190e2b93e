"""Tests for ``agentifui-config`` without a database: help, check, show, env-template, convert-url.

Each command runs in this process (``main(argv)``) in an environment stripped
of every variable the settings read; see ``cli_support``. A few smoke tests
run the real ``python -m agentifui_config`` process, and the terminal tests
give one a pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path
from typing import Final

import pytest
from cli_support import clean_environ, cli_command, run_cli, run_cli_process
from dotenv import dotenv_values

from agentifui_config import load_settings
from agentifui_config.cli import COMMANDS, ExitCode, build_parser
from agentifui_config.cli.template import render_env_template
from agentifui_config.policies import RULES
from agentifui_config.secrecy import SECRET_VARIABLES
from agentifui_config.settings import variable_names

SECRET_KEY: Final = "Sk-cli-4f9a2b7c1d8e3f6a0b5c9d2e7f1a4b8c"
PASSWORD: Final = "Pw-cli-7e3d9c1b"
# What show lists: every variable the settings read but the secret files, except
# DB_PASSWORD_FILE and DB_READ_PASSWORD_FILE, settings too (the files read again once rotated).
_ROTATED: Final = ("DB_PASSWORD_FILE", "DB_READ_PASSWORD_FILE")
_SHOWN: Final = [
    name for name in variable_names() if not name.endswith("_FILE") or name in _ROTATED
]
_EXAMPLE: Final = re.compile(r"# (?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)")
_ANSI: Final = "\x1b["


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    """An empty working directory for one run: no stray .env or alembic.ini."""
    return tmp_path


@pytest.fixture
def _clean_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's environment without our variables, for in-process loading."""
    kept = clean_environ()
    for name in list(os.environ):
        if name not in kept:
            monkeypatch.delenv(name)


def _run_on_terminal(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run the command with standard input and output on a pseudo-terminal; return its output."""
    primary, secondary = pty.openpty()
    with subprocess.Popen(  # noqa: S603 - runs this interpreter on the package
        [*cli_command(), *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        cwd=cwd,
    ) as process:
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the terminal's other end closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
    os.close(primary)
    return b"".join(chunks).decode()


class TestHelp:
    def test_top_level_help_lists_commands_and_exit_codes(self, cwd: Path) -> None:
        """--help lists every command and the exit statuses, and exits 0."""
        result = run_cli("--help", cwd=cwd)
        assert result.code == ExitCode.OK
        for command in COMMANDS:
            assert command.name in result.stdout
        assert "64  wrong usage" in result.stdout
        assert "--debug" in result.stdout

    def test_migrate_help_lists_subcommands(self, cwd: Path) -> None:
        """The migrate --help text lists status, upgrade, downgrade, current, stamp and init."""
        result = run_cli("migrate", "--help", cwd=cwd)
        assert result.code == ExitCode.OK
        for name in ("status", "upgrade", "downgrade", "current", "stamp", "init"):
            assert name in result.stdout

    def test_every_command_has_a_description(self) -> None:
        """Each command and subcommand has a summary and a --help description."""
        commands = [*COMMANDS, *(sub for c in COMMANDS for sub in c.subcommands)]
        assert all(c.summary and c.description for c in commands)
        assert "REVISION" in build_parser().parse_args(["migrate", "upgrade"]).parser.format_help()

    def test_no_command_prints_help_and_exits_64(self, cwd: Path) -> None:
        """Without a command, or with a group alone, the help goes to stderr with status 64."""
        bare = run_cli(cwd=cwd)
        group = run_cli("migrate", cwd=cwd)
        assert (bare.code, group.code) == (ExitCode.USAGE, ExitCode.USAGE)
        assert "COMMAND" in bare.stderr
        assert "upgrade" in group.stderr

    def test_usage_error_is_one_line_and_exits_64(self, cwd: Path) -> None:
        """An unknown option ends with one error line naming it, no traceback, status 64."""
        result = run_cli("check", "--bogus", cwd=cwd)
        assert result.code == ExitCode.USAGE
        assert result.stdout == ""
        assert result.stderr.splitlines()[-1] == (
            "agentifui-config: error: unrecognized arguments: --bogus"
        )
        assert "Traceback" not in result.stderr

    def test_version(self, cwd: Path) -> None:
        """--version prints the program and the package version."""
        result = run_cli("--version", cwd=cwd)
        assert result.code == ExitCode.OK
        assert re.fullmatch(r"agentifui-config \d+\.\d+\.\d+\S*\n", result.stdout)


class TestProcess:
    """Smoke tests of the real process: what ``main(argv)`` in this process cannot show."""

    def test_version_and_usage_error_statuses(self, cwd: Path) -> None:
        """``python -m agentifui_config`` prints its version, and exits 64 on a usage error."""
        version = run_cli_process("--version", cwd=cwd)
        usage = run_cli_process("check", "--bogus", cwd=cwd)
        assert version.code == ExitCode.OK
        assert re.fullmatch(r"agentifui-config \d+\.\d+\.\d+\S*\n", version.stdout)
        assert usage.code == ExitCode.USAGE
        assert usage.stderr.endswith("unrecognized arguments: --bogus\n")

    def test_check_and_convert_url_from_standard_input(self, cwd: Path) -> None:
        """A process reads its environment and its piped standard input, masking the password."""
        checked = run_cli_process("check", env=clean_environ(DB_PORT="nope"), cwd=cwd)
        converted = run_cli_process(
            "convert-url", stdin=f"postgresql://app:{PASSWORD}@db.internal/app\n", cwd=cwd
        )
        assert checked.code == ExitCode.INVALID
        assert "DB_PORT: expected a whole number" in checked.stdout
        assert converted.code == ExitCode.OK
        assert "DB_HOST=db.internal" in converted.stdout
        assert PASSWORD not in converted.output


class TestCheck:
    def test_valid_configuration_exits_0_and_lists_warnings(self, cwd: Path) -> None:
        """A valid development configuration exits 0, its warnings printed with their fixes."""
        result = run_cli("check", cwd=cwd)
        assert result.code == ExitCode.OK
        assert "warning  SECRET_KEY: is not set" in result.stdout
        assert "[secret-key-generated]" in result.stdout
        assert "fix: set SECRET_KEY" in result.stdout
        assert result.stdout.splitlines()[-1] == "ok: valid for development (1 warning)"
        assert result.stderr == ""

    def test_errors_exit_1_with_every_finding_and_fix(self, cwd: Path) -> None:
        """Every error is printed with its fix, and the status is 1; nothing goes to stderr."""
        env = clean_environ(ENVIRONMENT="production", DB_PORT="abc", DB_HSOT="db", SECRET_KEY="x")
        result = run_cli("check", env=env, cwd=cwd)
        assert result.code == ExitCode.INVALID
        for expected in (
            "error    DB_PORT: expected a whole number, got 'abc'",
            "error    SECRET_KEY: is shorter than 32 characters [secret-key-short]",
            "error    DB_HSOT: is not a variable agentifui-config reads",
            "fix: did you mean DB_HOST?",
            "[db-password-missing]",
        ):
            assert expected in result.stdout
        assert result.stdout.splitlines()[-1].startswith("fail: invalid configuration: ")
        assert result.stderr == ""

    def test_strict_fails_on_warnings(self, cwd: Path) -> None:
        """With --strict a warning alone makes the status 1."""
        result = run_cli("check", "--strict", cwd=cwd)
        assert result.code == ExitCode.INVALID
        assert "(--strict fails on warnings)" in result.stdout

    def test_environment_option_validates_as_another_environment(self, cwd: Path) -> None:
        """--environment production applies production's rules to a development environment."""
        env = clean_environ(ENVIRONMENT="development", SECRET_KEY=SECRET_KEY)
        assert run_cli("check", env=env, cwd=cwd).code == ExitCode.OK
        result = run_cli("check", "--environment", "prod", env=env, cwd=cwd)
        assert result.code == ExitCode.INVALID
        assert "[db-host-default]" in result.stdout

    def test_env_file_is_read_and_must_exist(self, cwd: Path) -> None:
        """--env-file values are judged; a missing file is an error, not silently ignored."""
        (cwd / "prod.env").write_text("ENVIRONMENT=production\nDEBUG=true\n", encoding="utf-8")
        judged = run_cli("check", "--env-file", "prod.env", cwd=cwd)
        missing = run_cli("check", "--env-file", "missing.env", cwd=cwd)
        assert judged.code == missing.code == ExitCode.INVALID
        assert "[debug-enabled]" in judged.stdout
        assert "error    --env-file: cannot read 'missing.env'" in missing.stdout


class TestShow:
    def test_table_names_every_source_and_masks_secrets(self, cwd: Path) -> None:
        """The table shows each value's source (environment, .env, secret file, URL, default)."""
        (cwd / ".env").write_text("DB_PORT=6543\nLOG_LEVEL=warning\n", encoding="utf-8")
        (cwd / "key").write_text(SECRET_KEY + "\n", encoding="utf-8")
        env = clean_environ(
            DB_HOST="db.internal",
            DB_PASSWORD=PASSWORD,
            SECRET_KEY_FILE=str(cwd / "key"),
            DATABASE_URL="postgresql://legacy@old.internal/legacy_db",
        )
        result = run_cli("show", "--env-file", ".env", env=env, cwd=cwd)
        assert result.code == ExitCode.OK
        rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
        assert rows["DB_HOST"][1:] == ["db.internal", "environment"]
        assert rows["DB_PORT"][1:] == ["6543", ".env", "file"]
        assert rows["LOG_LEVEL"][1:] == ["WARNING", ".env", "file"]
        assert rows["SECRET_KEY"][1:] == ["**********", "secret", "file"]
        assert rows["DB_PASSWORD"][1:] == ["**********", "environment"]
        assert rows["DB_DATABASE"][1:] == ["legacy_db", "DATABASE_URL"]
        assert rows["DB_POOL_SIZE"][1:] == ["5", "default"]
        assert set(rows) == set(_SHOWN)
        assert PASSWORD not in result.output
        assert SECRET_KEY not in result.output
        assert "DATABASE_URL: is deprecated" in result.stderr

    def test_the_migration_url_is_a_secret_row(self, cwd: Path) -> None:
        """MIGRATION_DATABASE_URL is masked whole, as its password and options are secret."""
        url = f"postgresql://migrator:{PASSWORD}@direct.internal:5433/app?sslpassword={PASSWORD}"
        env = clean_environ(MIGRATION_DATABASE_URL=url)
        result = run_cli("show", "--format", "json", env=env, cwd=cwd)
        assert result.code == ExitCode.OK, result.output
        row = json.loads(result.stdout)["MIGRATION_DATABASE_URL"]
        assert (row["value"], row["source"], row["secret"]) == ("**********", "environment", True)
        assert PASSWORD not in result.output

    def test_the_docs_name_each_secret_variable(self) -> None:
        """docs/cli.md lists every variable show masks whole (secrecy.SECRET_VARIABLES)."""
        page = Path(__file__).parents[1] / "docs" / "cli.md"
        line = next(
            s for s in page.read_text(encoding="utf-8").splitlines() if s.startswith("Secrets (")
        )
        assert [name for name in SECRET_VARIABLES if f"`{name}`" not in line] == []

    def test_json_is_keyed_by_variable(self, cwd: Path) -> None:
        """JSON gives value, source and secrecy per variable; the generated key is marked."""
        options = '{"sslpassword": "Opt-secret-93", "api-key": "Opt-secret-94", "x": "y"}'
        result = run_cli("show", "--format", "json", env=clean_environ(DB_OPTIONS=options), cwd=cwd)
        assert result.code == ExitCode.OK
        document = json.loads(result.stdout)
        assert document["DB_OPTIONS"] == {
            "value": {"sslpassword": "**********", "api-key": "**********", "x": "y"},
            "source": "environment",
            "secret": True,
            "refused": False,
        }
        assert document["CORS_ORIGINS"] == {
            "value": ["http://localhost:3000"],
            "source": "default",
            "secret": False,
            "refused": False,
        }
        assert document["SECRET_KEY"] == {
            "value": "**********",
            "source": "generated",
            "secret": True,
            "refused": False,
        }
        assert document["DB_PASSWORD"]["value"] == ""
        assert document["DB_STATEMENT_TIMEOUT"]["value"] is None

    def test_env_format_reads_back_as_the_same_configuration(self, cwd: Path) -> None:
        """--format env lines, read as a .env file, give the same non-secret values."""
        env = clean_environ(
            CORS_ORIGINS="https://a.example.com,https://b.example.com",
            FEATURE_FLAGS="beta,old=off",
            DB_OPTIONS='{"target_session_attrs": "read-write"}',
            DB_APPLICATION_NAME="my service",
            DB_PASSWORD=PASSWORD,
        )
        result = run_cli("show", "--format", "env", env=env, cwd=cwd)
        assert result.code == ExitCode.OK
        assert "# DB_PASSWORD: secret, not shown  # environment" in result.stdout
        (cwd / "shown.env").write_text(result.stdout, encoding="utf-8")
        values = dotenv_values(cwd / "shown.env")
        assert values["DB_APPLICATION_NAME"] == "my service"
        assert values["FEATURE_FLAGS"] == '{"beta": true, "old": false}'
        assert "DB_PASSWORD" not in values
        again = run_cli("show", "--format", "json", "--env-file", "shown.env", cwd=cwd)
        before = json.loads(run_cli("show", "--format", "json", env=env, cwd=cwd).stdout)
        after = json.loads(again.stdout)
        assert {k: v["value"] for k, v in after.items() if not v["secret"]} == {
            k: v["value"] for k, v in before.items() if not v["secret"]
        }

    def test_invalid_configuration_exits_1_with_error_lines(self, cwd: Path) -> None:
        """An invalid configuration prints one error line per finding on stderr, status 1."""
        env = clean_environ(DB_PORT="x", LOG_LEVEL="loud", DB_HOST="db.internal")
        result = run_cli("show", env=env, cwd=cwd)
        assert result.code == ExitCode.INVALID
        # show does not use SECRET_KEY: its row says "generated", and no warning repeats it.
        lines = result.stderr.splitlines()
        assert len(lines) == 2
        assert all(line.startswith("agentifui-config: error: ") for line in lines)
        rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:]}
        assert rows["DB_PORT"] == ["(refused)", "environment"]
        assert rows["LOG_LEVEL"] == ["(refused)", "environment"]
        assert rows["DB_HOST"] == ["db.internal", "environment"]

    @pytest.mark.parametrize("output", ["table", "json", "env"])
    def test_any_finding_still_prints_every_variable(self, cwd: Path, output: str) -> None:
        """Even a development typo fails show, after every variable read and its source."""
        (cwd / ".env").write_text("DB_HSOT=x\nDB_PORT=6543\n", encoding="utf-8")
        env = clean_environ(DB_PASSWORD=PASSWORD, LOG_LEVEL="debug")
        result = run_cli("show", "--format", output, "--env-file", ".env", env=env, cwd=cwd)
        assert result.code == ExitCode.INVALID
        assert "agentifui-config: error: DB_HSOT: is not a variable" in result.stderr
        assert "did you mean DB_HOST?" in result.stderr
        assert PASSWORD not in result.output
        shown = _SHOWN
        if output == "json":
            document = json.loads(result.stdout)
            assert list(document) == shown
            assert document["DB_PORT"]["source"] == ".env file"
            assert document["LOG_LEVEL"] == {
                "value": "DEBUG",
                "source": "environment",
                "secret": False,
                "refused": False,
            }
        else:
            for name in shown:
                assert name in result.stdout
            assert "6543" in result.stdout


class TestEnvTemplate:
    def test_prints_and_writes_the_rendered_template(self, cwd: Path) -> None:
        """The command prints the template, and -o writes the same text to a file."""
        printed = run_cli("env-template", cwd=cwd)
        written = run_cli("env-template", "-o", ".env.example", cwd=cwd)
        assert (printed.code, written.code) == (ExitCode.OK, ExitCode.OK)
        assert printed.stdout == render_env_template()
        assert (cwd / ".env.example").read_text(encoding="utf-8") == render_env_template()

    def test_lists_every_variable_and_rule(self) -> None:
        """Every variable has one example line, and every rule id is named."""
        text = render_env_template()
        examples = [m["name"] for line in text.splitlines() if (m := _EXAMPLE.fullmatch(line))]
        assert sorted(examples) == sorted(variable_names())
        for rule in RULES:
            assert f"[{rule.id}]" in text

    def test_secrets_and_unset_variables_have_empty_examples(self) -> None:
        """Secrets and variables without a default show an empty value."""
        text = render_env_template()
        for name in ("SECRET_KEY", "DB_PASSWORD", "DATABASE_URL", "DB_SSL_MODE"):
            assert f"# {name}=\n" in text
        assert "# DB_PASSWORD (secret)\n" in text

    @pytest.mark.usefixtures("_clean_process_environment")
    def test_examples_parse_back_to_the_defaults(self, tmp_path: Path) -> None:
        """The example lines with a value, uncommented, load in development as the defaults."""
        lines = [
            f"{m['name']}={m['value']}"
            for line in render_env_template().splitlines()
            if (m := _EXAMPLE.fullmatch(line)) and m["value"]
        ]
        path = tmp_path / ".env"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        from_template = load_settings(path).model_dump(exclude={"secret_key"})
        assert from_template == load_settings().model_dump(exclude={"secret_key"})

    @pytest.mark.usefixtures("_clean_process_environment")
    def test_every_example_line_loads(self, tmp_path: Path) -> None:
        """Every commented example line, uncommented, loads: alone, and all together."""
        lines = [
            f"{m['name']}={m['value']}"
            for line in render_env_template().splitlines()
            if (m := _EXAMPLE.fullmatch(line))
        ]
        assert "DB_STATEMENT_TIMEOUT=" in lines
        assert "DB_SSL_MODE=" in lines
        path = tmp_path / ".env"
        for text in [*lines, "\n".join(lines)]:
            path.write_text(text + "\n", encoding="utf-8")
            assert load_settings(path).environment.value == "development", text


class TestConvertUrl:
    URL: Final = f"postgresql://app:{PASSWORD}@db.internal:6432/app?sslmode=require&x=a%20b"

    def test_argument_gives_db_lines_with_the_password_masked(self, cwd: Path) -> None:
        """A URL argument gives its DB_* lines; the password is masked and a hint says so."""
        result = run_cli("convert-url", self.URL, cwd=cwd)
        assert result.code == ExitCode.OK
        assert result.stdout.splitlines() == [
            "DB_DRIVER=postgresql+asyncpg",
            "DB_USERNAME=app",
            "DB_PASSWORD=**********",
            "DB_HOST=db.internal",
            "DB_DATABASE=app",
            "DB_PORT=6432",
            "DB_SSL_MODE=require",
            """DB_OPTIONS='{"x": "a b"}'""",
        ]
        assert "--show-password" in result.stderr
        assert PASSWORD not in result.output

    def test_standard_input_and_show_password(self, cwd: Path) -> None:
        """'-' and piped input read the URL from stdin; --show-password prints it quoted."""
        url = "postgres://app:p%40ss%20w%23rd@db/app"
        dash = run_cli("convert-url", "--show-password", "-", stdin=url + "\n", cwd=cwd)
        piped = run_cli("convert-url", stdin=url, cwd=cwd)
        assert dash.code == piped.code == ExitCode.OK
        assert "DB_PASSWORD='p@ss w#rd'" in dash.stdout.splitlines()
        assert "DB_PASSWORD=**********" in piped.stdout.splitlines()

    def test_missing_or_invalid_url_exits_1(self, cwd: Path) -> None:
        """No URL, or one that is not PostgreSQL, is one error line and status 1."""
        empty = run_cli("convert-url", stdin="", cwd=cwd)
        mysql = run_cli("convert-url", "mysql://root:hunter22@db/app", cwd=cwd)
        assert empty.code == mysql.code == ExitCode.INVALID
        assert empty.stderr.startswith("agentifui-config: error: no database URL given")
        assert mysql.stderr.startswith("agentifui-config: error: DATABASE_URL: scheme 'mysql'")
        assert "hunter22" not in mysql.output

    def test_terminal_reads_database_url_from_the_environment(self, cwd: Path) -> None:
        """Without an argument and on a terminal, DATABASE_URL of the environment is converted."""
        env = clean_environ(DATABASE_URL=self.URL)
        output = _run_on_terminal(["convert-url"], env, cwd)
        assert "DB_HOST=db.internal" in output
        assert PASSWORD not in output


class TestColour:
    def test_colour_only_on_a_terminal_without_no_color(self, cwd: Path) -> None:
        """A terminal gets coloured states; NO_COLOR and pipes get plain text."""
        coloured = _run_on_terminal(["check"], clean_environ(), cwd)
        plain = _run_on_terminal(["check"], clean_environ(NO_COLOR="1"), cwd)
        piped = run_cli("check", cwd=cwd)
        assert f"{_ANSI}33mwarning" in coloured
        assert _ANSI not in plain
        assert "warning  SECRET_KEY" in plain
        assert _ANSI not in piped.output
