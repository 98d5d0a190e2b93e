"""Tests for the connection manager the plugin's fixtures share across the tests of one loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from plugin_support import NOTES_MODELS, InnerSuite

if TYPE_CHECKING:
    from agentifui_config.testing.postgres import PostgresServer


@pytest.fixture
def inner(
    pytester: pytest.Pytester, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> InnerSuite:
    """An inner project on the outer run's server, its models ``notes_models``."""
    suite = InnerSuite.on(pytester, monkeypatch, postgres_server)
    suite.files(notes_models=NOTES_MODELS)
    return suite


@pytest.fixture
def session_loop(inner: InnerSuite) -> InnerSuite:
    """The inner project with its tests and fixtures on one session loop."""
    inner.ini(
        "agentifui_metadata = notes_models:Base.metadata",
        fixture_loop="session",
        test_loop="session",
    )
    return inner


# One pooled connection, so a second test can only get the connection the first one used.
_ONE_CONNECTION = """
import pytest

from agentifui_config.testing.postgres import temporary_database


@pytest.fixture(scope="session")
def database_config(postgres_server):
    with temporary_database(postgres_server) as config:
        yield config.model_copy(update={"pool_size": 1, "max_overflow": 0})
"""

_SHARED = """
import pytest
from sqlalchemy import func, select, text

from notes_models import Note

SEEN = []


@pytest.mark.asyncio
async def test_first(connection_manager, db_session):
    SEEN.append((connection_manager, await db_session.scalar(text("SELECT pg_backend_pid()"))))
    db_session.add(Note(text="committed by the first test"))
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 1


@pytest.mark.asyncio
async def test_second(connection_manager, db_session):
    (manager, backend), = SEEN
    assert connection_manager is manager
    assert await db_session.scalar(text("SELECT pg_backend_pid()")) == backend
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0
"""

_PER_TEST = """
import pytest
from sqlalchemy import func, select

from notes_models import Note

SEEN = []


@pytest.mark.asyncio
async def test_first(connection_manager, db_session):
    SEEN.append(connection_manager)
    db_session.add(Note(text="committed by the first test"))
    await db_session.commit()


@pytest.mark.asyncio
async def test_second(connection_manager, db_session):
    assert connection_manager is not SEEN[0]
    assert not SEEN[0].is_initialized
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0
"""


class TestSharing:
    def test_a_session_loop_shares_one_manager_and_one_connection(
        self, session_loop: InnerSuite
    ) -> None:
        """On a session loop two tests get one manager and connection, and not each other's rows."""
        session_loop.files(conftest=_ONE_CONNECTION, test_shared=_SHARED)
        session_loop.run().assert_outcomes(passed=2)

    def test_a_module_loop_shares_within_the_module(self, inner: InnerSuite) -> None:
        """On module loops the tests of a module share a manager; the next module has its own."""
        inner.ini(
            "agentifui_metadata = notes_models:Base.metadata",
            fixture_loop="module",
            test_loop="module",
        )
        other = _SHARED.replace("SEEN = []", "from test_a import SEEN as FIRST\nSEEN = []")
        other += (
            "\n\ndef test_other_module_had_its_own():\n    assert not FIRST[0][0].is_initialized\n"
        )
        inner.files(conftest=_ONE_CONNECTION, test_a=_SHARED, test_b=other)
        inner.run("test_a.py", "test_b.py").assert_outcomes(passed=5)

    def test_the_default_function_loop_gives_each_test_its_own(self, inner: InnerSuite) -> None:
        """On pytest-asyncio's default loops each test has its manager, disposed after it."""
        inner.ini("agentifui_metadata = notes_models:Base.metadata")
        inner.files(test_per_test=_PER_TEST)
        inner.run().assert_outcomes(passed=2)


_LEFT_BEHIND = """
import pytest
from sqlalchemy import func, select, text

from notes_models import Note

KEPT = []


@pytest.mark.asyncio
async def test_leaves_a_connection_checked_out(connection_manager):
    session = connection_manager.session_factory()
    await session.connection()
    KEPT.append((connection_manager, session))


@pytest.mark.asyncio
async def test_gets_a_new_manager(connection_manager, db_session):
    (manager, _), = KEPT
    assert connection_manager is not manager
    assert not manager.is_initialized
    assert connection_manager.connection_count == 1
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0


@pytest.mark.asyncio
async def test_changes_the_session_state(connection_manager):
    async with connection_manager.session() as session:
        await session.execute(text("SET search_path = nowhere"))
        await session.commit()


@pytest.mark.asyncio
async def test_finds_the_state_reset(connection_manager, db_session):
    assert await db_session.scalar(text("SHOW search_path")) == '"$user", public'
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0


@pytest.mark.asyncio
async def test_changes_the_state_inside_db_session(db_session):
    await db_session.execute(text("SET search_path = nowhere"))
    await db_session.commit()


@pytest.mark.asyncio
async def test_finds_it_rolled_back(db_session):
    assert await db_session.scalar(text("SHOW search_path")) == '"$user", public'


@pytest.mark.asyncio
async def test_changes_the_settings(connection_manager):
    connection_manager.slow_threshold_ms = 0.0


@pytest.mark.asyncio
async def test_finds_the_defaults(connection_manager):
    assert connection_manager.slow_threshold_ms == 1000.0


@pytest.mark.asyncio
async def test_disposes_the_manager(connection_manager):
    KEPT.append((connection_manager, None))
    await connection_manager.dispose()


@pytest.mark.asyncio
async def test_gets_one_initialized(connection_manager, db_session):
    assert KEPT[-1][0] is not connection_manager
    assert connection_manager.is_initialized
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0
"""

_BROKEN = """
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from notes_models import Note

BACKENDS = []


@pytest.mark.asyncio
async def test_kills_its_own_connection(db_session):
    with pytest.raises(DBAPIError):
        await db_session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))


@pytest.mark.asyncio
async def test_after_the_killed_one(connection_manager, db_session):
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0


@pytest.mark.asyncio
async def test_uses_a_connection(db_session):
    BACKENDS.append(await db_session.scalar(text("SELECT pg_backend_pid()")))


@pytest.mark.asyncio
async def test_kills_it_while_it_is_idle(database_config):
    other = create_async_engine(database_config.sqlalchemy_url, poolclass=NullPool)
    async with other.connect() as connection:
        killed = text("SELECT pg_terminate_backend(:pid)")
        assert await connection.scalar(killed, {"pid": BACKENDS[0]})
    await other.dispose()


@pytest.mark.asyncio
async def test_after_the_idle_one_was_killed(db_session):
    assert await db_session.scalar(text("SELECT pg_backend_pid()")) != BACKENDS[0]
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0
"""

# The server drops the idle connection while no event loop runs: a fixture that
# restarts the server, or kills backends, synchronously between two tests.
_DROPPED_BETWEEN = """
import asyncio
import concurrent.futures

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

BACKENDS = []


async def _terminate(url, pid):
    other = create_async_engine(url, poolclass=NullPool)
    async with other.connect() as connection:
        killed = text("SELECT pg_terminate_backend(:pid, 5000)")  # waits until it is gone
        assert await connection.scalar(killed, {"pid": pid})
    await other.dispose()


@pytest.fixture
def dropped(database_config):
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, _terminate(database_config.sqlalchemy_url, BACKENDS[0])).result()


@pytest.mark.asyncio
async def test_uses_a_connection(db_session):
    BACKENDS.append(await db_session.scalar(text("SELECT pg_backend_pid()")))


@pytest.mark.asyncio
async def test_after_it_was_dropped(dropped, db_session):
    assert await db_session.scalar(text("SELECT pg_backend_pid()")) != BACKENDS[0]
"""

# A session-level advisory lock is no transaction's: a rollback keeps it.
_ADVISORY_LOCK = """
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


@pytest.mark.asyncio
async def test_takes_a_lock_and_keeps_it(db_session):
    await db_session.execute(text("SELECT pg_advisory_lock(2024)"))


@pytest.mark.asyncio
async def test_finds_the_lock_free(database_config, connection_manager):
    other = create_async_engine(database_config.sqlalchemy_url, poolclass=NullPool)
    async with other.connect() as connection:
        assert await connection.scalar(text("SELECT pg_try_advisory_lock(2024)"))
    await other.dispose()
"""


class TestIsolation:
    def test_what_a_test_leaves_does_not_reach_the_next(self, session_loop: InnerSuite) -> None:
        """A leaked checkout, session state, changed settings, a disposed manager: all cleared."""
        session_loop.files(conftest=_ONE_CONNECTION, test_left=_LEFT_BEHIND)
        session_loop.run().assert_outcomes(passed=10)

    def test_a_broken_connection_does_not_fail_the_next_test(
        self, session_loop: InnerSuite
    ) -> None:
        """A connection the server dropped, in use or idle, leaves the next test working."""
        session_loop.files(conftest=_ONE_CONNECTION, test_broken=_BROKEN)
        session_loop.run().assert_outcomes(passed=5)

    def test_a_connection_dropped_between_two_tests_is_replaced(
        self, session_loop: InnerSuite
    ) -> None:
        """A connection the server dropped while no loop ran (a restart between tests) is pinged."""
        session_loop.files(conftest=_ONE_CONNECTION, test_dropped=_DROPPED_BETWEEN)
        session_loop.run().assert_outcomes(passed=2)

    def test_an_advisory_lock_taken_in_db_session_is_released(
        self, session_loop: InnerSuite
    ) -> None:
        """A session-level advisory lock, which a rollback keeps, does not outlive its test."""
        session_loop.files(conftest=_ONE_CONNECTION, test_locks=_ADVISORY_LOCK)
        session_loop.run().assert_outcomes(passed=2)


_FROM_ASYNC_CODE = """
import pytest


@pytest.mark.asyncio
async def test_disposes_the_manager(connection_manager):
    await connection_manager.dispose()


@pytest.mark.asyncio
async def test_asks_from_async_code(request):
    request.getfixturevalue("connection_manager")
"""


class TestLending:
    def test_a_manager_cannot_be_built_from_running_async_code(
        self, session_loop: InnerSuite
    ) -> None:
        """Asked for from inside an async test when a manager must be built, it says how to ask."""
        session_loop.files(test_from_async=_FROM_ASYNC_CODE)
        result = session_loop.run()
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(
            ["*RuntimeError: connection_manager needs its event loop to build a manager*"]
        )
