"""What isolating one test costs: the plugin's fixtures, hand-written ones, a database per test.

Run it as ``python benchmarks/bench_session_isolation.py`` (``--tests N`` for
more rounds). It writes a small test project into a temporary directory and
runs it with pytest, in this process, on a session event loop
(``asyncio_default_fixture_loop_scope = session``). The project's tests come in
three kinds, taking turns in blocks of ten consecutive tests of a kind, as a
module's tests run, and each does the same work, two inserts, a commit and a
query:

- **plugin**: the plugin's ``db_session``, on the ``ConnectionManager`` shared
  by every test of the loop, its outer transaction rolled back after the test;
- **hand-written**: what an app writes itself, SQLAlchemy's recipe for joining
  a session into an external transaction: one engine for the session and, per
  test, a connection whose transaction is rolled back;
- **template**: a database per test, ``CREATE DATABASE ... TEMPLATE`` a
  migrated one on an admin connection held for the session (its cheapest
  form), an engine on the copy, the work committed for real, the engine
  disposed and the copy dropped.

All three use the server the plugin provides: the one named by
``AGENTIFUI_TEST_DATABASE_URL``, or a throwaway embedded one (extra
``embedded``). A test's time is what pytest reports for its setup, call and
teardown, so pytest's own work per test counts as it does in a real suite.
Each kind's first test and the run's last are left out: they carry the session
fixtures' setup and teardown. It prints the median per test of each kind, then
the ratios plugin / hand-written (goal 1.1 or less) and plugin / template (goal
0.05 or less) as ``ratio <name>: <x>`` lines: each the median, over the turns,
of the ratio of the two kinds' medians in that turn, which a machine getting
busier or quieter during the run moves less than it moves the times.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap
from pathlib import Path
from typing import Final

import pytest
from harness import RATIO_PREFIX, print_goal

_KINDS: Final = {
    "plugin": "the plugin's db_session, on the shared manager",
    "hand_written": "hand-written: an engine per session, a rollback per test",
    "template": "a database per test, CREATE DATABASE ... TEMPLATE",
}

# The table's rows: the plugin's test over a baseline's, and the goal of each.
_RATIOS: Final = (
    ("isolation db_session / hand-written", "hand_written", 1.1),
    ("isolation db_session / database per test", "template", 0.05),
)

_INI: Final = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
agentifui_require_db = true
agentifui_metadata = bench_models:metadata
"""

_MODELS: Final = """
from sqlalchemy import Column, ForeignKey, Identity, Index, Integer, MetaData, String, Table

metadata = MetaData()
Table(
    "authors",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("name", String(100), nullable=False),
)
Table(
    "notes",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("author_id", Integer, ForeignKey("authors.id"), nullable=False),
    Column("text", String(200), nullable=False),
    Index("ix_notes_author", "author_id"),
)
"""

_CONFTEST: Final = """
import itertools

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from agentifui_config.testing.postgres import temporary_database
from agentifui_config.testing.schema import create_tables
from bench_models import metadata

_COPIES = itertools.count(1)
_INSERT_AUTHOR = text("INSERT INTO authors (name) VALUES ('Ada') RETURNING id")
_INSERT_NOTE = text("INSERT INTO notes (author_id, text) VALUES (:author, 'hello')")
_COUNT = text("SELECT count(*) FROM notes")


async def work(session):
    author = (await session.execute(_INSERT_AUTHOR)).scalar_one()
    await session.execute(_INSERT_NOTE, {"author": author})
    await session.commit()
    assert (await session.execute(_COUNT)).scalar_one() == 1


@pytest_asyncio.fixture(scope="session")
async def hand_engine(migrated_database):
    engine = create_async_engine(migrated_database.sqlalchemy_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def hand_session(hand_engine):
    async with hand_engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        yield session
        await session.close()
        await transaction.rollback()


@pytest.fixture(scope="session")
def template_database(postgres_server):
    with temporary_database(postgres_server) as config:
        create_tables(config, metadata)
        yield config


@pytest_asyncio.fixture(scope="session")
async def admin(postgres_server):
    config = postgres_server.admin
    connection = await asyncpg.connect(
        host=config.host,
        port=config.port,
        user=config.username,
        password=config.password.get_secret_value() or None,
        database=config.database,
    )
    yield connection
    await connection.close()


@pytest_asyncio.fixture
async def copied_session(admin, template_database):
    name = f"{template_database.database}_copy{next(_COPIES)}"
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database.database}"')
    copy = template_database.model_copy(update={"database": name})
    engine = create_async_engine(copy.sqlalchemy_url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            yield session
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
"""

_FIXTURES: Final = {
    "plugin": "db_session",
    "hand_written": "hand_session",
    "template": "copied_session",
}
_TEST: Final = """
@pytest.mark.asyncio
async def test_{kind}_{index:04d}({fixture}):
    await work({fixture})
"""
_BLOCK: Final = 10  # consecutive tests of one kind, as a module's tests run


class _Timings:
    """A pytest plugin adding up each test's setup, call and teardown times, in run order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Add the phase's duration to its test's time."""
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration

    def blocks(self) -> dict[str, list[list[float]]]:
        """Each kind's test times, in seconds, block by block in run order.

        Left out: each kind's first test, which sets up its session fixtures,
        and the run's last, which tears them all down.
        """
        per_kind: dict[str, list[list[float]]] = {kind: [] for kind in _KINDS}
        for nodeid, seconds in list(self.seconds.items())[:-1]:
            kind, _, number = nodeid.rpartition("::test_")[2].rpartition("_")
            index = int(number)
            if index == 0:
                continue
            block = (index - 1) // _BLOCK
            while len(per_kind[kind]) <= block:
                per_kind[kind].append([])
            per_kind[kind][block].append(seconds)
        return per_kind


def _ratio(blocks: dict[str, list[list[float]]], kind: str, baseline: str) -> float:
    """The median, over the blocks, of *kind*'s median over *baseline*'s in the same turn.

    Blocks of one turn ran within moments of each other, so a machine that
    gets busier or quieter during the run moves both sides of each ratio.
    """
    pairs = [(a, b) for a, b in zip(blocks[kind], blocks[baseline]) if a and b]  # noqa: B905
    return statistics.median(statistics.median(a) / statistics.median(b) for a, b in pairs)


def _test_module(per_kind: int) -> str:
    """The tests: blocks of consecutive tests of each kind, the kinds taking turns."""
    tests = ["import pytest\n\nfrom conftest import work\n"]
    for start in range(0, per_kind, _BLOCK):
        for kind, fixture in _FIXTURES.items():
            tests.extend(
                _TEST.format(kind=kind, index=index, fixture=fixture)
                for index in range(start, min(start + _BLOCK, per_kind))
            )
    return "\n".join(tests)


def _write_project(directory: Path, per_kind: int) -> None:
    """Write the test project: its configuration, models, fixtures and tests."""
    (directory / "pytest.ini").write_text(textwrap.dedent(_INI))
    (directory / "bench_models.py").write_text(_MODELS)
    (directory / "conftest.py").write_text(_CONFTEST)
    (directory / "test_isolation.py").write_text(_test_module(per_kind))


def main() -> None:
    """Run the three kinds of test, then print their medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=60, help="tests timed each way (default 60)")
    per_kind = max(parser.parse_args().tests, 1) + 1  # and the first, which is left out
    timings = _Timings()
    with tempfile.TemporaryDirectory(prefix="bench_isolation_") as temporary:
        directory = Path(temporary)
        _write_project(directory, per_kind)
        project = [str(directory), "-c", str(directory / "pytest.ini"), "--rootdir", temporary]
        quiet = ["-qq", "--no-header", "-p", "no:cacheprovider"]
        exit_code = pytest.main([*project, *quiet], plugins=[timings])
    if exit_code != pytest.ExitCode.OK:
        raise SystemExit(f"the benchmark's tests did not pass (pytest exit code {exit_code})")
    blocks = timings.blocks()
    print(f"per test, median of {per_kind - 1} tests of each kind, in turns of {_BLOCK}:")
    for kind, label in _KINDS.items():
        times = [seconds for block in blocks[kind] for seconds in block]
        print(f"  {label + ':':60} {statistics.median(times) * 1000:8.2f} ms")
    print("ratios: the median over the turns of the two kinds' medians in each turn")
    for name, baseline, goal in _RATIOS:
        print(f"{RATIO_PREFIX}{name}: {_ratio(blocks, 'plugin', baseline):.3f}")
        print_goal(name, goal)


if __name__ == "__main__":
    main()
