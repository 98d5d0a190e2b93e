"""Tests for the plugin's start-up check that async tests share their fixtures' event loop."""

from __future__ import annotations

import pytest
from plugin_support import InnerSuite

_LINES = [
    "*    asyncio_default_fixture_loop_scope = session",
    "*    asyncio_default_test_loop_scope = session",
]

_USES_SESSION = """
import pytest


@pytest.mark.asyncio
async def test_uses_manager(connection_manager):
    assert connection_manager.is_initialized
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> InnerSuite:
    """An inner project whose server is never reached: the check runs before any test."""
    return InnerSuite(pytester, monkeypatch, "postgresql://unused@127.0.0.1:1/postgres")


class TestLoopScopeCheck:
    def test_mismatch_stops_the_run_with_the_two_lines(self, inner: InnerSuite) -> None:
        """Fixtures on a session loop and tests on function loops stop the run, naming the fix."""
        inner.ini(fixture_loop="session", test_loop="function")
        inner.files(test_loops=_USES_SESSION)
        result = inner.run()
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                "ERROR: agentifui-config: the fixtures connection_manager, db_session, app_client "
                "run on the 'session'-scoped event loop, but "
                "test_loops.py::test_uses_manager (loop scope 'function') would run on another "
                "one and fail with 'attached to a different loop'*",
                *_LINES,
            ]
        )

    def test_marker_loop_scope_is_named(self, inner: InnerSuite) -> None:
        """A test whose asyncio marker picks another loop is named, with the marker to drop."""
        inner.ini(fixture_loop="session", test_loop="session")
        inner.files(
            test_loops=_USES_SESSION.replace(
                "@pytest.mark.asyncio", '@pytest.mark.asyncio(loop_scope="module")'
            )
        )
        result = inner.run()
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                "*test_loops.py::test_uses_manager (loop scope 'module')*",
                *_LINES,
                "*drop loop_scope= from the asyncio marker of test_loops.py::test_uses_manager",
            ]
        )

    def test_long_lists_are_cut(self, inner: InnerSuite) -> None:
        """Past five tests the message counts the rest instead of naming them."""
        inner.ini(fixture_loop="session", test_loop="function")
        inner.files(
            test_loops="".join(
                _USES_SESSION.replace("test_uses_manager", f"test_uses_{index}")
                for index in range(7)
            )
        )
        result = inner.run()
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*test_uses_4 (loop scope 'function') and 2 more would run*"])

    @pytest.mark.parametrize(
        ("fixture_loop", "test_loop"),
        [("function", "function"), ("session", "session"), ("fixture-scope", "function")],
    )
    def test_matching_scopes_pass_the_check(
        self, inner: InnerSuite, fixture_loop: str, test_loop: str
    ) -> None:
        """Tests and fixtures on one loop are collected without complaint."""
        inner.ini(fixture_loop=fixture_loop, test_loop=test_loop)
        inner.files(test_loops=_USES_SESSION)
        result = inner.run("--collect-only")
        assert result.ret == pytest.ExitCode.OK
        result.assert_outcomes()
        result.stdout.fnmatch_lines(["*test_uses_manager*"])

    def test_tests_without_the_fixtures_are_not_checked(self, inner: InnerSuite) -> None:
        """A mismatch matters only to tests using the async fixtures; sync tests never."""
        inner.ini(fixture_loop="session", test_loop="function")
        inner.files(
            test_loops=(
                "import pytest\n\n"
                "@pytest.mark.asyncio\n"
                "async def test_plain():\n"
                "    pass\n\n"
                "def test_sync(clean_env):\n"
                "    pass\n"
            )
        )
        inner.run().assert_outcomes(passed=2)
