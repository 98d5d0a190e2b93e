"""The README's examples stay true: the error report it shows is the one the library prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentifui_config import ConfigurationError, load_settings

_README = Path(__file__).resolve().parents[1] / "README.md"

# The production environment the README describes in words around its report.
_README_ENV = {
    "ENVIRONMENT": "production",
    "DB_PORT": "5432x",
    "SECRET_KEY": "changeme",
    "DB_USER": "app",
    "DB_HOST": "db.internal",
    "DB_PASSWORD": "a-long-random-password-for-the-app",
    "DB_DATABASE": "app",
    "CORS_ORIGINS": "https://app.example.com",
}


def _text_block_after(marker: str) -> str:
    readme = _README.read_text(encoding="utf-8")
    found = re.search(re.escape(marker) + r".*?```text\n(.*?)```", readme, re.S)
    assert found is not None, f"no text block after {marker!r} in README.md"
    return found.group(1).rstrip("\n")


def test_error_report_matches_the_library(clean_env: pytest.MonkeyPatch) -> None:
    """The report printed in the README is, line for line, what load_settings() raises."""
    for name, value in _README_ENV.items():
        clean_env.setenv(name, value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value) == _text_block_after("is refused with:")


def test_try_it_has_exactly_two_commands() -> None:
    """A newcomer copies two commands: one runs the demo, one runs the tests."""
    readme = _README.read_text(encoding="utf-8")
    section = readme.split("## Try it", 1)[1]
    commands = re.findall(r"```console\n(.*?)\n```", section, re.S)
    assert [c.rsplit(" ", 1)[-1] for c in commands] == ["demo", "tests"]


_SITE = "https://agentifui.github.io/agentifui-config/"


def test_links_are_absolute_and_reach_a_docs_page() -> None:
    """Each link is absolute, for a package index, and each into the docs site has its page."""
    readme = _README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)]+)\)", readme)
    assert targets, "README.md links nowhere"
    assert [t for t in targets if not t.startswith("https://")] == []
    docs = _README.parent / "docs"
    for target in targets:
        if target.startswith(_SITE):
            page = target.removeprefix(_SITE).strip("/").split("#")[0] or "index"
            assert (docs / f"{page}.md").is_file(), target
