"""agentifui-config: validated configuration and database lifecycle for FastAPI + PostgreSQL.

``import agentifui_config`` loads its errors and nothing else: each other name
is imported on first use (PEP 562). The settings names load pydantic-settings;
the database lifecycle names (``ConnectionManager`` and the health data
classes) load the async engine, so a service that only reads settings does not
import the async engine, asyncpg or Alembic, and a test run that has the pytest
plugin installed pays for neither until a fixture is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agentifui_config.errors import (
    AgentifuiError,
    ConfigurationError,
    Finding,
    GeneratedSecretKeyWarning,
    Severity,
)
from agentifui_config.failures import (
    DatabaseAuthenticationError,
    DatabaseError,
    DatabaseNotFoundError,
    DatabaseRoleError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
)

if TYPE_CHECKING:
    from agentifui_config.connection import ConnectionManager, ManagerStateError
    from agentifui_config.database import DatabaseConfig, SSLMode
    from agentifui_config.environment import Environment
    from agentifui_config.health import (
        ConnectionPoolInfo,
        DatabaseHealthInfo,
        HealthStatus,
        MigrationState,
        MigrationStatus,
    )
    from agentifui_config.parsing import parse_flags, parse_list
    from agentifui_config.settings import EnvironmentSettings, get_settings, load_settings
    from agentifui_config.url_parsing import parse_database_url

__version__ = "0.1.0"

__all__ = [
    "AgentifuiError",
    "ConfigurationError",
    "ConnectionManager",
    "ConnectionPoolInfo",
    "DatabaseAuthenticationError",
    "DatabaseConfig",
    "DatabaseError",
    "DatabaseHealthInfo",
    "DatabaseNotFoundError",
    "DatabaseRoleError",
    "DatabaseTimeoutError",
    "DatabaseUnavailableError",
    "Environment",
    "EnvironmentSettings",
    "Finding",
    "GeneratedSecretKeyWarning",
    "HealthStatus",
    "ManagerStateError",
    "MigrationState",
    "MigrationStatus",
    "SSLMode",
    "Severity",
    "__version__",
    "get_settings",
    "load_settings",
    "parse_database_url",
    "parse_flags",
    "parse_list",
]

# Every name but the errors' and failures' (both stdlib-only), loaded on first attribute
# access (PEP 562): the settings names pull in pydantic-settings, the database ones SQLAlchemy.
_LAZY: dict[str, str] = {
    "ConnectionManager": "agentifui_config.connection",
    "ConnectionPoolInfo": "agentifui_config.health",
    "DatabaseConfig": "agentifui_config.database",
    "DatabaseHealthInfo": "agentifui_config.health",
    "Environment": "agentifui_config.environment",
    "EnvironmentSettings": "agentifui_config.settings",
    "HealthStatus": "agentifui_config.health",
    "ManagerStateError": "agentifui_config.connection",
    "MigrationState": "agentifui_config.health",
    "MigrationStatus": "agentifui_config.health",
    "SSLMode": "agentifui_config.database",
    "get_settings": "agentifui_config.settings",
    "load_settings": "agentifui_config.settings",
    "parse_database_url": "agentifui_config.url_parsing",
    "parse_flags": "agentifui_config.parsing",
    "parse_list": "agentifui_config.parsing",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentifui_config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
