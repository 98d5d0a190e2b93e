"""The documentation's code: every Python block compiles, and the self-contained ones run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

_DOCS = Path(__file__).resolve().parents[1] / "docs"
_TOP_LEVEL_AWAIT = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

# Pages whose examples need nothing but the package and run as they are.
# The pages whose examples need a server run in test_docs_server.py.
_RUNNABLE = ("cli.md", "configuration.md", "health.md", "models.md")


def _blocks(page: Path) -> list[str]:
    return _BLOCK.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", sorted(_DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_block_compiles(page: Path) -> None:
    """No page shows Python that is not valid Python."""
    for number, block in enumerate(_blocks(page)):
        # Snippets may await at top level, as in an async REPL or a notebook.
        compile(block, f"{page.name}[{number}]", "exec", _TOP_LEVEL_AWAIT, dont_inherit=True)


@pytest.mark.parametrize("name", _RUNNABLE)
def test_self_contained_examples_run(name: str, clean_env: pytest.MonkeyPatch) -> None:
    """The examples of the CLI, configuration, health and models pages run as written."""
    blocks = _blocks(_DOCS / name)
    assert blocks, f"{name} has no Python example"
    for number, block in enumerate(blocks):
        code = compile(block, f"{name}[{number}]", "exec", dont_inherit=True)
        exec(code, {"__name__": f"docs_{number}"})  # noqa: S102 - the project's own docs


def test_printed_values_match_their_comments(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each `print(...)  # shown` line of the configuration page prints what its comment shows."""
    clean_env.chdir(tmp_path)  # the example reads .env from the working directory: none here
    checked = 0
    for number, block in enumerate(_blocks(_DOCS / "configuration.md")):
        shown = re.findall(r"^print\(.*\)  # (.*)$", block, re.M)
        if not shown:
            continue
        exec(compile(block, f"configuration.md[{number}]", "exec", dont_inherit=True), {})  # noqa: S102
        assert capsys.readouterr().out.splitlines() == shown
        checked += len(shown)
    assert checked, "configuration.md has no `print(...)  # shown` line left to check"


_CHANGE_KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


def test_changelog_releases_name_each_kind_of_change_once() -> None:
    """Each CHANGELOG.md release has one heading per kind of change, of Keep a Changelog's six."""
    changelog = (_DOCS.parent / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.split(r"^## ", changelog, flags=re.MULTILINE)[1:]
    assert releases, "CHANGELOG.md holds no release"
    for release in releases:
        name = release.splitlines()[0]
        kinds = re.findall(r"^### (.+)$", release, flags=re.MULTILINE)
        assert set(kinds) <= set(_CHANGE_KINDS), f"{name}: {kinds}"
        assert len(kinds) == len(set(kinds)), f"{name} repeats a heading: {kinds}"
