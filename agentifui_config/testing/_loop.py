"""Running a coroutine to completion from synchronous code, whatever loop the caller has."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_coroutine"]

_T = TypeVar("_T")


def run_coroutine(work: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run *work* on a private event loop in a worker thread and return its result.

    The worker thread keeps the caller's thread untouched: ``asyncio.run()``
    there would fail inside a running loop, and outside one it would reset the
    thread's current event loop, which pytest-asyncio may hold. Session fixtures
    built on it need no event-loop scope of their own.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentifui-testing") as pool:
        return pool.submit(lambda: asyncio.run(work())).result()
