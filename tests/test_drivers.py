"""Tests for finding the installed async PostgreSQL drivers."""

from __future__ import annotations

import pytest

from agentifui_config.drivers import (
    checked_driver,
    installed_async_drivers,
    is_async_postgres_driver,
)


class TestDrivers:
    def test_default_driver_is_installed(self) -> None:
        """asyncpg, a dependency, is found and listed."""
        assert is_async_postgres_driver("postgresql+asyncpg")
        assert "postgresql+asyncpg" in installed_async_drivers()

    @pytest.mark.parametrize("driver", ["postgresql+psycopg2", "mysql+aiomysql", "nonsense", ""])
    def test_others_are_not(self, driver: str) -> None:
        """A sync driver, another database or a wrong name is not an async PostgreSQL driver."""
        assert not is_async_postgres_driver(driver)

    def test_refusal_lists_the_installed_ones(self) -> None:
        """The refusal names the driver given and the ones that are installed."""
        with pytest.raises(ValueError, match=r"'nope' is not an installed .*postgresql\+asyncpg"):
            checked_driver("nope")

    def test_stripped(self) -> None:
        """Surrounding spaces are removed."""
        assert checked_driver(" postgresql+asyncpg ") == "postgresql+asyncpg"
