"""Watching a pool's checkouts: how long connections are held, and which look leaked.

A connection held longer than a threshold is logged once as a suspected leak,
with the task and the calls that checked it out. SQLAlchemy checks connections
out inside a greenlet, whose own stack holds only SQLAlchemy; the calls are read
from the frame the task's greenlet is paused in, by following ``f_back`` links.
A checkout keeps only the code objects and instruction offsets it passes: file
names are filtered, and offsets turned into line numbers, when a leak is
reported, which is rare. (Reading a frame's ``f_lineno`` decodes the code's line
table, which made a checkout under a FastAPI request's 60-odd frames cost tens
of microseconds; ``f_lasti`` is read as it is.)
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import weakref
from types import CodeType
from typing import TYPE_CHECKING, Any, Final

import greenlet
from sqlalchemy import event

if TYPE_CHECKING:
    from sqlalchemy.pool import ConnectionPoolEntry, Pool

__all__ = ["CheckoutTracker"]

_LOG = logging.getLogger("agentifui_config.connection")
_MAX_FRAMES: Final = 24
# Frames followed per checkout, library ones included; a leak report shows _MAX_FRAMES.
_MAX_WALK: Final = 128
# Frames of the machinery between an application's code and the checkout.
_SKIPPED: Final = (
    "/sqlalchemy/",
    "/asyncio/",
    "/contextlib.py",
    "/agentifui_config/",
    "/starlette/",
    "/fastapi/",
    "/anyio/",
    "/uvicorn/",
)


class CheckoutTracker:
    """Counts a pool's invalidations and times each checkout.

    Args:
        leak_threshold: Seconds after which a checkout is a suspected leak.
    """

    def __init__(self, leak_threshold: float) -> None:
        self.leak_threshold = leak_threshold
        self.invalidated = 0
        self.suspected_leaks = 0
        self._longest = 0.0
        self._open: dict[int, tuple[float, _Origin, ConnectionPoolEntry]] = {}
        # Weak: a record the pool discards (overflow, dispose) must not live on here.
        self._idle: weakref.WeakValueDictionary[int, ConnectionPoolEntry] = (
            weakref.WeakValueDictionary()
        )
        self._reported: set[int] = set()
        self._pool: Pool | None = None

    def attach(self, pool: Pool) -> None:
        """Start watching *pool*."""
        self._pool = pool
        event.listen(pool, "checkout", self._on_checkout)
        event.listen(pool, "checkin", self._on_checkin)
        event.listen(pool, "invalidate", self._on_invalidate)

    def detach(self) -> None:
        """Stop watching; the counters keep their values."""
        pool, self._pool = self._pool, None
        if pool is not None:
            event.remove(pool, "checkout", self._on_checkout)
            event.remove(pool, "checkin", self._on_checkin)
            event.remove(pool, "invalidate", self._on_invalidate)
        self._open.clear()
        self._idle.clear()
        # Record ids are memory addresses: a later pool's record may reuse one.
        self._reported.clear()

    def close_checked_out(self) -> int:
        """Close, without waiting on the server, every connection still checked out.

        Their holders get a disconnect error on their next use of them.

        Returns:
            How many connections were closed.
        """
        entries = [entry for _, _, entry in self._open.values()]
        for entry in entries:
            # Outside a greenlet this terminates the driver connection synchronously.
            entry.invalidate()
        return len(entries)

    def close_idle(self) -> int:
        """Close, without waiting on the server, every connection resting in the pool.

        For a pool whose graceful close hangs: a server that stopped answering
        never acknowledges it.

        Returns:
            How many connections were closed.
        """
        entries = [entry for entry in self._idle.values() if entry.dbapi_connection is not None]
        for entry in entries:
            entry.invalidate()  # outside a greenlet: terminated synchronously, as above
        return len(entries)

    def longest_held(self) -> float:
        """The longest time, in seconds, a connection has been held, open ones included."""
        now = time.monotonic()
        open_longest = max((now - start for start, _, _ in self._open.values()), default=0.0)
        return max(self._longest, open_longest)

    def report_leaks(self) -> None:
        """Log each connection held past the threshold, once."""
        now = time.monotonic()
        for key, (start, where, _) in list(self._open.items()):
            if now - start > self.leak_threshold and key not in self._reported:
                self._reported.add(key)
                self._log_leak(now - start, where)

    def _log_leak(self, held: float, where: _Origin) -> None:
        self.suspected_leaks += 1
        _LOG.warning(
            "connection held for %.1f s (threshold %g s), suspected leak; checked out at %s",
            held,
            self.leak_threshold,
            _describe(where),
            extra={"event_name": "suspected_connection_leak", "held_seconds": held},
        )

    def _on_checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        self._idle.pop(id(record), None)
        self._open[id(record)] = (time.monotonic(), _capture(), record)

    def _on_checkin(self, dbapi_connection: Any, record: Any) -> None:
        key = id(record)
        self._idle[key] = record
        opened = self._open.pop(key, None)
        if opened is None:
            return
        held = time.monotonic() - opened[0]
        self._longest = max(self._longest, held)
        if held > self.leak_threshold and key not in self._reported:
            self._log_leak(held, opened[1])
        self._reported.discard(key)

    def _on_invalidate(self, dbapi_connection: Any, record: Any, exception: Any) -> None:
        self.invalidated += 1


_Origin = tuple[str | None, tuple[tuple[CodeType, int], ...]]
"""Where a checkout happened: the task's name (``None`` outside a task) and its calls.

Each call is a code object and the offset of the instruction its frame was at.
"""


def _where() -> str:
    """The current task and the calls that led to this checkout, outside library code."""
    return _describe(_capture())


def _capture() -> _Origin:
    """The current task's name and the code and instruction offset of each call it is paused in.

    Nothing is formatted here: this runs on every checkout.
    """
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    if task is None:
        return None, ()
    root = getattr(task.get_coro(), "cr_frame", None)  # where the task's own calls begin
    calls: list[tuple[CodeType, int]] = []
    frame = _calling_frame()
    while frame is not None and len(calls) < _MAX_WALK:
        calls.append((frame.f_code, frame.f_lasti))
        frame = None if frame is root else frame.f_back
    return task.get_name(), tuple(calls)


def _describe(origin: _Origin) -> str:
    """*origin* as text: the task, then its calls outside library code, innermost first."""
    task_name, calls = origin
    if task_name is None:
        return "outside any asyncio task"
    frames = [
        f"{code.co_filename}:{_line(code, offset)} in {code.co_name}"
        for code, offset in calls
        if not any(part in code.co_filename for part in _SKIPPED)
    ][:_MAX_FRAMES]
    return f"task {task_name!r}: " + (" <- ".join(frames) or "no frames")


def _line(code: CodeType, offset: int) -> int | None:
    """The line of *code* whose instructions hold the byte *offset* (a frame's ``f_lasti``)."""
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line
    return None


def _calling_frame() -> Any:
    """Where the task's own code is paused: in the parent greenlet when inside SQLAlchemy's."""
    parent = greenlet.getcurrent().parent
    if parent is not None and parent.gr_frame is not None:
        return parent.gr_frame
    return sys._getframe(1)
