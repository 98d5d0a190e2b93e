"""The pytest plugin: PostgreSQL, settings and FastAPI fixtures for a host app's test suite.

Installing agentifui-config registers it through the ``pytest11`` entry point
(named ``agentifui_config``; ``-p no:agentifui_config`` turns it off), so the
fixtures are there without a ``conftest.py`` line:

- ``postgres_server`` (session): the PostgreSQL server, ``AGENTIFUI_TEST_DATABASE_URL``
  or embedded, named in the run's header and summary; one that does not answer fails
  the tests that need it; with neither the URL nor pgserver they are skipped (or
  fail, if required);
- ``database_config`` (session): the run's throwaway database on it, a ``DatabaseConfig``;
- ``migrated_database`` (session): that database with the app's schema;
- ``agentifui_alembic_config``, ``agentifui_metadata`` (session): the app's migrations
  and models, from the ini keys of the same names or the app's overrides;
- ``clean_env``: the developer's configuration variables hidden during the test;
- ``make_settings``: ``EnvironmentSettings`` from keyword overrides alone;
- ``connection_manager``: a ``ConnectionManager`` on the test database, shared by
  the tests of one event loop (``agentifui_connection_managers`` holds it);
- ``db_session``: an ``AsyncSession`` whose every change, commits too, is undone;
- ``agentifui_app``: the FastAPI app under test, which the app overrides;
- ``app_client``: an ``httpx.AsyncClient`` on that app, its sessions ``db_session``.

The options are in :mod:`agentifui_config.testing.options`; the migration
checks to import into a test module in :mod:`agentifui_config.testing.migration_checks`.
"""

from __future__ import annotations

import re
from typing import Final

import pytest

from agentifui_config.testing.fixtures import (
    agentifui_alembic_config,
    agentifui_app,
    agentifui_metadata,
    clean_env,
    database_config,
    make_settings,
    migrated_database,
    postgres_server,
)
from agentifui_config.testing.options import add_options
from agentifui_config.testing.server_report import header_line, summary_lines

try:
    from agentifui_config.testing.async_fixtures import (
        agentifui_connection_managers,
        app_client,
        connection_manager,
        db_session,
    )
except ImportError as _exc:  # pragma: no cover - exercised only without pytest-asyncio
    if _exc.name != "pytest_asyncio":
        raise
    from agentifui_config.testing._no_asyncio import (
        agentifui_connection_managers,
        app_client,
        connection_manager,
        db_session,
    )

__all__ = [
    "ASYNC_FIXTURES",
    "agentifui_alembic_config",
    "agentifui_app",
    "agentifui_connection_managers",
    "agentifui_metadata",
    "app_client",
    "clean_env",
    "connection_manager",
    "database_config",
    "db_session",
    "loop_scope_problem",
    "make_settings",
    "migrated_database",
    "postgres_server",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
    "pytest_terminal_summary",
]

ASYNC_FIXTURES: Final = ("connection_manager", "db_session", "app_client")
"""The asynchronous fixtures, which must share the event loop of the tests using them."""

_ASYNCIO_PLUGIN: Final = "asyncio"  # pytest-asyncio's entry-point name
_LINES: Final = (
    "    asyncio_default_fixture_loop_scope = session\n"
    "    asyncio_default_test_loop_scope = session"
)
_SHOWN: Final = 5  # tests named in the loop-scope message
_KEY_WARNING: Final = "GeneratedSecretKeyWarning"
# The categories a filter may name that take in GeneratedSecretKeyWarning ("" is any).
_KEY_WARNING_BASES: Final = frozenset(
    {"", "Warning", "builtins.Warning", "UserWarning", "builtins.UserWarning"}
)
# Where the warning is raised, and the variable its message begins with.
_KEY_MODULE: Final = "agentifui_config.settings"
_KEY_VARIABLE: Final = "SECRET_KEY"


def pytest_configure(config: pytest.Config) -> None:
    """Show the development ``SECRET_KEY`` warning in the summary instead of failing on it.

    Tests load settings with the configuration variables hidden (``clean_env``),
    where development generates a key and warns: ``filterwarnings = error``
    would fail each of them. Only where the suite's own filters would make it
    an error, and do not name its category, is it shown as pytest shows
    warnings instead; a suite that ignores it keeps ignoring it, and ``-W``
    and ``filterwarnings`` marks still decide otherwise.
    """
    filters = config.getini("filterwarnings")
    if _last_action(filters) == "error":
        config.addinivalue_line("filterwarnings", f"default::agentifui_config.{_KEY_WARNING}")


def _last_action(filters: list[str]) -> str | None:
    """The action of the last of *filters* that takes in the generated-key warning.

    Later filters take precedence, as pytest applies them in order. A filter
    naming the warning's own category, or narrowed to it by its message
    (``SECRET_KEY``) or module (``agentifui_config``), means the suite has
    decided: ``None``. A filter narrowed to other messages or modules does
    not apply.
    """
    action = None
    for line in filters:
        if _KEY_WARNING in line:
            return None
        # action:message:category:module:lineno
        action_, message, category, module = (
            [part.strip() for part in line.split(":")] + [""] * 4
        )[:4]
        if category not in _KEY_WARNING_BASES:
            continue
        if message or module:
            if _narrowed_to_key(message, module):
                return None
            continue
        action = action_
    return action


def _narrowed_to_key(message: str, module: str) -> bool:
    """Whether a filter's message or module part picks out the generated-key warning."""
    if message and _KEY_VARIABLE.lower() not in message.lower():
        return False
    try:
        return not module or re.match(module, _KEY_MODULE) is not None
    except re.error:
        return False


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--agentifui-require-db`` and the ``agentifui_*`` ini keys."""
    add_options(parser)


def pytest_report_header() -> str:
    """Name the PostgreSQL server the run uses (URL without password, or the embedded one)."""
    return header_line()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Say which server the tests ran on, or why the tests that need one were skipped."""
    for line in summary_lines(config):
        terminalreporter.write_line(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stop the run before it starts when async tests and these fixtures would use two loops.

    Raises:
        pytest.UsageError: Naming the tests and the two ini lines that fix it.
    """
    problem = loop_scope_problem(config, items)
    if problem:
        raise pytest.UsageError(problem)


def loop_scope_problem(config: pytest.Config, items: list[pytest.Item]) -> str | None:
    """Say why and how to fix it when async tests would run on another loop than these fixtures.

    ``connection_manager``, ``db_session`` and ``app_client`` run on the loop
    pytest-asyncio gives function-scoped fixtures (``asyncio_default_fixture_loop_scope``,
    or ``function`` when unset); a test runs on the one of its ``asyncio``
    marker's ``loop_scope``, or ``asyncio_default_test_loop_scope``. When they
    differ, the test fails with "attached to a different loop".

    Returns:
        The message, or ``None`` when every such test shares its fixtures' loop.
    """
    if not config.pluginmanager.has_plugin(_ASYNCIO_PLUGIN):
        return None
    fixture_scope = config.getini("asyncio_default_fixture_loop_scope") or "function"
    if fixture_scope == "fixture-scope":
        fixture_scope = "function"
    default_test_scope = config.getini("asyncio_default_test_loop_scope") or "function"
    mismatched = []
    for item in items:
        marker = item.get_closest_marker("asyncio")
        used = set(ASYNC_FIXTURES).intersection(getattr(item, "fixturenames", ()))
        if marker is None or not used:
            continue
        test_scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
        if (test_scope or default_test_scope) != fixture_scope:
            mismatched.append((item.nodeid, test_scope))
    if not mismatched:
        return None
    shown = ", ".join(
        f"{nodeid} (loop scope {scope or default_test_scope!r})"
        for nodeid, scope in mismatched[:_SHOWN]
    )
    more = f" and {len(mismatched) - _SHOWN} more" if len(mismatched) > _SHOWN else ""
    marked = sorted({nodeid for nodeid, scope in mismatched if scope and scope != "session"})
    unmark = (
        f"\nand drop loop_scope= from the asyncio marker of {', '.join(marked)}" if marked else ""
    )
    return (
        f"agentifui-config: the fixtures {', '.join(ASYNC_FIXTURES)} run on the "
        f"{fixture_scope!r}-scoped event loop, but {shown}{more} would run on another one "
        "and fail with 'attached to a different loop'. Put tests and fixtures on one loop: "
        "add these two lines to the pytest configuration ([pytest] in pytest.ini, "
        "or [tool.pytest.ini_options] in pyproject.toml):\n"
        f"{_LINES}{unmark}"
    )
