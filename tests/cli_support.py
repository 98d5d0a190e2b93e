"""Helpers of the CLI tests: run ``agentifui-config`` in a controlled environment.

:func:`run_cli` calls :func:`agentifui_config.cli.main` in this process, with
the environment, working directory, standard input and output swapped for the
run's own: a run costs milliseconds where starting an interpreter costs a
second. :func:`run_cli_process` runs the real command as a subprocess, for the
few smoke tests of what only a process shows (the entry point, signals, a
terminal); it runs under ``coverage run`` when the test run itself is measured,
writing its data next to the run's own, so that ``coverage combine`` counts the
CLI's lines too.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentifui_config.cli import main
from agentifui_config.settings import get_settings
from agentifui_config.testing.fixtures import hidden_variables

if TYPE_CHECKING:
    import pytest
    from coverage import Coverage

    from agentifui_config import DatabaseConfig

__all__ = [
    "REVISION",
    "CliResult",
    "clean_environ",
    "cli_command",
    "database_environ",
    "drop_cli_tables",
    "hide_settings_variables",
    "run_cli",
    "run_cli_process",
    "write_revision",
]

# Beyond what clean_env hides, never inherited from the developer's shell: look-alikes
# of ours, and the colour switches the CLI reads outside the settings.
_CORS_PREFIX: Final = "CORS_"
_STRAY: Final = frozenset({"DB", "DATABASE", "NO_COLOR", "FORCE_COLOR"})

REVISION: Final = '''"""Create the cli_items table."""

from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("cli_items", sa.Column("id", sa.Integer, primary_key=True))
    {extra}


def downgrade() -> None:
    op.drop_table("cli_items")
'''
"""A migration file creating ``cli_items``; ``{extra}`` is one more statement of its upgrade."""


@dataclass(frozen=True)
class CliResult:
    """What one run of the command printed and returned."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Standard output and standard error together, for assertions about both."""
        return self.stdout + self.stderr


def clean_environ(**extra: str) -> dict[str, str]:
    """``os.environ`` without the variables the settings read (or look-alikes), plus *extra*.

    What ``clean_env`` hides (:func:`~agentifui_config.testing.fixtures.hidden_variables`),
    and also the colour switches and every ``CORS_`` name, which a subprocess would see.
    """
    hidden = hidden_variables()
    kept = {
        name: value
        for name, value in os.environ.items()
        if not (name in hidden or name.upper() in _STRAY or name.upper().startswith(_CORS_PREFIX))
    }
    return {**kept, **extra}


def hide_settings_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove from this process's environment what :func:`clean_environ` leaves out."""
    kept = clean_environ()
    for name in list(os.environ):
        if name not in kept:
            monkeypatch.delenv(name)


def database_environ(config: DatabaseConfig, **extra: str) -> dict[str, str]:
    """:func:`clean_environ` with the ``DB_*`` variables that reach *config*'s database."""
    parts = {
        "DB_HOST": config.host,
        "DB_PORT": str(config.port),
        "DB_USERNAME": config.username,
        "DB_PASSWORD": config.password.get_secret_value(),
        "DB_DATABASE": config.database,
    }
    return clean_environ(**{**parts, **extra})


def cli_command() -> list[str]:
    """The command line that runs ``agentifui-config``: under coverage when this run is measured."""
    cov = _active_coverage()
    if cov is None:
        return [sys.executable, "-m", "agentifui_config"]
    options = ["--parallel-mode", f"--data-file={os.path.abspath(cov.config.data_file)}"]
    if cov.config.config_file:
        options.append(f"--rcfile={cov.config.config_file}")
    return [sys.executable, "-m", "coverage", "run", *options, "-m", "agentifui_config"]


def _active_coverage() -> Coverage | None:
    if "coverage" not in sys.modules:
        return None
    import coverage

    return coverage.Coverage.current()


# A run swaps process-wide state (environment, directory, standard streams): one at a time.
_ONE_RUN: Final = threading.Lock()


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str = "",
) -> CliResult:
    """Run ``agentifui-config ARGS`` in this process to completion and return what it printed.

    The command sees only *env* as its environment, *cwd* as its working
    directory and *stdin* on a standard input that is not a terminal; its
    warnings are printed, not raised, as a process would print them. It runs
    on a thread of its own, so its ``asyncio.run()`` touches no test's loop.

    Args:
        *args: The command line after the program name.
        env: The whole environment; :func:`clean_environ` by default.
        cwd: The working directory; it must be given, so that no stray
            ``alembic.ini`` or ``.env`` is found by accident.
        stdin: Text fed to standard input (never a terminal).
    """
    assert cwd is not None, "give each run a working directory of its own"
    environment = dict(clean_environ() if env is None else env)
    out, err = io.StringIO(), io.StringIO()
    with (
        _ONE_RUN,
        _environment(environment),
        contextlib.chdir(cwd),
        _standard_input(stdin),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
        ThreadPoolExecutor(max_workers=1) as worker,
    ):
        warnings.simplefilter("default")
        get_settings.cache_clear()
        code = worker.submit(main, list(args)).result()
    get_settings.cache_clear()
    return CliResult(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _environment(environment: Mapping[str, str]) -> Iterator[None]:
    """Make *environment* the whole of ``os.environ`` for the block."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _standard_input(text: str) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def run_cli_process(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str = "",
) -> CliResult:
    """Run ``python -m agentifui_config ARGS`` as a subprocess; the arguments as :func:`run_cli`."""
    assert cwd is not None, "give each run a working directory of its own"
    completed = subprocess.run(  # noqa: S603 - runs this interpreter on the package
        [*cli_command(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(clean_environ() if env is None else env),
        cwd=cwd,
        timeout=120,
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


def write_revision(directory: Path, extra: str = "pass") -> Path:
    """Write :data:`REVISION` into the ``versions`` folder of migration *directory*."""
    path = directory / "versions" / "0001_cli_items.py"
    path.write_text(REVISION.replace("{extra}", extra), encoding="utf-8")
    return path


async def drop_cli_tables(config: DatabaseConfig) -> None:
    """Drop what :data:`REVISION` and Alembic create, so the run's database is left as found."""
    engine = create_async_engine(config.sqlalchemy_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS cli_items, alembic_version"))
    finally:
        await engine.dispose()
