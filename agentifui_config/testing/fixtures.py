"""The plugin's synchronous fixtures: server, database, schema, settings and environment.

Session-scoped fixtures here are synchronous on purpose: their database work
runs on a private event loop in a worker thread, so they hold no connection
tied to an event loop and need no ``loop_scope``, whatever pytest-asyncio's
settings are. The asynchronous fixtures are in
:mod:`agentifui_config.testing.async_fixtures`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import pytest

from agentifui_config.errors import AgentifuiError
from agentifui_config.testing.options import (
    REQUIRE_DB_FLAG,
    REQUIRE_DB_INI,
    alembic_config_path,
    metadata_from_ini,
    require_db,
    settings_class_from_ini,
)
from agentifui_config.testing.server_report import (
    SERVER_USED,
    SKIPPED_BECAUSE,
    configured_url,
    embedded_installable,
)

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from agentifui_config.database import DatabaseConfig
    from agentifui_config.migrations import AlembicConfigSource
    from agentifui_config.settings import EnvironmentSettings
    from agentifui_config.testing.postgres import PostgresServer

__all__ = [
    "SettingsFactory",
    "agentifui_alembic_config",
    "agentifui_app",
    "agentifui_metadata",
    "clean_env",
    "database_config",
    "hidden_variables",
    "make_settings",
    "migrated_database",
    "postgres_server",
]

# A string: the settings (pydantic-settings) are imported when a fixture first needs them,
# so a run with the plugin installed and unused pays nothing for them.
SettingsFactory: TypeAlias = "Callable[..., EnvironmentSettings]"
"""The type of :func:`make_settings`: keyword overrides in, ``EnvironmentSettings`` out."""


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """The PostgreSQL server of the test run, stopped at its end when it was started here.

    The one named by ``AGENTIFUI_TEST_DATABASE_URL``, else a throwaway embedded
    server (extra ``embedded``); the server is sought once per run. A URL that
    does not answer, or an embedded server that fails to start, fails every
    test that needs it. Only with neither the URL nor pgserver are those tests
    skipped with the reason (the summary says so too), or failed with
    ``--agentifui-require-db`` or ``agentifui_require_db = true``.
    """
    from agentifui_config.testing.postgres import (  # noqa: PLC0415 - loads asyncpg
        PostgresUnavailableError,
        start_server,
    )

    try:
        server = start_server()
    except PostgresUnavailableError as exc:
        reason = str(exc)
    else:
        request.config.stash[SERVER_USED] = _describe(server)
        with server:
            yield server
        return
    _unavailable(request.config, reason)  # outside the except: no chained traceback


def _describe(server: PostgresServer) -> str:
    """The server as the run's summary names it: its kind, version and URL, password masked."""
    from agentifui_config.testing._databases import server_version  # noqa: PLC0415
    from agentifui_config.testing._loop import run_coroutine  # noqa: PLC0415

    version = run_coroutine(lambda: server_version(server.admin))
    kind = "embedded PostgreSQL" if server.embedded else "PostgreSQL"
    return f"{kind} {version} at {server.admin.masked_url}"


def _unavailable(config: pytest.Config, reason: str) -> NoReturn:
    nothing_configured = configured_url() is None and not embedded_installable()
    if require_db(config) or not nothing_configured:
        pytest.fail(f"no PostgreSQL for the tests: {reason}", pytrace=False)
    config.stash[SKIPPED_BECAUSE] = reason
    pytest.skip(
        f"no PostgreSQL for the tests: {reason}; pass {REQUIRE_DB_FLAG} "
        f"(or set {REQUIRE_DB_INI} = true) to fail instead of skipping"
    )


@pytest.fixture(scope="session")
def database_config(postgres_server: PostgresServer) -> Iterator[DatabaseConfig]:
    """The test run's own database on :func:`postgres_server`, created empty and dropped at the end.

    :func:`migrated_database` builds the app's schema in this same database.
    """
    from agentifui_config.testing.postgres import temporary_database  # noqa: PLC0415

    with temporary_database(postgres_server) as config:
        yield config


@pytest.fixture(scope="session")
def agentifui_alembic_config(pytestconfig: pytest.Config) -> AlembicConfigSource | None:
    """The app's Alembic configuration; override it in ``conftest.py`` to give it in code.

    By default the ``agentifui_alembic_config`` ini key (an ``alembic.ini`` or
    migration directory, relative to the ini file), or ``None`` without it.
    """
    return alembic_config_path(pytestconfig)


@pytest.fixture(scope="session")
def agentifui_metadata(pytestconfig: pytest.Config) -> MetaData | None:
    """The app's models' ``MetaData``; override it in ``conftest.py`` to return ``Base.metadata``.

    By default the object the ``agentifui_metadata`` ini key names, or ``None``.
    """
    return metadata_from_ini(pytestconfig)


@pytest.fixture(scope="session")
def migrated_database(
    agentifui_alembic_config: AlembicConfigSource | None,
    agentifui_metadata: MetaData | None,
    database_config: DatabaseConfig,
) -> DatabaseConfig:
    """:func:`database_config` with the app's schema, built once per run.

    Upgraded to head with the app's migrations (:func:`agentifui_alembic_config`),
    or, without them, given the models' tables with ``create_all``
    (:func:`agentifui_metadata`).
    """
    from agentifui_config.testing.schema import build_schema  # noqa: PLC0415 - loads SQLAlchemy

    try:
        build_schema(
            database_config, alembic_config=agentifui_alembic_config, metadata=agentifui_metadata
        )
    except AgentifuiError as exc:  # no schema given, a bad path, Alembic's refusal
        refused = f"migrated_database: {exc}"
    else:
        return database_config
    pytest.fail(refused, pytrace=False)  # outside the except: no chained traceback


def hidden_variables(
    present: Iterable[str] | None = None, known: Iterable[str] | None = None
) -> frozenset[str]:
    """The environment variables :func:`clean_env` hides.

    Every variable the settings read (:func:`~agentifui_config.settings.variable_names`),
    their ``_FILE`` forms, ``DATABASE_URL``, and each variable in *present* that
    is one of those in another case (the settings read names case-insensitively),
    starts with ``DB_`` or is a near miss of one of ours (``DB_USER``, ``CORS_ORIGIN``),
    which the settings would report as a probable typo.

    Args:
        present: The names set in the environment; by default the process's.
        known: The variables the settings read; by default ``EnvironmentSettings``'s.
    """
    from agentifui_config.database import DB_PREFIX  # noqa: PLC0415 - loads pydantic
    from agentifui_config.misnames import suggest_variable  # noqa: PLC0415
    from agentifui_config.settings import variable_names  # noqa: PLC0415
    from agentifui_config.sources import FILE_SUFFIX  # noqa: PLC0415

    known = tuple(variable_names() if known is None else known)
    ours = {*known, "DATABASE_URL", *(name + FILE_SUFFIX for name in known)}
    hidden = set(ours)
    names = list(os.environ) if present is None else present
    for name in names:
        upper = name.upper()
        if (
            upper in ours
            or upper.startswith(DB_PREFIX)
            or suggest_variable(upper, known) is not None
        ):
            hidden.add(name)
    return frozenset(hidden)


@pytest.fixture
def clean_env(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[pytest.MonkeyPatch]:
    """Hide the developer's configuration variables during the test, and reset ``get_settings``.

    ``DB_*``, ``DATABASE_URL``, ``SECRET_KEY``, ``CORS_*`` and every other
    variable the settings read (see :func:`hidden_variables`) are unset until
    the test ends; ``get_settings()``'s cache is cleared before and after.

    Returns:
        The test's ``monkeypatch``, to set the variables the test wants.
    """
    from agentifui_config.pipeline import (  # noqa: PLC0415 - loads pydantic-settings
        variable_names as settings_variables,
    )
    from agentifui_config.settings import get_settings  # noqa: PLC0415

    get_settings.cache_clear()
    settings_class = settings_class_from_ini(request.config)
    for name in hidden_variables(known=settings_variables(settings_class)):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def make_settings(clean_env: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> SettingsFactory:
    """A factory of ``EnvironmentSettings`` from keyword overrides alone.

    ``make_settings(environment="production", secret_key="x" * 32)`` builds and
    validates settings as ``load_settings()`` does, but with the developer's
    variables hidden (:func:`clean_env`) and no ``.env`` file: only the
    overrides, the defaults and what the test itself sets count.
    """
    settings_class = settings_class_from_ini(request.config)

    def factory(**overrides: Any) -> EnvironmentSettings:
        """Build settings from *overrides*, the defaults and the test's own variables."""
        # No .env file, even one the class's model_config names.
        return settings_class(_env_file=None, **overrides)

    return factory


@pytest.fixture
def agentifui_app() -> Any:
    """The FastAPI app :func:`~agentifui_config.testing.async_fixtures.app_client` calls.

    Override it in ``conftest.py`` to return your app; this default fails, saying so.
    """
    pytest.fail(
        "app_client needs your FastAPI app: define a fixture named agentifui_app in "
        "conftest.py that returns it",
        pytrace=False,
    )
