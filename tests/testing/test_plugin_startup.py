"""Tests for what the plugin costs a host suite that has it installed and does not use it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import pytest

_PROBE: Final = """
import sys

HEAVY = {"sqlalchemy", "pydantic_settings", "asyncpg", "alembic", "fastapi"}


def loaded():
    return sorted({name.partition(".")[0] for name in sys.modules} & HEAVY)


def test_unused(request):
    assert request.config.pluginmanager.has_plugin("agentifui_config")
    assert loaded() == []


def test_used(clean_env):
    assert "pydantic_settings" in loaded()
"""


_NO_PYDANTIC: Final = """
import sys


def test_unused():
    assert "pydantic" not in sys.modules
"""


class TestStartup:
    def test_an_unused_plugin_imports_nothing_heavy(self, pytester: pytest.Pytester) -> None:
        """Until a fixture is used, the plugin loads no SQLAlchemy, pydantic-settings or asyncpg."""
        pytester.makepyfile(test_probe=_PROBE)
        # Other packages' plugins installed for this suite (pytest-alembic imports
        # Alembic and SQLAlchemy at start) are not the host project's: leave them out.
        others = ("-p", "no:pytest_alembic", "-p", "no:schemathesis")
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *others)
        result.assert_outcomes(passed=2)

    def test_without_a_server_named_it_loads_no_pydantic(
        self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With no AGENTIFUI_TEST_DATABASE_URL for the header to show, pydantic stays unloaded."""
        monkeypatch.delenv("AGENTIFUI_TEST_DATABASE_URL", raising=False)
        pytester.makepyfile(test_probe=_NO_PYDANTIC)
        others = ("-p", "no:pytest_alembic", "-p", "no:schemathesis")
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *others)
        result.assert_outcomes(passed=1)

    def test_a_suite_without_pytest_asyncio_registered_runs(
        self, pytester: pytest.Pytester
    ) -> None:
        """pytest-asyncio installed but not registered (``-p no:asyncio``): the suite still runs."""
        pytester.makepyfile(test_probe="def test_nothing():\n    pass\n")
        others = ("-p", "no:pytest_alembic", "-p", "no:schemathesis", "-p", "no:asyncio")
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *others)
        result.assert_outcomes(passed=1)
