"""The pytest plugin's options: their names, their registration and how fixtures read them.

Each setting is an ini key (``[pytest]``, or ``[tool.pytest.ini_options]`` in
``pyproject.toml``); requiring a server is also a command-line flag, which wins.

============================  ===========================================================
``agentifui_require_db``      ``true``: fail, rather than skip, the tests that need
                              PostgreSQL when none can be had (``--agentifui-require-db``)
``agentifui_alembic_config``  the app's ``alembic.ini`` or migration directory, relative
                              to the ini file; the migrated database is upgraded with it
``agentifui_metadata``        ``package.module:Base.metadata``: the models, created with
                              ``create_all`` when there are no migrations
``agentifui_settings``        ``package.module:AppSettings``: the app's settings class,
                              which ``make_settings`` builds and ``clean_env`` clears
============================  ===========================================================
"""

from __future__ import annotations

import pkgutil
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

from agentifui_config.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from agentifui_config.settings import EnvironmentSettings

__all__ = [
    "ALEMBIC_CONFIG_INI",
    "METADATA_INI",
    "REQUIRE_DB_FLAG",
    "REQUIRE_DB_INI",
    "SETTINGS_INI",
    "add_options",
    "alembic_config_path",
    "metadata_from_ini",
    "require_db",
    "settings_class_from_ini",
]

REQUIRE_DB_FLAG: Final = "--agentifui-require-db"
"""The flag that turns a missing PostgreSQL server from a skip into a failure."""

REQUIRE_DB_INI: Final = "agentifui_require_db"
"""The ini key doing what :data:`REQUIRE_DB_FLAG` does, for a suite that always needs the server."""

ALEMBIC_CONFIG_INI: Final = "agentifui_alembic_config"
"""The ini key naming the app's ``alembic.ini`` or migration directory."""

SETTINGS_INI: Final = "agentifui_settings"
"""The ini key naming the app's settings class as ``package.module:ClassName``."""

METADATA_INI: Final = "agentifui_metadata"
"""The ini key naming the app's ``MetaData`` as ``package.module:attribute.path``."""

_DEST: Final = "agentifui_require_db"


def add_options(parser: pytest.Parser) -> None:
    """Register the flag and the ini keys, so ``pytest --help`` lists them.

    Args:
        parser: The parser given to ``pytest_addoption``.
    """
    group = parser.getgroup("agentifui-config", "agentifui-config PostgreSQL fixtures")
    group.addoption(
        REQUIRE_DB_FLAG,
        action="store_true",
        dest=_DEST,
        default=False,
        help="fail, instead of skip, the tests that need PostgreSQL when no server is "
        "available (AGENTIFUI_TEST_DATABASE_URL unset and no embedded server)",
    )
    parser.addini(
        REQUIRE_DB_INI,
        type="bool",
        default=False,
        help=f"like {REQUIRE_DB_FLAG}: a missing PostgreSQL server fails the tests that need it",
    )
    parser.addini(
        ALEMBIC_CONFIG_INI,
        type="string",
        default="",
        help="the app's alembic.ini (or migration directory), relative to the ini file: "
        "migrated_database upgrades the test database to head with it",
    )
    parser.addini(
        SETTINGS_INI,
        type="string",
        default="",
        help="the app's settings class as package.module:AppSettings: make_settings builds "
        "it and clean_env hides its variables too",
    )
    parser.addini(
        METADATA_INI,
        type="string",
        default="",
        help="the app's models as package.module:Base.metadata: migrated_database runs "
        "create_all with them when there are no migrations, and the model check compares them",
    )


def settings_class_from_ini(config: pytest.Config) -> type[EnvironmentSettings]:
    """The class named by ``agentifui_settings``, or ``EnvironmentSettings`` when unset.

    Raises:
        pytest.UsageError: The name cannot be imported or is not a settings class.
    """
    from agentifui_config.settings import (  # noqa: PLC0415 - loads pydantic-settings
        EnvironmentSettings,
        settings_class_named,
    )

    value = str(config.getini(SETTINGS_INI)).strip()
    if not value:
        return EnvironmentSettings
    try:
        return settings_class_named(value)
    except ConfigurationError as exc:
        raise pytest.UsageError(f"{SETTINGS_INI} = {value}: {exc}") from None


def require_db(config: pytest.Config) -> bool:
    """Whether a missing server fails the tests that need it (flag or ini key)."""
    return bool(config.getoption(_DEST, default=False) or config.getini(REQUIRE_DB_INI))


def alembic_config_path(config: pytest.Config) -> Path | None:
    """The path given by ``agentifui_alembic_config``, resolved against the ini file's directory.

    Returns:
        The path, or ``None`` when the key is not set.
    """
    value = str(config.getini(ALEMBIC_CONFIG_INI)).strip()
    if not value:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return base / value


def metadata_from_ini(config: pytest.Config) -> MetaData | None:
    """The ``MetaData`` named by ``agentifui_metadata``, imported now.

    Returns:
        The object, or ``None`` when the key is not set.

    Raises:
        pytest.UsageError: The name cannot be imported.
    """
    value = str(config.getini(METADATA_INI)).strip()
    if not value:
        return None
    from sqlalchemy import MetaData  # noqa: PLC0415 - only for suites that set the key

    remedy = "give the models' MetaData as package.module:Base.metadata"
    try:
        found = pkgutil.resolve_name(value)
    except (ImportError, AttributeError, ValueError) as exc:
        raise pytest.UsageError(
            f"{METADATA_INI} = {value}: cannot import it ({type(exc).__name__}: {exc}); {remedy}"
        ) from exc
    if not isinstance(found, MetaData):
        raise pytest.UsageError(
            f"{METADATA_INI} = {value}: is a {type(found).__name__}, not a MetaData; {remedy}"
        )
    return found
