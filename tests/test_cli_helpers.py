"""Tests for what the CLI is built from, in-process: provenance, warnings, output helpers.

``agentifui_config.sources.value_origins()`` and
``agentifui_config.settings.configuration_warnings()`` serve ``show`` and
``check``; the rest are the CLI's own pieces, checked here where a subprocess
would be slow to reach each branch.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest
from cli_support import hide_settings_variables

from agentifui_config import ConfigurationError, DatabaseConfig, load_settings
from agentifui_config.cli import main
from agentifui_config.cli.commands import ExitCode, lazy
from agentifui_config.cli.console import Console, counted
from agentifui_config.cli.database import describe_migrations
from agentifui_config.cli.envfile import env_line, env_text
from agentifui_config.cli.loading import env_file_path
from agentifui_config.errors import Finding, Severity
from agentifui_config.health import MigrationState, MigrationStatus
from agentifui_config.settings import EnvironmentSettings, configuration_warnings
from agentifui_config.sources import Origin, value_origins


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's environment without any variable the settings read."""
    hide_settings_variables(monkeypatch)


class TestValueOrigins:
    def test_each_source_is_named(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Argument, environment, secret file, .env, DATABASE_URL and default are told apart."""
        (tmp_path / "key").write_text("k" * 40, encoding="utf-8")
        (tmp_path / ".env").write_text("DB_PORT=6543\nLOG_LEVEL=debug\n", encoding="utf-8")
        monkeypatch.setenv("DB_HOST", "db.internal")
        monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "key"))
        monkeypatch.setenv("DATABASE_URL", "postgresql://legacy@old/legacy_db")
        origins = value_origins(
            EnvironmentSettings, env_file=tmp_path / ".env", overrides={"debug": True}
        )
        assert origins["DEBUG"] is Origin.ARGUMENT
        assert origins["DB_HOST"] is Origin.ENVIRONMENT
        assert origins["SECRET_KEY"] is Origin.SECRET_FILE
        assert (origins["DB_PORT"], origins["LOG_LEVEL"]) == (Origin.DOTENV, Origin.DOTENV)
        assert origins["DB_DATABASE"] is Origin.DATABASE_URL
        assert origins["DB_POOL_SIZE"] is Origin.DEFAULT
        assert list(origins)[:2] == ["ENVIRONMENT", "DATABASE_URL"]

    def test_precedence_follows_loading(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The environment beats a secret file, which beats the .env file, as loading has it."""
        (tmp_path / "pw").write_text("from-file", encoding="utf-8")
        (tmp_path / ".env").write_text(
            f"DB_PASSWORD=from-dotenv\nDB_PASSWORD_FILE={tmp_path / 'pw'}\nSECRET_KEY=x\n",
            encoding="utf-8",
        )
        monkeypatch.setenv("SECRET_KEY", "from-environment")
        origins = value_origins(EnvironmentSettings, env_file=tmp_path / ".env")
        settings = load_settings(tmp_path / ".env")
        assert origins["SECRET_KEY"] is Origin.ENVIRONMENT
        assert origins["DB_PASSWORD"] is Origin.SECRET_FILE
        assert settings.database.password.get_secret_value() == "from-file"

    def test_a_database_argument_sets_every_db_variable(self) -> None:
        """A DatabaseConfig given as an argument is the origin of every DB_* variable."""
        origins = value_origins(EnvironmentSettings, overrides={"database": DatabaseConfig()})
        db = {name: origin for name, origin in origins.items() if name.startswith("DB_")}
        assert set(db.values()) == {Origin.ARGUMENT}
        assert origins["ENVIRONMENT"] is Origin.DEFAULT


class TestConfigurationWarnings:
    def test_rule_and_near_miss_warnings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The warnings loading logs come back as findings: rules and near-miss names."""
        monkeypatch.setenv("DB_HOST", "db.internal")
        monkeypatch.setenv("DB_HSOT", "db.internal")
        settings = load_settings()
        warnings = configuration_warnings(settings)
        assert [(f.variable, f.rule) for f in warnings] == [
            ("SECRET_KEY", "secret-key-generated"),
            ("DB_HSOT", "unknown-variable"),
        ]
        assert all(f.severity is Severity.WARNING for f in warnings)


class TestEnvFile:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (None, ""),
            (True, "true"),
            (["a", "b"], "a,b"),
            (["a,b", "c"], '["a,b", "c"]'),
            ({"x": "y"}, '{"x": "y"}'),
            (MigrationState.PENDING, "pending"),
            (2.5, "2.5"),
        ],
    )
    def test_env_text(self, value: object, text: str) -> None:
        """Values are written as the settings parse them back."""
        assert env_text(value) == text

    @pytest.mark.parametrize(
        ("text", "line"),
        [
            ("plain-value_1.2:3/4@*+%=", "N=plain-value_1.2:3/4@*+%="),
            ("two words", "N='two words'"),
            ('it\'s "x" \\', 'N="it\'s \\"x\\" \\\\"'),
            ("x\\", 'N="x\\\\"'),
            ("a\nb", 'N="a\\nb"'),
            ("${HOME}", "N='${:-${}HOME}'"),
        ],
    )
    def test_env_line_quotes_only_when_needed(self, text: str, line: str) -> None:
        """Bare when safe, single quotes otherwise, double quotes with escapes when needed."""
        assert env_line("N", text) == line

    def test_env_file_path_refuses_what_cannot_be_read(self, tmp_path: Path) -> None:
        """A missing file or one that is not UTF-8 is a finding on --env-file."""
        (tmp_path / "latin1.env").write_bytes(b"A=\xe9\n")
        assert env_file_path(None) is None
        with pytest.raises(ConfigurationError, match=r"--env-file: .*not UTF-8 text"):
            env_file_path(str(tmp_path / "latin1.env"))
        with pytest.raises(ConfigurationError, match=r"--env-file: cannot read"):
            env_file_path(str(tmp_path / "missing.env"))


class TestDescribeMigrations:
    @pytest.mark.parametrize(
        ("status", "state", "detail"),
        [
            (
                MigrationStatus(state=MigrationState.UP_TO_DATE, current_revisions=("a",)),
                "ok",
                "at a",
            ),
            (
                MigrationStatus(state=MigrationState.PENDING, pending_revisions=("a", "b")),
                "fail",
                "2 pending (a, b), the database is at base",
            ),
            (
                MigrationStatus(state=MigrationState.UNKNOWN_REVISION, current_revisions=("z",)),
                "fail",
                "at z, which the migration scripts do not hold",
            ),
            (MigrationStatus.not_configured(), "skip", "not configured"),
            (MigrationStatus(state=MigrationState.ERROR, error="2 heads"), "fail", "2 heads"),
            (MigrationStatus(state=MigrationState.ERROR), "fail", "could not be read"),
        ],
    )
    def test_each_state(self, status: MigrationStatus, state: str, detail: str) -> None:
        """Every migration state has a step state and a line that says what to do."""
        found_state, found_detail = describe_migrations(status)
        assert found_state == state
        assert detail in found_detail


class TestConsole:
    def test_unexpected_errors_are_scrubbed(self) -> None:
        """An unexpected error's line and traceback mask every protected secret."""
        out, err = io.StringIO(), io.StringIO()
        console = Console(out, err, colour=False)
        console.protect("Pw-unit-1234", None, "")
        try:
            raise RuntimeError("failed with Pw-unit-1234\nsecond line")
        except RuntimeError as exc:
            console.unexpected(exc, debug=True)
        assert "Pw-unit-1234" not in err.getvalue()
        assert "Traceback" in err.getvalue()
        assert err.getvalue().splitlines()[-1] == (
            "agentifui-config: error: unexpected RuntimeError: failed with **********"
        )
        assert console.secrets == frozenset({"Pw-unit-1234"})

    def test_colour_and_findings(self) -> None:
        """Forced colour paints states; a finding prints its rule and fix."""
        out = io.StringIO()
        console = Console(out, io.StringIO(), colour=True)
        console.finding(Finding("DB_PORT", "is wrong", "fix it", Severity.ERROR, "rule-id"))
        assert out.getvalue() == (
            "\x1b[31merror  \x1b[0m  DB_PORT: is wrong [rule-id]\n         fix: fix it\n"
        )
        assert console.colour

    def test_counted(self) -> None:
        """Counts name each severity present, in the singular or plural."""
        error = Finding("A", "x")
        warning = Finding("B", "y", severity=Severity.WARNING)
        assert counted([error, error, warning]) == "2 errors, 1 warning"
        assert counted([]) == "no findings"


class TestMain:
    def test_returns_the_status_instead_of_exiting(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """In-process, --version and usage errors return their status rather than exit."""
        assert main(["--version"]) == ExitCode.OK
        assert main(["no-such-command"]) == ExitCode.USAGE
        assert main(["migrate"]) == ExitCode.USAGE
        captured = capsys.readouterr()
        assert captured.out.startswith("agentifui-config ")
        assert "invalid choice: 'no-such-command'" in captured.err


class TestLazy:
    def test_imports_the_runner_when_called(self) -> None:
        """A lazy runner resolves module:function at call time and passes its arguments on."""
        run = lazy("agentifui_config.cli.template:_run")
        out = io.StringIO()
        code = run(argparse.Namespace(output=None), Console(out, io.StringIO(), colour=False))
        assert code == ExitCode.OK
        assert out.getvalue().startswith("# Configuration of a service")


_HEAVY: Final = frozenset({"structlog", "sqlalchemy.ext.asyncio", "alembic"})


class TestStartup:
    @pytest.mark.parametrize(
        ("module", "loaded"),
        [("agentifui_config.cli", frozenset()), ("agentifui_config.cli.database", _HEAVY)],
    )
    def test_heavy_modules_wait_for_doctor_and_migrate(
        self, module: str, loaded: frozenset[str]
    ) -> None:
        """Starting the CLI imports no structlog, async engine or Alembic; doctor's module does."""
        probe = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
        result = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed script
            [sys.executable, "-c", probe], capture_output=True, check=True, text=True, timeout=60
        )
        assert _HEAVY & set(json.loads(result.stdout)) == loaded
