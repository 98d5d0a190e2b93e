"""Read-your-writes across requests: the callers that committed a write in the last seconds.

After a caller (a user, a session cookie: a key the application chooses)
committed, its reads go to the primary for ``DB_READ_YOUR_WRITES_SECONDS``, so
that it sees its own write even on the next request, while a replica may not
have replayed it yet. :class:`RecentWrites` is the memory of that: a map from
caller key to the moment its window ends, held by one process, bounded in size,
its expired entries dropped as it goes. Standard library only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

__all__ = ["DEFAULT_CAPACITY", "RecentWrites"]

DEFAULT_CAPACITY: Final = 100_000
"""Callers remembered at most; past it, the one whose window ends first is forgotten early."""


class RecentWrites:
    """Which callers committed within the last *window* seconds, in this process.

    Entries are kept in the order their windows end (a caller that commits
    again moves to the back), so expired ones are dropped from the front in
    constant time per entry, and a full map forgets the oldest first.

    Args:
        window: Seconds a caller's reads go to the primary after it committed;
            0 remembers nothing.
        capacity: Callers remembered at most.
        clock: The monotonic clock, in seconds (a test may give its own).

    Example:
        >>> recent = RecentWrites(5.0)
        >>> recent.add("user-1")
        >>> "user-1" in recent, "user-2" in recent
        (True, False)
    """

    __slots__ = ("_capacity", "_clock", "_ends", "window")

    def __init__(
        self,
        window: float,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self._capacity = capacity
        self._clock = clock
        self._ends: dict[str, float] = {}

    def add(self, key: str) -> None:
        """Remember that *key* committed now; its reads go to the primary for the window."""
        if self.window <= 0:
            return
        now = self._clock()
        self._ends.pop(key, None)
        self._ends[key] = now + self.window
        self._drop_expired(now)
        while len(self._ends) > self._capacity:
            del self._ends[next(iter(self._ends))]

    def __contains__(self, key: object) -> bool:
        """Whether *key* committed less than the window ago."""
        if not isinstance(key, str):
            return False
        end = self._ends.get(key)
        if end is None:
            return False
        if end > self._clock():
            return True
        del self._ends[key]
        return False

    def __len__(self) -> int:
        """Callers remembered now, expired ones not yet dropped included."""
        return len(self._ends)

    def _drop_expired(self, now: float) -> None:
        """Forget, from the front, the callers whose window has ended."""
        ends = self._ends
        while ends:
            key = next(iter(ends))
            if ends[key] > now:
                return
            del ends[key]
