"""The documentation's examples that need PostgreSQL, run as written against the test server.

Each page runs like a notebook: its Python blocks in order, in one namespace,
top-level ``await`` allowed, in a working directory of its own whose ``DB_*``
variables reach an empty database of the test's own. The text speaks of
``manager``, the service's ``ConnectionManager``: fragments that use it find
one, initialised on that database. What a block defines is then exercised:

- an ``app`` or a ``lifespan`` is started and stopped, as uvicorn would;
- an ``env.py`` body (it calls ``run_migrations(``) becomes the migration
  directory's ``env.py``, and the database is upgraded through it;
- test functions are called, with the page's first block importable as ``app``
  (the file docs/fastapi.md tells to save as ``app.py``).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sys
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
from cli_support import database_environ
from fastapi import FastAPI

from agentifui_config import ConnectionManager
from agentifui_config.migrations import init_migrations, upgrade

if TYPE_CHECKING:
    from collections.abc import Callable

    from agentifui_config import DatabaseConfig

_DOCS: Final = Path(__file__).resolve().parents[1] / "docs"
_BLOCK: Final = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_MODELS: Final = (
    "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n"
)


class _Page:
    """One page's blocks run in order on a private event loop, in one namespace."""

    def __init__(
        self, name: str, loop: asyncio.AbstractEventLoop, manager: ConnectionManager
    ) -> None:
        self.name = name
        self.loop = loop
        self.namespace: dict[str, Any] = {"__name__": f"docs_{Path(name).stem}", "manager": manager}
        self.blocks = _BLOCK.findall((_DOCS / name).read_text(encoding="utf-8"))
        self.exercised: list[str] = []

    def run(self, number: int, block: str) -> None:
        """Run one block, then exercise what it defined."""
        if "run_migrations(" in block:
            Path("migrations/env.py").write_text(block, encoding="utf-8")
            self.loop.run_until_complete(upgrade(self.namespace["manager"], "migrations"))
            self.exercised.append("env.py")
            return
        before = dict(self.namespace)
        code = compile(
            block,
            f"{self.name}[{number}]",
            "exec",
            ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            dont_inherit=True,
        )
        result = eval(code, self.namespace)  # noqa: S307 - the project's own docs
        if inspect.iscoroutine(result):
            self.loop.run_until_complete(result)
        new = {k: v for k, v in self.namespace.items() if before.get(k) is not v}
        self._exercise(new)

    def _exercise(self, new: dict[str, Any]) -> None:
        app = new.get("app")
        if isinstance(app, FastAPI):
            self.loop.run_until_complete(_start_and_stop(app.router.lifespan_context(app)))
            self.exercised.append("app")
        elif callable(new.get("lifespan")):
            app = FastAPI(lifespan=new["lifespan"])
            self.loop.run_until_complete(_start_and_stop(app.router.lifespan_context(app)))
            self.exercised.append("lifespan")
        for name, test in new.items():
            if name.startswith("test_") and inspect.iscoroutinefunction(test):
                self.loop.run_until_complete(test())
                self.exercised.append(name)


async def _start_and_stop(lifespan: AbstractAsyncContextManager[Any]) -> None:
    async with lifespan:
        pass


@pytest.fixture
def workdir(
    fresh_database: DatabaseConfig, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Path]:
    """A working directory with ``myapp.models``, its ``DB_*`` variables on an empty database."""
    for name, value in database_environ(fresh_database).items():
        if name.startswith("DB_"):
            clean_env.setenv(name, value)
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "myapp" / "models.py").write_text(_MODELS, encoding="utf-8")
    clean_env.chdir(tmp_path)
    clean_env.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in [m for m in sys.modules if m == "app" or m.startswith("myapp")]:
        del sys.modules[module]


@pytest.fixture
def page_runner(workdir: Path, fresh_database: DatabaseConfig) -> Iterator[Callable[[str], _Page]]:
    """Make a :class:`_Page` whose ``manager`` is initialised on the test's database."""
    loop = asyncio.new_event_loop()
    manager = ConnectionManager()
    loop.run_until_complete(manager.initialize(fresh_database))
    try:
        yield lambda name: _Page(name, loop, manager)
    finally:
        loop.run_until_complete(manager.dispose())
        loop.close()


def test_connections_page_runs(page_runner: Callable[[str], _Page]) -> None:
    """docs/connections.md: the manager's lifecycle and the session dependency run as written."""
    page = page_runner("connections.md")
    for number, block in enumerate(page.blocks):
        page.run(number, block)
    assert len(page.blocks) == 3


def test_migrations_page_runs(page_runner: Callable[[str], _Page]) -> None:
    """docs/migrations.md: the template, start-up upgrade, env.py and status run as written."""
    page = page_runner("migrations.md")
    for number, block in enumerate(page.blocks):
        page.run(number, block)
    assert page.exercised == ["lifespan", "env.py"]


def test_fastapi_page_runs(page_runner: Callable[[str], _Page], workdir: Path) -> None:
    """docs/fastapi.md: every app starts, migrations at start-up included, and its test passes."""
    init_migrations("migrations")  # what `agentifui-config migrate init migrations` writes
    page = page_runner("fastapi.md")
    (workdir / "app.py").write_text(page.blocks[0], encoding="utf-8")
    for number, block in enumerate(page.blocks):
        page.run(number, block)
    # The test block imports the first block's app (started again) and tests it.
    assert page.exercised == ["app", "app", "app", "app", "test_create_and_read_a_note"]
