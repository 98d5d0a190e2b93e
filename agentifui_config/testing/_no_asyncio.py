"""Stand-ins for the asynchronous fixtures when pytest-asyncio is not installed.

The plugin loads in every test run of an environment holding agentifui-config;
without pytest-asyncio it must still load, and a test asking for an async
fixture must learn what to install rather than get an unknown-fixture error.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

__all__ = ["agentifui_connection_managers", "app_client", "connection_manager", "db_session"]


def _missing(name: str) -> NoReturn:
    pytest.fail(
        f"the {name} fixture needs pytest-asyncio: pip install pytest-asyncio", pytrace=False
    )


@pytest.fixture
def agentifui_connection_managers() -> NoReturn:
    """Fails: needs pytest-asyncio."""
    _missing("agentifui_connection_managers")


@pytest.fixture
def connection_manager() -> NoReturn:
    """Fails: needs pytest-asyncio."""
    _missing("connection_manager")


@pytest.fixture
def db_session() -> NoReturn:
    """Fails: needs pytest-asyncio."""
    _missing("db_session")


@pytest.fixture
def app_client() -> NoReturn:
    """Fails: needs pytest-asyncio."""
    _missing("app_client")
