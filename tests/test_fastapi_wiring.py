"""Tests for setup(), configure_cors(), the extra's import guard and the docs' example app."""

from __future__ import annotations

import contextlib
import importlib.util
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, assert_type

import httpx
import pytest
import sqlalchemy.exc
from fastapi import APIRouter, FastAPI

import agentifui_config.fastapi as integration
from agentifui_config import (
    ConfigurationError,
    DatabaseConfig,
    Environment,
    EnvironmentSettings,
    get_settings,
    load_settings,
)
from agentifui_config.fastapi import configure_cors, create_lifespan, health_router, setup

_DOCS = Path(__file__).parent.parent / "docs" / "fastapi.md"
_ORIGIN = "https://app.example.com"

_WITHOUT_FASTAPI = """
import sys
sys.modules["fastapi"] = None  # what a missing package looks like to the import system
try:
    import agentifui_config.fastapi
except ImportError as exc:
    print(exc)
"""

_OLD_FASTAPI = """
import fastapi
def Depends(dependency=None, *, use_cache=True):  # the signature before FastAPI 0.121
    pass
fastapi.Depends = Depends
fastapi.__version__ = "0.120.0"
try:
    import agentifui_config.fastapi
except ImportError as exc:
    print(exc)
"""


@contextlib.asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _cors_settings(**overrides: Any) -> EnvironmentSettings:
    return load_settings(cors_origins=[_ORIGIN], **overrides)


def _preflight(method: str = "POST", origin: str = _ORIGIN) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type",
    }


@pytest.mark.asyncio
class TestConfigureCors:
    async def test_preflight_from_an_allowed_origin_is_accepted(self) -> None:
        """A preflight from a configured origin is answered with that origin and credentials."""
        app = FastAPI()
        configure_cors(app, _cors_settings())
        async with _client(app) as client:
            response = await client.options("/anything", headers=_preflight())
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == _ORIGIN
        assert response.headers["access-control-allow-credentials"] == "true"
        assert response.headers["access-control-max-age"] == "600"

    async def test_preflight_from_another_origin_is_refused(self) -> None:
        """A preflight from an origin not in CORS_ORIGINS is refused."""
        app = FastAPI()
        configure_cors(app, _cors_settings())
        async with _client(app) as client:
            response = await client.options(
                "/anything", headers=_preflight(origin="https://evil.example.net")
            )
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers

    async def test_methods_and_headers_follow_the_settings(self) -> None:
        """Only the configured methods and headers are allowed, credentials only when enabled."""
        settings = _cors_settings(
            cors_allow_methods=["GET"],
            cors_allow_headers=["x-request-id"],
            cors_allow_credentials=False,
        )
        app = FastAPI()
        configure_cors(app, settings, expose_headers=["x-request-id"], max_age=60)
        async with _client(app) as client:
            refused = await client.options("/anything", headers=_preflight("DELETE"))
            allowed = await client.options(
                "/anything",
                headers={**_preflight("GET"), "Access-Control-Request-Headers": "x-request-id"},
            )
            simple = await client.get("/anything", headers={"Origin": _ORIGIN})
        assert refused.status_code == 400
        assert allowed.status_code == 200
        assert allowed.headers["access-control-max-age"] == "60"
        assert "access-control-allow-credentials" not in allowed.headers
        assert simple.headers["access-control-expose-headers"] == "x-request-id"


@pytest.mark.asyncio
class TestSetup:
    async def test_setup_adds_health_cors_and_error_handlers(self) -> None:
        """setup() includes the health routes, CORS and the 503 handlers."""
        app = FastAPI()
        setup(app, _cors_settings())

        @app.get("/timeout")
        async def timeout() -> None:
            raise sqlalchemy.exc.TimeoutError("QueuePool limit reached")

        async with _client(app) as client:
            live = await client.get("/health/live", headers={"Origin": _ORIGIN})
            ready = await client.get("/health/ready")
            failed = await client.get("/timeout")
        assert live.status_code == 200
        assert live.headers["access-control-allow-origin"] == _ORIGIN
        assert ready.status_code == 503
        assert failed.status_code == 503
        assert failed.headers["content-type"] == "application/problem+json"

    async def test_each_part_can_be_left_out(self) -> None:
        """With every part turned off, setup() changes nothing a request can see."""
        app = FastAPI()
        setup(app, _cors_settings(), health_prefix=None, cors=False, exception_handlers=False)
        async with _client(app) as client:
            health = await client.get("/health/live", headers={"Origin": _ORIGIN})
        assert health.status_code == 404
        assert "access-control-allow-origin" not in health.headers
        assert sqlalchemy.exc.TimeoutError not in app.exception_handlers

    @pytest.mark.parametrize(
        ("environment", "expose", "shown"),
        [
            (Environment.DEVELOPMENT, None, True),
            (Environment.PRODUCTION, None, False),
            (Environment.DEVELOPMENT, False, False),
            (Environment.PRODUCTION, True, True),
        ],
    )
    async def test_details_are_hidden_in_production(
        self, environment: Environment, expose: bool | None, shown: bool
    ) -> None:
        """By default the health report explains itself everywhere but in production."""
        # Production settings that pass every policy are beside the point here.
        settings = EnvironmentSettings.model_construct(environment=environment, cors_origins=[])
        app = FastAPI()
        setup(app, settings, cors=False, expose_details=expose)
        async with _client(app) as client:
            body = (await client.get("/health")).json()
        assert bool(body["components"][0]["details"]["errors"]) is shown

    async def test_refused_settings_raise_the_report(self) -> None:
        """A settings function that refuses the configuration fails setup() with the report."""

        def refused() -> EnvironmentSettings:
            raise ConfigurationError("expected a whole number", variable="DB_PORT")

        with pytest.raises(ConfigurationError, match="DB_PORT: expected a whole number"):
            setup(FastAPI(), refused)


class TestImport:
    def test_missing_fastapi_names_the_extra(self) -> None:
        """Importing the integration without FastAPI says which extra to install."""
        result = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed script
            [sys.executable, "-c", _WITHOUT_FASTAPI],
            capture_output=True,
            check=True,
            text=True,
            timeout=60,
        )
        assert "pip install 'agentifui-config[fastapi]'" in result.stdout

    def test_old_fastapi_names_the_version_needed(self) -> None:
        """A FastAPI without dependency scopes is refused, naming the version needed."""
        result = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed script
            [sys.executable, "-c", _OLD_FASTAPI],
            capture_output=True,
            check=True,
            text=True,
            timeout=60,
        )
        assert "needs FastAPI 0.121 or newer, found 0.120.0" in result.stdout

    def test_public_names(self) -> None:
        """Every name in the package's __all__ is defined, once (ruff keeps the list sorted)."""
        assert len(set(integration.__all__)) == len(integration.__all__)
        assert all(hasattr(integration, name) for name in integration.__all__)


class TestSignatures:
    def test_factories_return_what_fastapi_takes(self) -> None:
        """The factories are typed for FastAPI(lifespan=...) and include_router()."""
        lifespan = create_lifespan()
        assert_type(lifespan, Callable[[FastAPI], AbstractAsyncContextManager[Any]])
        router = health_router()
        assert_type(router, APIRouter)
        app = FastAPI(lifespan=lifespan)
        app.include_router(router)
        assert_type(setup(app, health_prefix=None, cors=False), None)


def _docs_app_source() -> str:
    text = _DOCS.read_text(encoding="utf-8")
    section = text.split("## A complete small app", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


@pytest.fixture
def docs_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_config: DatabaseConfig
) -> Any:
    """The docs' example app, loaded as app.py with the DB_* variables of the run's database."""
    for name, value in database_config.connection_info.items():
        if name != "driver":
            monkeypatch.setenv(f"DB_{name.upper()}", str(value))
    monkeypatch.setenv("DB_PASSWORD", database_config.password.get_secret_value())
    path = tmp_path / "app.py"
    path.write_text(_docs_app_source(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("docs_example_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    get_settings.cache_clear()
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        get_settings.cache_clear()


@pytest.mark.asyncio
class TestDocsExample:
    async def test_example_app_runs(self, docs_app: Any) -> None:
        """The complete app of docs/fastapi.md creates and reads a note and reports healthy."""
        app: FastAPI = docs_app.app
        async with app.router.lifespan_context(app), _client(app) as client:
            created = await client.post("/notes", json={"text": "hello"})
            read = await client.get(f"/notes/{created.json()['id']}")
            missing = await client.get("/notes/0")
            health = await client.get("/health")
        assert created.status_code == 201
        assert read.json() == created.json() == {"id": created.json()["id"], "text": "hello"}
        assert missing.status_code == 404
        assert health.json()["status"] == "healthy"
