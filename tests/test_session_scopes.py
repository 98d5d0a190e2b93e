"""Tests for agentifui_config.session_scopes: a shielded clean-up's outcome reaching its caller."""

from __future__ import annotations

import asyncio

import pytest

from agentifui_config.session_scopes import settle

pytestmark = pytest.mark.asyncio


class TestSettle:
    async def test_the_result_reaches_the_waiter(self) -> None:
        """A clean-up that ends well resolves the waiter, and its task ends cleanly."""
        outcome = asyncio.get_running_loop().create_future()
        ran: list[str] = []

        async def cleanup() -> None:
            ran.append("cleanup")

        task = asyncio.ensure_future(settle(cleanup(), outcome))
        await outcome
        await task
        assert ran == ["cleanup"]

    async def test_an_error_is_the_waiters_to_raise(self) -> None:
        """The clean-up's error is raised by the waiter, not left on the task."""
        outcome = asyncio.get_running_loop().create_future()

        async def cleanup() -> None:
            raise LookupError("rollback failed")

        task = asyncio.ensure_future(settle(cleanup(), outcome))
        with pytest.raises(LookupError, match="rollback failed"):
            await outcome
        await task
        assert task.exception() is None

    async def test_a_cancelled_waiter_leaves_the_clean_up_running(self) -> None:
        """When the caller is cancelled it stops waiting at once, and the clean-up still ends."""
        outcome = asyncio.get_running_loop().create_future()
        release = asyncio.Event()
        finished: list[bool] = []

        async def cleanup() -> None:
            await release.wait()
            finished.append(True)
            raise LookupError("nobody listens")

        task = asyncio.ensure_future(settle(cleanup(), outcome))

        async def caller() -> None:
            await outcome

        waiting = asyncio.ensure_future(caller())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not task.done()
        release.set()
        await task
        assert finished == [True]
        assert task.exception() is None
