"""What ``doctor`` does, loaded only when it runs (it imports the async engine and Alembic).

Four steps, one line each: configuration, connect (one attempt), health and
migrations. The first failure ends the run with its exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import TYPE_CHECKING

from agentifui_config.cli.commands import CommandError, ExitCode
from agentifui_config.cli.console import counted
from agentifui_config.cli.database import (
    alembic_config,
    connected,
    describe_migrations,
    given_options,
    logging_for,
)
from agentifui_config.cli.loading import load
from agentifui_config.errors import ConfigurationError
from agentifui_config.health import HealthStatus
from agentifui_config.migrations import get_migration_status

if TYPE_CHECKING:
    from alembic.config import Config

    from agentifui_config.cli.console import Console
    from agentifui_config.connection import ConnectionManager
    from agentifui_config.settings import EnvironmentSettings

__all__ = ["doctor_command"]


def doctor_command(args: argparse.Namespace, console: Console) -> int:
    """``doctor``: one line per step; the status of the first step that failed."""
    return asyncio.run(_doctor(args, console))


async def _doctor(args: argparse.Namespace, console: Console) -> int:
    try:
        settings, found = load(console, args.env_file, uses_secret_key=args.uses_secret_key)
        alembic = alembic_config(args.alembic_config, required=args.alembic_config is not None)
    except ConfigurationError as exc:
        console.step("fail", "configuration", counted(exc.findings), *map(str, exc.findings))
        return ExitCode.INVALID
    detail = f"valid for {settings.environment.value}"
    detail += f" ({counted(found)})" if found else ""
    console.step("warn" if found else "ok", "configuration", detail, *map(str, found))
    with logging_for(console, settings, quiet=True):
        return await _database(console, settings, alembic, args.timeout, given_options(args))


async def _database(
    console: Console,
    settings: EnvironmentSettings,
    alembic: Config | None,
    timeout: float,  # noqa: ASYNC109 - a budget per step, passed on to each
    options: list[str],
) -> int:
    config = settings.database.model_copy(update={"connect_timeout": timeout})
    async with contextlib.AsyncExitStack() as stack:
        try:
            connecting = connected(config, grace=timeout, slow="--timeout")
            manager = await stack.enter_async_context(connecting)
        except CommandError as exc:
            console.step("fail", "connect", str(exc))
            return exc.code
        console.step("ok", "connect", config.masked_url)
        code = await _health(console, manager, timeout)
        return code or await _migrations(console, manager, alembic, timeout, options)


async def _health(console: Console, manager: ConnectionManager, timeout: float) -> int:  # noqa: ASYNC109
    health = await manager.health_check(timeout)
    if health.status is HealthStatus.UNHEALTHY:
        console.step("fail", "health", "; ".join(health.errors) or "unhealthy")
        return ExitCode.UNREACHABLE
    server = " ".join((health.version or "PostgreSQL").split()[:2])
    detail = f"{health.status.value} in {health.response_time_ms or 0:.1f} ms, {server}"
    state = "ok" if health.status is HealthStatus.HEALTHY else "warn"
    console.step(state, "health", detail, *health.warnings)
    return ExitCode.OK


async def _migrations(
    console: Console,
    manager: ConnectionManager,
    alembic: Config | None,
    timeout: float,  # noqa: ASYNC109 - the step's budget
    options: list[str],
) -> int:
    if alembic is None:
        console.step("skip", "migrations", "no ./alembic.ini; give --alembic-config to check them")
        return ExitCode.OK
    try:
        async with asyncio.timeout(timeout):
            status = await get_migration_status(manager, alembic)
    except TimeoutError:
        console.step("fail", "migrations", f"the status was not read within {timeout:g} s")
        return ExitCode.NOT_MIGRATED
    state, detail = describe_migrations(status, options)
    console.step(state, "migrations", detail)
    # The verdict the health endpoints give too: whatever makes readiness 503 fails here.
    return ExitCode.OK if status.health.is_available else ExitCode.NOT_MIGRATED
