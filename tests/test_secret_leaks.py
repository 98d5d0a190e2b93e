"""No secret given through any secret variable or option shows anywhere the library writes.

A property over random secrets: ``DB_PASSWORD``, ``SECRET_KEY``, the password and
options of ``DATABASE_URL``, the password of ``MIGRATION_DATABASE_URL``, the replicas'
``DB_READ_PASSWORD`` and a secret option in ``DB_OPTIONS``, each a long random
token no other text can hold by chance. None of them, as written or as a URL or
JSON escapes it, may appear in a repr, a str, a dump, an error with its
traceback and chained causes, a log line, a health payload or the CLI's output.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import string
import traceback
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, quote_plus

import pytest
import structlog
from connection_support import admin_connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from agentifui_config import (
    ConfigurationError,
    ConnectionManager,
    DatabaseConfig,
    MigrationStatus,
    load_settings,
)
from agentifui_config.cli import main
from agentifui_config.logging import configure_logging, reset_logging
from agentifui_config.testing.fixtures import hidden_variables

if TYPE_CHECKING:
    from agentifui_config.testing.postgres import PostgresServer

# Characters URLs must escape (@ / % : +) among letters; no quote, backslash or '*'.
_ALPHABET: Final = string.ascii_letters + string.digits + "@/%:+-_.~"
_OPTION_NAMES: Final = ("sslpassword", "api_key", "client-secret", "access_token", "passphrase")


@dataclass(frozen=True)
class _Secrets:
    """One random value per way a secret reaches the library."""

    password: str
    key: str
    short_key: str
    url_password: str
    url_option: str
    option_name: str
    option: str
    migration_password: str
    read_password: str

    @property
    def values(self) -> tuple[str, ...]:
        """Every secret value."""
        return (*self.configured, self.short_key)

    @property
    def configured(self) -> tuple[str, ...]:
        """The secret values of the accepted configuration (:meth:`environ`)."""
        return (
            self.password,
            self.key,
            self.url_password,
            self.url_option,
            self.option,
            self.migration_password,
            self.read_password,
        )

    def url(self, scheme: str = "postgresql") -> str:
        """A legacy ``DATABASE_URL`` carrying a password and a secret option."""
        password = quote(self.url_password, safe="")
        option = quote_plus(self.url_option)
        return f"{scheme}://legacy:{password}@legacy.internal/old?api_token={option}"

    def migration_url(self) -> str:
        """A ``MIGRATION_DATABASE_URL`` naming a migration role with its own password."""
        password = quote(self.migration_password, safe="")
        return f"postgresql://migrator:{password}@direct.internal/app"

    def environ(self, **extra: str) -> dict[str, str]:
        """A production environment every rule accepts, holding the secrets."""
        return {
            "ENVIRONMENT": "production",
            "DB_HOST": "db.internal",
            "DB_USERNAME": "app",
            "DB_DATABASE": "app",
            "DB_PASSWORD": self.password,
            "DB_OPTIONS": json.dumps({self.option_name: self.option, "sslcert": "/c.pem"}),
            "SECRET_KEY": self.key,
            "DATABASE_URL": self.url(),
            "MIGRATION_DATABASE_URL": self.migration_url(),
            "DB_READ_HOSTS": "replica.internal",
            "DB_READ_USERNAME": "reader",
            "DB_READ_PASSWORD": self.read_password,
            "CORS_ORIGINS": "https://app.example.com",
            **extra,
        }

    def broken_environ(self) -> dict[str, str]:
        """The same, refused: a bad port, a short key and an unparsable URL holding a password."""
        return self.environ(
            DB_PORT="abc",
            SECRET_KEY=self.short_key,
            DATABASE_URL=f"postgresql://legacy:{self.url_password}@x@legacy/old",
        )


def _token(prefix: str, size: int) -> st.SearchStrategy[str]:
    """A random secret that starts with *prefix*, so each slot's secret is told apart."""
    return st.text(_ALPHABET, min_size=size, max_size=size + 8).map(lambda s: prefix + s)


_secrets: Final = st.builds(
    _Secrets,
    password=_token("Lp", 24),
    key=_token("Lk", 40),
    short_key=_token("Ls", 16),
    url_password=_token("Lu", 24),
    url_option=_token("Lv", 24),
    option_name=st.sampled_from(_OPTION_NAMES),
    option=_token("Lo", 24),
    migration_password=_token("Lm", 24),
    read_password=_token("Lr", 24),
)


def _forms(secret: str) -> set[str]:
    """A secret as written, and as a URL, JSON or repr() escapes it."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def _leaks(secrets: _Secrets, texts: dict[str, str]) -> list[str]:
    """Each (channel, secret form) where a secret shows."""
    return [
        f"{channel}: {form!r}"
        for channel, text in texts.items()
        for secret in secrets.values
        for form in _forms(secret)
        if form in text
    ]


@contextlib.contextmanager
def _environ(variables: dict[str, str]) -> Iterator[None]:
    """Only *variables* of the settings' variables set, the settings cache cleared."""
    with pytest.MonkeyPatch.context() as patch:
        for name in hidden_variables():
            patch.delenv(name, raising=False)
        for name, value in variables.items():
            patch.setenv(name, value)
        yield


def _error_texts(error: BaseException) -> str:
    """Everything a log or error page prints of *error*: message, repr, traceback and chain."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


def _load(secrets: _Secrets, environ: dict[str, str]) -> dict[str, str]:
    """What loading the settings shows: reprs and dumps, or the error and its traceback."""
    with _environ(environ), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loaded = load_settings()
        except ConfigurationError as exc:
            return {"load error": _error_texts(exc)}
    return {
        "settings repr": repr(loaded),
        "settings str": str(loaded),
        "settings dump": repr(loaded.model_dump()),
        "settings json": loaded.model_dump_json(),
        "database repr": repr(loaded.database),
        "database str": str(loaded.database),
        "database dump": str(loaded.database.model_dump()),
        "database json": loaded.database.model_dump_json(),
        "logs": _logs(secrets, environ),
    }


def _from_url_error(secrets: _Secrets) -> str:
    """The error from_url raises for a refused override, with its traceback."""
    options = {secrets.option_name: secrets.option, "host": secrets.option}
    try:
        DatabaseConfig.from_url(secrets.url(), port="abc", options=options)
    except ConfigurationError as exc:
        return _error_texts(exc)
    raise AssertionError("from_url accepted a bad port")


def _logs(secrets: _Secrets, environ: dict[str, str]) -> str:
    """Log lines (stdlib, structlog, a traceback) naming every secret of the configuration."""
    stream = io.StringIO()
    with _environ(environ), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        configure_logging(load_settings(), json=True, stream=stream)
    try:
        logging.getLogger("app").warning("login with %s and %s", *secrets.configured[:2])
        structlog.get_logger("app").info(
            "connect",
            dsn=secrets.url(),
            options={secrets.option_name: secrets.option},
            note=" ".join(secrets.configured),
        )
        try:
            raise RuntimeError(f"failed with {' '.join(secrets.configured)}")
        except RuntimeError:
            logging.getLogger("app").exception("request failed")
    finally:
        reset_logging()
        structlog.contextvars.clear_contextvars()
    return stream.getvalue()


def _cli(environ: dict[str, str], *argv: str) -> str:
    """The CLI's standard output and error for *argv*, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with _environ(environ), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(list(argv))
    return out.getvalue() + err.getvalue()


class TestNoSecretShows:
    @given(secrets=_secrets)
    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def test_settings_errors_logs_and_cli(self, secrets: _Secrets) -> None:
        """Reprs, dumps, errors with tracebacks, logs and CLI output hold no secret."""
        good, broken = secrets.environ(), secrets.broken_environ()
        texts = _load(secrets, good)
        assert "logs" in texts, texts.get("load error")
        texts |= _load(secrets, broken)
        assert "load error" in texts
        texts["from_url error"] = _from_url_error(secrets)
        texts["check"] = _cli(good, "check")
        texts["check refused"] = _cli(broken, "check")
        texts["show"] = _cli(good, "show")
        texts["show json"] = _cli(good, "show", "--format", "json")
        texts["show env"] = _cli(good, "show", "--format", "env")
        texts["show refused"] = _cli(broken, "show")
        texts["convert-url"] = _cli(good, "convert-url", secrets.url())
        texts["convert-url refused"] = _cli(good, "convert-url", secrets.url("mysql"))
        assert _leaks(secrets, texts) == []
        assert secrets.option_name in texts["show json"]


class TestNoSecretInHealth:
    @given(secrets=_secrets)
    @settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def test_failed_health_check(
        self, postgres_server: PostgresServer, database_config: DatabaseConfig, secrets: _Secrets
    ) -> None:
        """A health check whose probe failed with every secret in its message shows none."""
        payload = asyncio.run(_failed_health(postgres_server, database_config, secrets))
        assert "ERROR" in payload.upper()
        assert _leaks(secrets, {"health": payload}) == []


async def _failed_health(
    server: PostgresServer, database_config: DatabaseConfig, secrets: _Secrets
) -> str:
    """The health payload of a manager, logged in with the secret password, whose probe fails."""
    role = f"agentifui_leak_{uuid.uuid4().hex[:12]}"
    async with admin_connection(server) as admin:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{secrets.password}'")
    config = database_config.model_copy(
        update={"username": role, "password": SecretStr(secrets.password)}
    )

    async def failing_probe(manager: ConnectionManager) -> MigrationStatus:
        raise RuntimeError(f"alembic could not log in with {secrets.password}")

    manager = ConnectionManager(migration_probe=failing_probe)
    try:
        await manager.initialize(config)
        info = await manager.health_check()
    finally:
        await manager.dispose()
        async with admin_connection(server) as admin:
            await admin.execute(f"DROP ROLE IF EXISTS {role}")
    return json.dumps(info.to_dict()) + repr(info)
