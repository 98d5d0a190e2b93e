"""Tests for agentifui_config.recent_writes and the DB_READ_YOUR_WRITES_SECONDS setting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentifui_config import ConfigurationError, load_settings
from agentifui_config.recent_writes import RecentWrites


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestRecentWrites:
    def test_remembers_within_the_window(self) -> None:
        """A caller is remembered until its window ends, then forgotten and dropped."""
        clock = _Clock()
        recent = RecentWrites(2.0, clock=clock)
        recent.add("alice")
        clock.now += 1.9
        assert "alice" in recent
        assert "bob" not in recent
        clock.now += 0.1
        assert "alice" not in recent
        assert len(recent) == 0

    def test_a_new_commit_extends_the_window(self) -> None:
        """Committing again starts the caller's window afresh."""
        clock = _Clock()
        recent = RecentWrites(2.0, clock=clock)
        recent.add("alice")
        clock.now += 1.5
        recent.add("alice")
        clock.now += 1.5
        assert "alice" in recent

    def test_expired_callers_are_dropped_as_it_goes(self) -> None:
        """Adding a caller drops those whose window has ended, so memory follows the traffic."""
        clock = _Clock()
        recent = RecentWrites(1.0, clock=clock)
        for number in range(50):
            recent.add(f"user-{number}")
        clock.now += 1.0
        recent.add("late")
        assert len(recent) == 1

    def test_capacity_forgets_the_oldest_first(self) -> None:
        """Past its capacity the map forgets the caller whose window ends first."""
        clock = _Clock()
        recent = RecentWrites(60.0, capacity=2, clock=clock)
        for key in ("a", "b", "c"):
            recent.add(key)
            clock.now += 0.1
        assert len(recent) == 2
        assert "a" not in recent
        assert "b" in recent
        assert "c" in recent

    def test_zero_window_remembers_nothing(self) -> None:
        """With the setting at 0 (the default) nothing is stored."""
        recent = RecentWrites(0.0)
        recent.add("alice")
        assert "alice" not in recent
        assert len(recent) == 0

    def test_only_strings_are_keys(self) -> None:
        """Asking about a key that is not a string answers False."""
        recent = RecentWrites(5.0)
        recent.add("1")
        assert 1 not in recent

    @given(
        steps=st.lists(
            st.tuples(st.sampled_from("abcdef"), st.floats(min_value=0, max_value=3)),
            max_size=40,
        ),
        capacity=st.integers(min_value=1, max_value=4),
    )
    def test_bounded_and_never_past_the_window(
        self, steps: list[tuple[str, float]], capacity: int
    ) -> None:
        """Whatever the traffic, the map holds at most *capacity* callers, none past its window."""
        clock = _Clock()
        recent = RecentWrites(2.0, capacity=capacity, clock=clock)
        last: dict[str, float] = {}
        for key, pause in steps:
            recent.add(key)
            last[key] = clock.now
            assert len(recent) <= capacity
            clock.now += pause
            for seen, at in last.items():
                if clock.now - at >= 2.0:
                    assert seen not in recent
        assert len(recent) <= capacity


class TestSetting:
    def test_default_is_off(self, clean_env: pytest.MonkeyPatch) -> None:
        """DB_READ_YOUR_WRITES_SECONDS is 0 unless set."""
        assert load_settings().database.read_your_writes_seconds == 0.0

    def test_reads_seconds(self, clean_env: pytest.MonkeyPatch) -> None:
        """A number of seconds, fractions allowed."""
        clean_env.setenv("DB_READ_YOUR_WRITES_SECONDS", "2.5")
        assert load_settings().database.read_your_writes_seconds == 2.5

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("-1", "must be at least 0"),
            ("nan", "expected a finite number"),
            ("inf", "expected a finite number"),
            ("soon", "expected a number"),
        ],
    )
    def test_refused(self, clean_env: pytest.MonkeyPatch, value: str, expected: str) -> None:
        """A negative, infinite or non-numeric window is refused, naming the variable."""
        clean_env.setenv("DB_READ_YOUR_WRITES_SECONDS", value)
        with pytest.raises(ConfigurationError, match=f"DB_READ_YOUR_WRITES_SECONDS: {expected}"):
            load_settings()
