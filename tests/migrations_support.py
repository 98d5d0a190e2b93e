"""Helpers of the migration tests: the sample scripts, connections, a role with a hard password."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from alembic.config import Config
from pydantic import SecretStr
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from agentifui_config.migrations import MIGRATION_LOCK_KEY

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

__all__ = [
    "HARD_PASSWORD",
    "SAMPLE",
    "branched_config",
    "connected",
    "fetch",
    "lock_held",
    "role_with_hard_password",
    "runs",
    "sent_statements",
]

SAMPLE: Final = Path(__file__).parent / "migrations_sample"
"""Three revisions a1 -> b2 -> c3; b2 moves data; each records its run in migration_runs."""

HARD_PASSWORD: Final = "p%40ss%(here)s@w/rd%"
"""A password that breaks ini interpolation and URL parsing when handled as text."""


def branched_config() -> Config:
    """The sample's env.py over a versions directory whose two heads were never merged."""
    config = Config()
    config.set_main_option("script_location", str(SAMPLE))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(SAMPLE / "branched"))
    return config


@contextlib.contextmanager
def sent_statements() -> Iterator[list[str]]:
    """The SQL statements every engine sends while the block runs (not a new engine's set-up)."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@contextlib.asynccontextmanager
async def connected(config: DatabaseConfig) -> AsyncIterator[AsyncConnection]:
    """A connection of its own to *config*'s database."""
    engine = create_async_engine(config.sqlalchemy_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def lock_held(config: DatabaseConfig) -> AsyncIterator[AsyncConnection]:
    """A connection of its own holding the migration lock (session-scoped) while the block runs."""
    async with connected(config) as holder:
        await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        yield holder


async def fetch(config: DatabaseConfig, query: str) -> list[tuple[Any, ...]]:
    """The rows *query* returns on a fresh connection: what another process would see."""
    async with connected(config) as connection:
        return [tuple(row) for row in await connection.execute(text(query))]


async def runs(config: DatabaseConfig) -> list[str]:
    """The revisions recorded in the sample's migration_runs table, in the order they ran."""
    rows = await fetch(config, "SELECT revision FROM migration_runs ORDER BY id")
    return [row[0] for row in rows]


@contextlib.asynccontextmanager
async def role_with_hard_password(admin: DatabaseConfig) -> AsyncIterator[DatabaseConfig]:
    """*admin*'s database reached as a new role that owns it, with :data:`HARD_PASSWORD`."""
    name = f"agentifui_test_{secrets.token_hex(4)}"
    async with connected(admin) as connection:
        await connection.execute(text(f"CREATE ROLE {name} LOGIN PASSWORD '{HARD_PASSWORD}'"))
        await connection.execute(text(f"ALTER DATABASE {admin.database} OWNER TO {name}"))
        await connection.commit()
    try:
        yield admin.model_copy(update={"username": name, "password": SecretStr(HARD_PASSWORD)})
    finally:
        async with connected(admin) as connection:
            await connection.execute(text(f"REASSIGN OWNED BY {name} TO CURRENT_USER"))
            await connection.execute(text(f"DROP OWNED BY {name}"))
            await connection.execute(text(f"DROP ROLE {name}"))
            await connection.commit()
