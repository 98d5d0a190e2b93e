"""Tests for CheckoutTracker in agentifui_config.checkouts, on real pools of a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agentifui_config import ConnectionManager, checkouts
from agentifui_config.checkouts import CheckoutTracker, _where

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

_SELECT_ONE = text("SELECT 1")
_LEAK = "suspected_connection_leak"
_THIS_FILE = Path(__file__).name


@contextlib.asynccontextmanager
async def _tracked(
    config: DatabaseConfig, leak_threshold: float = 30.0
) -> AsyncIterator[tuple[AsyncEngine, CheckoutTracker]]:
    """An engine with a one-connection pool, watched by a tracker."""
    engine = create_async_engine(config.sqlalchemy_url, pool_size=1, max_overflow=0)
    tracker = CheckoutTracker(leak_threshold)
    tracker.attach(engine.sync_engine.pool)
    try:
        yield engine, tracker
    finally:
        tracker.detach()
        await engine.dispose()


def _leaks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event_name", None) == _LEAK]


@pytest.mark.asyncio
class TestLeakReports:
    async def test_held_session_is_reported_with_its_location(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A session held past leak_threshold is logged once, naming this file and test."""
        caplog.set_level(logging.WARNING, logger="agentifui_config")
        manager = ConnectionManager(leak_threshold=0.1)
        await manager.initialize(database_config)
        try:
            async with manager.session() as session:
                await session.execute(_SELECT_ONE)
                await asyncio.sleep(0.3)
                assert manager.get_metrics()["suspected_leaks"] == 1
            assert manager.get_metrics()["suspected_leaks"] == 1
        finally:
            await manager.dispose()
        [record] = _leaks(caplog)
        assert record.name == "agentifui_config.connection"
        assert record.levelno == logging.WARNING
        message = record.getMessage()
        assert message.startswith("connection held for 0.")
        assert "(threshold 0.1 s), suspected leak; checked out at task " in message
        assert f"{_THIS_FILE}:" in message
        assert "in test_held_session_is_reported_with_its_location" in message
        assert getattr(record, "held_seconds", 0) >= 0.3

    async def test_location_names_every_call_of_the_task(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The report names the function that checked out and those that called it, in order."""
        caplog.set_level(logging.WARNING, logger="agentifui_config")
        manager = ConnectionManager(leak_threshold=0.1)
        await manager.initialize(database_config)

        async def handle_request() -> None:
            async with manager.session() as session:
                await session.execute(_SELECT_ONE)
                await asyncio.sleep(0.3)

        async def serve() -> None:
            await handle_request()

        try:
            await asyncio.create_task(serve(), name="request-7")
        finally:
            await manager.dispose()
        [record] = _leaks(caplog)
        message = record.getMessage()
        assert "checked out at task 'request-7': " in message
        where = message.split("checked out at task 'request-7': ", 1)[1]
        assert where.index("in handle_request") < where.index("in serve")
        assert where.endswith("in serve")

    async def test_reported_at_checkin_when_nobody_asked(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A long hold nobody looked at while it lasted is reported when it is given back."""
        caplog.set_level(logging.WARNING, logger="agentifui_config")
        async with _tracked(database_config, leak_threshold=0.05) as (engine, tracker):
            async with engine.connect() as connection:
                await connection.execute(_SELECT_ONE)
                await asyncio.sleep(0.1)
                assert _leaks(caplog) == []
            assert len(_leaks(caplog)) == 1
            assert tracker.suspected_leaks == 1

    async def test_short_holds_are_not_reported(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Connections given back within the threshold are timed but never reported."""
        caplog.set_level(logging.WARNING, logger="agentifui_config")
        async with _tracked(database_config, leak_threshold=30) as (engine, tracker):
            for _ in range(3):
                async with engine.connect() as connection:
                    await connection.execute(_SELECT_ONE)
                tracker.report_leaks()
            assert 0 < tracker.longest_held() < 30
        assert _leaks(caplog) == []
        assert tracker.suspected_leaks == 0

    async def test_reported_again_after_reattaching(
        self, database_config: DatabaseConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Detaching forgets what was reported, so the same pool slot is reported anew."""
        caplog.set_level(logging.WARNING, logger="agentifui_config")
        async with _tracked(database_config, leak_threshold=0.05) as (engine, tracker):
            async with engine.connect() as connection:
                await connection.execute(_SELECT_ONE)
                await asyncio.sleep(0.1)
                tracker.report_leaks()
                tracker.detach()
            tracker.attach(engine.sync_engine.pool)
            async with engine.connect() as connection:  # the same pool slot: pool_size=1
                await connection.execute(_SELECT_ONE)
                await asyncio.sleep(0.1)
                tracker.report_leaks()
        assert len(_leaks(caplog)) == 2


@pytest.mark.asyncio
class TestCounters:
    async def test_longest_held_includes_open_checkouts(
        self, database_config: DatabaseConfig
    ) -> None:
        """longest_held() counts a connection still out, and keeps the record once it is back."""
        async with _tracked(database_config) as (engine, tracker):
            assert tracker.longest_held() == 0.0
            async with engine.connect() as connection:
                await connection.execute(_SELECT_ONE)
                await asyncio.sleep(0.1)
                assert tracker.longest_held() >= 0.1
            held = tracker.longest_held()
            assert held >= 0.1
            async with engine.connect() as connection:
                await connection.execute(_SELECT_ONE)
            assert tracker.longest_held() == held

    async def test_invalidations_are_counted_while_attached(
        self, database_config: DatabaseConfig
    ) -> None:
        """Each invalidated connection counts once; after detach none counts and the total stays."""
        async with _tracked(database_config) as (engine, tracker):
            for _ in range(2):
                async with engine.connect() as connection:
                    await connection.execute(_SELECT_ONE)
                    await connection.invalidate()
            assert tracker.invalidated == 2
            tracker.detach()
            async with engine.connect() as connection:
                await connection.execute(_SELECT_ONE)
                await connection.invalidate()
            assert tracker.invalidated == 2

    async def test_close_checked_out_cuts_held_connections(
        self, database_config: DatabaseConfig
    ) -> None:
        """close_checked_out() closes what is lent out: its holder gets a disconnect error."""
        async with _tracked(database_config) as (engine, tracker):
            assert tracker.close_checked_out() == 0
            async with engine.connect() as connection:
                await connection.execute(_SELECT_ONE)
                assert tracker.close_checked_out() == 1
                with pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
                    await connection.execute(_SELECT_ONE)
                assert caught.value.connection_invalidated
            assert tracker.invalidated == 1
            async with engine.connect() as connection:
                assert (await connection.execute(_SELECT_ONE)).scalar_one() == 1

    async def test_close_idle_cuts_what_rests_in_the_pool(
        self, database_config: DatabaseConfig
    ) -> None:
        """close_idle() closes the pooled idle connections only; the pool opens new ones."""
        async with _tracked(database_config) as (engine, tracker):
            async with engine.connect() as connection:
                await connection.execute(_SELECT_ONE)
                assert tracker.close_idle() == 0  # lent out, not idle
            assert tracker.close_idle() == 1
            assert tracker.close_idle() == 0  # already closed
            assert tracker.invalidated == 1
            async with engine.connect() as connection:
                assert (await connection.execute(_SELECT_ONE)).scalar_one() == 1


class TestWhere:
    def test_outside_a_task(self) -> None:
        """A checkout made outside any asyncio task says so instead of naming frames."""
        assert _where() == "outside any asyncio task"

    @pytest.mark.asyncio
    async def test_names_the_awaiting_frames(self) -> None:
        """Inside a task the location names it and the awaiting frames outside the library."""

        async def checkout_site() -> str:
            await asyncio.sleep(0)
            return _where()

        where = await asyncio.create_task(checkout_site(), name="request-42")
        assert where.startswith("task 'request-42': ")
        assert f"{_THIS_FILE}:" in where
        assert where.endswith("in checkout_site")

    @pytest.mark.asyncio
    async def test_names_the_line_of_each_call(self) -> None:
        """Each call is shown at the line it was at when the connection was checked out."""

        async def checkout_site() -> tuple[str, int]:
            await asyncio.sleep(0)
            return _where(), sys._getframe().f_lineno

        async def caller() -> tuple[str, int, int]:
            where, line = await checkout_site()
            return where, line, sys._getframe().f_lineno - 1

        where, site_line, caller_line = await asyncio.create_task(caller(), name="lines")
        site, outer = where.removeprefix("task 'lines': ").split(" <- ")[:2]
        assert site.endswith(f"/{_THIS_FILE}:{site_line} in checkout_site")
        assert outer.endswith(f"/{_THIS_FILE}:{caller_line} in caller")

    @pytest.mark.asyncio
    async def test_innermost_calls_are_shown_when_the_stack_is_deep(self) -> None:
        """A checkout deep in recursion shows its innermost calls, capped, with their lines."""

        async def nested(depth: int) -> str:
            if depth == 0:
                return _where()
            return await nested(depth - 1)

        where = await asyncio.create_task(nested(40), name="deep")
        calls = where.removeprefix("task 'deep': ").split(" <- ")
        assert len(calls) == 24
        assert all(call.endswith("in nested") and f"{_THIS_FILE}:" in call for call in calls)

    @pytest.mark.asyncio
    async def test_checkouts_are_described_only_when_reported(
        self, database_config: DatabaseConfig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Short holds never format their location; a reported leak formats it once."""
        described: list[str] = []
        describe = checkouts._describe

        def spy(origin: checkouts._Origin) -> str:
            described.append(text := describe(origin))
            return text

        monkeypatch.setattr(checkouts, "_describe", spy)
        async with _tracked(database_config, leak_threshold=0.05) as (engine, tracker):
            for _ in range(3):
                async with engine.connect() as connection:
                    await connection.execute(_SELECT_ONE)
            assert described == []
            async with engine.connect() as connection:
                await connection.execute(_SELECT_ONE)
                await asyncio.sleep(0.1)
                tracker.report_leaks()
        assert len(described) == 1
        assert "in test_checkouts_are_described_only_when_reported" in described[0]
