"""Tests that no ``agentifui-config`` command prints a secret, its logging included.

Every command runs with distinctive secrets (a database password holding
characters URLs escape, a secret key, a legacy URL with a password), with
``LOG_LEVEL=DEBUG`` and ``DB_ECHO_SQL=true`` so that the library, SQLAlchemy
and Alembic log all they can, through errors and an unexpected exception; no
form of any secret may appear in standard output or standard error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, quote_plus

import pytest_asyncio
from cli_support import (
    CliResult,
    clean_environ,
    database_environ,
    drop_cli_tables,
    run_cli,
    write_revision,
)

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

PASSWORD: Final = "Pw-leak-7Qz@/%4Kx"
SECRET_KEY: Final = "Sk-leak-N3b8V1c6X9z2L5k7J0h4G8f2D6s1A"
SHORT_KEY: Final = "Sk-leak-short9"
URL_PASSWORD: Final = "Url-leak-R5t@8Yu/"
DATABASE_URL: Final = f"postgresql://legacy:{quote(URL_PASSWORD, safe='')}@legacy.internal/old"
SECRETS: Final = (PASSWORD, SECRET_KEY, SHORT_KEY, URL_PASSWORD)

# Revision 0001's upgrade fails with a message that holds the password and the key.
_LEAKY_UPGRADE: Final = (
    "import os; raise RuntimeError("
    "'cannot migrate with ' + os.environ['DB_PASSWORD'] + ' and ' + os.environ['SECRET_KEY'])"
)


def _forms(secret: str) -> set[str]:
    """The ways a secret may be written: as is, URL-escaped, JSON-escaped, repr()."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def _leaks(results: Iterable[CliResult]) -> list[str]:
    """Each secret form found in any result's output, with the output's start for context."""
    return [
        f"{form!r} in {result.output[:200]!r}"
        for result in results
        for secret in SECRETS
        for form in _forms(secret)
        if form in result.output
    ]


@pytest_asyncio.fixture(loop_scope="session")
async def database(database_config: DatabaseConfig) -> AsyncIterator[DatabaseConfig]:
    """The run's database, cleared of the migration's tables after the test."""
    yield database_config
    await drop_cli_tables(database_config)


def _run_all(runs: list[tuple[tuple[str, ...], dict[str, Any]]]) -> list[CliResult]:
    """Run independent commands side by side; the results in the order given."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(run_cli, *args, **options) for args, options in runs]
        return [future.result() for future in futures]


class TestNoSecretInOutput:
    def test_configuration_commands(self, tmp_path: Path) -> None:
        """Check, show (every format), env-template and convert-url print no secret."""
        env = clean_environ(
            DB_PASSWORD=PASSWORD,
            SECRET_KEY=SECRET_KEY,
            DATABASE_URL=DATABASE_URL,
            LOG_LEVEL="DEBUG",
            CORS_ORIGINS="https://app.example.com",
        )
        broken = clean_environ(
            ENVIRONMENT="production",
            SECRET_KEY=SHORT_KEY,
            DB_PASSWORD=PASSWORD,
            DATABASE_URL=f"mysql://legacy:{URL_PASSWORD}@legacy.internal/old",
        )
        (tmp_path / "key").write_text(SECRET_KEY, encoding="utf-8")
        from_file = clean_environ(SECRET_KEY_FILE=str(tmp_path / "key"), DB_PASSWORD=PASSWORD)
        options = {"env": env, "cwd": tmp_path}
        results = _run_all(
            [
                (("check", "--environment", "production"), options),
                (("check",), {"env": broken, "cwd": tmp_path}),
                (("show",), {"env": broken, "cwd": tmp_path}),
                (("show",), options),
                (("show", "--format", "json"), options),
                (("show", "--format", "env"), {"env": from_file, "cwd": tmp_path}),
                (("env-template",), options),
                (("convert-url",), {**options, "stdin": DATABASE_URL}),
                (("convert-url", DATABASE_URL), options),
                (("convert-url", f"mysql://u:{URL_PASSWORD}@h/db"), options),
            ]
        )
        assert [r.code for r in results] == [0, 1, 1, 0, 0, 0, 0, 0, 0, 1]
        assert "DB_PASSWORD" in results[3].stdout
        assert _leaks(results) == []

    def test_database_commands_and_their_logs(
        self, database: DatabaseConfig, tmp_path: Path
    ) -> None:
        """Doctor and every migrate command, logging at DEBUG with SQL echo, print no secret."""
        env = database_environ(
            database,
            DB_PASSWORD=PASSWORD,
            SECRET_KEY=SECRET_KEY,
            DATABASE_URL=DATABASE_URL,
            LOG_LEVEL="DEBUG",
            DB_ECHO_SQL="true",
        )
        staging = {**env, "ENVIRONMENT": "staging"}  # echo on: SQL log lines to check
        unreachable = {**env, "DB_HOST": "127.0.0.1", "DB_PORT": "1"}
        results = [run_cli("migrate", "init", ".", env=env, cwd=tmp_path)]
        write_revision(tmp_path)
        results += [
            run_cli("doctor", env=staging, cwd=tmp_path),
            run_cli("migrate", "status", env=env, cwd=tmp_path),
            run_cli("migrate", "upgrade", "--sql", env=env, cwd=tmp_path),
            upgraded := run_cli("migrate", "upgrade", env=env, cwd=tmp_path),
            run_cli("migrate", "current", env=env, cwd=tmp_path),
            run_cli("migrate", "downgrade", "base", env=env, cwd=tmp_path),
            stamped := run_cli("migrate", "stamp", "0001", env=env, cwd=tmp_path),
            run_cli("migrate", "stamp", "--purge", "base", env=env, cwd=tmp_path),
            run_cli("doctor", "--timeout", "3", env=unreachable, cwd=tmp_path),
        ]
        write_revision(tmp_path, extra=_LEAKY_UPGRADE)
        results.append(run_cli("migrate", "upgrade", "--debug", env=env, cwd=tmp_path))
        assert [r.code for r in results] == [0, 3, 3, 0, 0, 0, 0, 0, 0, 2, 70]
        assert '"level": "info"' in results[1].stderr  # staging logs JSON lines
        assert "Running upgrade" in upgraded.stderr  # Alembic's log reached stderr
        assert "INSERT INTO alembic_version" in upgraded.stderr  # and so did the SQL echo
        assert "INSERT INTO alembic_version" in stamped.stderr  # stamp writes, echoed too
        assert "cannot migrate with **********" in results[-1].stderr
        assert _leaks(results) == []
