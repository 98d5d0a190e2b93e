"""FastAPI integration: lifespan, session dependencies, health endpoints, CORS, error mapping.

Installed with the ``fastapi`` extra (``pip install 'agentifui-config[fastapi]'``)
and imported by path; ``import agentifui_config`` never loads it. The common case
is two lines::

    app = FastAPI(lifespan=create_lifespan())
    setup(app)

:func:`create_lifespan` loads the settings, opens the connection pool (and can
run the migrations) at startup and closes it at shutdown; :func:`setup` adds
the health endpoints, CORS and the error handlers. Handlers take a session
with ``SessionDep`` (the handler commits) or ``TransactionDep`` (committed on
success, before the response is sent).
"""

from __future__ import annotations

import inspect as _inspect

try:
    import fastapi as _fastapi
except ImportError as _exc:
    raise ImportError(
        "agentifui_config.fastapi needs FastAPI, which is not installed: "
        "pip install 'agentifui-config[fastapi]'"
    ) from _exc

# Depends(scope="function") (FastAPI 0.121) is what commits a transaction before the
# response is sent; with an older FastAPI the commit would follow a 200 already sent.
if "scope" not in _inspect.signature(_fastapi.Depends).parameters:
    raise ImportError(
        f"agentifui_config.fastapi needs FastAPI 0.121 or newer, found {_fastapi.__version__}: "
        "pip install --upgrade 'agentifui-config[fastapi]'"
    )

from agentifui_config.fastapi.callers import CallerKey, add_caller_key
from agentifui_config.fastapi.dependencies import (
    DATABASE_STATE,
    SETTINGS_STATE,
    ConnectionManagerDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    TransactionDep,
    get_connection_manager,
    get_read_session,
    get_session,
    get_settings,
    get_transactional_session,
)
from agentifui_config.fastapi.health import health_router
from agentifui_config.fastapi.lifespan import create_lifespan
from agentifui_config.fastapi.problems import PROBLEM_MEDIA_TYPE, add_exception_handlers
from agentifui_config.fastapi.wiring import configure_cors, setup

__all__ = [
    "DATABASE_STATE",
    "PROBLEM_MEDIA_TYPE",
    "SETTINGS_STATE",
    "CallerKey",
    "ConnectionManagerDep",
    "ReadSessionDep",
    "SessionDep",
    "SettingsDep",
    "TransactionDep",
    "add_caller_key",
    "add_exception_handlers",
    "configure_cors",
    "create_lifespan",
    "get_connection_manager",
    "get_read_session",
    "get_session",
    "get_settings",
    "get_transactional_session",
    "health_router",
    "setup",
]
