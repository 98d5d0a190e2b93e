"""Tests that the examples of docs/testing.md run as written, in an inner test suite."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

from plugin_support import NOTES_APP, NOTES_MODELS, InnerSuite

if TYPE_CHECKING:
    import pytest

    from agentifui_config.testing.postgres import PostgresServer

_PAGE: Final = Path(__file__).parents[2] / "docs" / "testing.md"
_BLOCK: Final = re.compile(r"```python\n# (?P<name>[\w/]+\.py)\n(?P<code>.*?)```", re.DOTALL)


def _examples() -> dict[str, str]:
    """The page's Python blocks that start with a file name, by that name."""
    return {m["name"]: m["code"] for m in _BLOCK.finditer(_PAGE.read_text())}


class TestTestingPage:
    def test_names_the_expected_files(self) -> None:
        """The page shows a conftest, host tests and the migration-check import."""
        assert set(_examples()) == {
            "conftest.py",
            "test_notes.py",
            "test_app_settings.py",
            "tests/test_migrations.py",
        }

    def test_host_suite_runs(
        self,
        pytester: pytest.Pytester,
        postgres_server: PostgresServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The conftest and tests of the page pass against an app shaped like its myapp."""
        suite = InnerSuite.on(pytester, monkeypatch, postgres_server)
        suite.ini("agentifui_metadata = myapp.models:Base.metadata")
        package = pytester.mkpydir("myapp")
        (package / "models.py").write_text(NOTES_MODELS)
        (package / "main.py").write_text(NOTES_APP.replace("notes_models", "myapp.models"))
        examples = _examples()
        for name in ("conftest.py", "test_notes.py", "test_app_settings.py"):
            (pytester.path / name).write_text(examples[name])
        suite.run().assert_outcomes(passed=4)
