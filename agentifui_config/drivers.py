"""Which async PostgreSQL drivers are installed, found without importing them.

:class:`~agentifui_config.DatabaseConfig` checks ``DB_DRIVER`` here; the
default driver is settled by a module lookup that loads neither SQLAlchemy's
dialect nor asyncpg.
"""

from __future__ import annotations

import functools
import importlib.util
import pkgutil

from agentifui_config.url_parsing import DEFAULT_DRIVER

__all__ = [
    "checked_driver",
    "driver_package",
    "installed_async_drivers",
    "is_async_postgres_driver",
]


def checked_driver(value: str) -> str:
    """*value* stripped, once it names an installed async PostgreSQL driver.

    Raises:
        ValueError: It does not, listing the drivers that are installed.
    """
    driver = value.strip()
    if not is_async_postgres_driver(driver):
        installed = ", ".join(installed_async_drivers()) or "none"
        raise ValueError(
            f"{value!r} is not an installed async PostgreSQL driver (installed: {installed})"
        )
    return driver


def driver_package(driver: str) -> str:
    """The driver package *driver* names: ``asyncpg`` for ``postgresql+asyncpg``."""
    return driver.partition("+")[2]


@functools.cache
def is_async_postgres_driver(driver: str) -> bool:
    """Whether *driver* (``postgresql+asyncpg``) is an async PostgreSQL dialect, installed."""
    if driver == DEFAULT_DRIVER:
        # SQLAlchemy (a dependency) ships this dialect: whether asyncpg is installed
        # decides, and finding out loads neither package.
        return importlib.util.find_spec("asyncpg") is not None
    from sqlalchemy.engine import URL  # noqa: PLC0415 - any other driver is looked up
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError  # noqa: PLC0415

    try:
        url = URL.create(driver)
        dialect = url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError, AttributeError):
        return False
    async_dialect = dialect.get_async_dialect_cls(url)
    return (
        async_dialect.name == "postgresql"
        and async_dialect.is_async
        and importlib.util.find_spec(async_dialect.driver) is not None
    )


@functools.cache
def installed_async_drivers() -> tuple[str, ...]:
    """The async PostgreSQL dialect+driver names whose driver package is installed."""
    from sqlalchemy.dialects import postgresql  # noqa: PLC0415 - only needed on this error path

    modules = pkgutil.iter_modules(postgresql.__path__)
    names = (f"postgresql+{m.name}" for m in modules if not m.name.startswith("_"))
    return tuple(name for name in names if is_async_postgres_driver(name))
