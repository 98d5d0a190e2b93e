"""What loading the settings costs: ``load_settings()`` against what a service would write instead.

Run it as ``python benchmarks/bench_settings_load.py`` (``--rounds N``). The
environment holds a production configuration (database parts, CSV lists, a
secret key); each contender reads it, validates it and composes the database
URL with SQLAlchemy's ``URL``, in turn, round after round:

- **pydantic-settings class**: a hand-written ``BaseSettings`` with the same
  fields and checks: typed and ranged numbers, ``NoDecode`` CSV lists and
  flags, a ``SecretStr`` key at least 32 characters long in production, no
  ``*`` CORS origin in production, the URL built with ``URL.create``;
- **dynaconf**: ``Dynaconf`` on the environment with ``Validator`` rules for
  the same checks;
- **environs**: ``Env()`` with marshmallow validators for the same checks;
- **load_settings()**: the library, which also checks every rule of its
  policy table and reports misspelt variable names.

Ratios are times: ``load_settings()``'s over each contender's.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from functools import partial
from typing import Annotated, Literal

from dynaconf import Dynaconf, Validator
from environs import Env
from harness import interleave, print_medians, print_ratio, timed
from marshmallow.validate import Length, OneOf, Range
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL

from agentifui_config import load_settings

_ENVIRONMENT = {
    "ENVIRONMENT": "production",
    "DB_HOST": "db.internal",
    "DB_PORT": "5432",
    "DB_USERNAME": "app",
    "DB_PASSWORD": "s3cr@t/pass",
    "DB_DATABASE": "app",
    "DB_POOL_SIZE": "10",
    "CORS_ORIGINS": "https://app.example.com,https://admin.example.com",
    "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdef",
    "LOG_LEVEL": "INFO",
    "FEATURE_FLAGS": "new_dashboard,beta_search",
}
_ENVIRONMENTS = ("development", "testing", "staging", "production")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_MIN_KEY = 32
_BASELINES = ("pydantic-settings class", "dynaconf", "environs")


def _csv(value: object) -> object:
    """``a,b`` as ``["a", "b"]``; anything else as it is."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class _HandWritten(BaseSettings):
    """The settings class a service writes with pydantic-settings alone."""

    model_config = SettingsConfigDict(extra="ignore")

    environment: Literal["development", "testing", "staging", "production"] = "development"
    db_host: str = "localhost"
    db_port: int = Field(default=5432, ge=1, le=65535)
    db_username: str = "postgres"
    db_password: SecretStr = SecretStr("")
    db_database: str = "postgres"
    db_driver: str = "postgresql+asyncpg"
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    cors_origins: Annotated[list[str], NoDecode] = []
    secret_key: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    feature_flags: Annotated[dict[str, bool], NoDecode] = {}

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return _csv(value)

    @field_validator("feature_flags", mode="before")
    @classmethod
    def _split_flags(cls, value: object) -> object:
        names = _csv(value)
        return dict.fromkeys(names, True) if isinstance(names, list) else names

    @model_validator(mode="after")
    def _production(self) -> _HandWritten:
        if self.environment == "production":
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            if len(key) < _MIN_KEY:
                raise ValueError(f"SECRET_KEY must be at least {_MIN_KEY} characters")
            if "*" in self.cors_origins:
                raise ValueError("CORS_ORIGINS must not be * in production")
        return self

    @property
    def database_url(self) -> URL:
        """The database URL, composed from its parts."""
        return URL.create(
            self.db_driver,
            username=self.db_username,
            password=self.db_password.get_secret_value(),
            host=self.db_host,
            port=self.db_port,
            database=self.db_database,
        )


def _pydantic_settings() -> None:
    _HandWritten().database_url  # noqa: B018 - composing the URL is part of the work


# dynaconf's condition for the production-only rules.
_IN_PRODUCTION = Validator("ENVIRONMENT", eq="production")


def _url(read: Callable[[str, str], str], port: int) -> URL:
    """The database URL from the parts *read* gives (a variable's name, its default)."""
    return URL.create(
        "postgresql+asyncpg",
        username=read("DB_USERNAME", "postgres"),
        password=read("DB_PASSWORD", ""),
        host=read("DB_HOST", "localhost"),
        port=port,
        database=read("DB_DATABASE", "postgres"),
    )


def _dynaconf() -> None:
    settings = Dynaconf(
        envvar_prefix=False,
        validators=[
            Validator("ENVIRONMENT", default="development", is_in=_ENVIRONMENTS),
            Validator("DB_PORT", default=5432, is_type_of=int, gte=1, lte=65535),
            Validator("DB_POOL_SIZE", default=5, is_type_of=int, gte=1),
            Validator("LOG_LEVEL", default="INFO", is_in=_LEVELS),
            Validator("SECRET_KEY", len_min=_MIN_KEY, when=_IN_PRODUCTION),
        ],
    )
    settings.validators.validate()
    origins = _csv(settings.get("CORS_ORIGINS", ""))
    _csv(settings.get("FEATURE_FLAGS", ""))
    if settings.ENVIRONMENT == "production" and isinstance(origins, list) and "*" in origins:
        raise ValueError("CORS_ORIGINS must not be * in production")
    _url(settings.get, settings.DB_PORT)


def _environs() -> None:
    env = Env()
    environment = env.str("ENVIRONMENT", "development", validate=OneOf(_ENVIRONMENTS))
    port = env.int("DB_PORT", 5432, validate=Range(min=1, max=65535))
    env.int("DB_POOL_SIZE", 5, validate=Range(min=1))
    env.str("LOG_LEVEL", "INFO", validate=OneOf(_LEVELS))
    origins: list[str] = env.list("CORS_ORIGINS", [])
    env.list("FEATURE_FLAGS", [])
    if environment == "production":
        env.str("SECRET_KEY", validate=Length(min=_MIN_KEY))
        if "*" in origins:
            raise ValueError("CORS_ORIGINS must not be * in production")
    _url(env.str, port)


def _library() -> None:
    load_settings().database.sqlalchemy_url  # noqa: B018 - as the other contenders


def main() -> None:
    """Load the settings every way, interleaved, and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=300, help="loads timed per contender")
    rounds = parser.parse_args().rounds
    os.environ.update(_ENVIRONMENT)
    contenders: dict[str, Callable[[], None]] = {
        "pydantic-settings class": _pydantic_settings,
        "dynaconf": _dynaconf,
        "environs": _environs,
        "load_settings()": _library,
    }
    for load in contenders.values():  # imports and caches warmed, and every one accepts it
        load()
    medians = interleave({name: partial(timed, load) for name, load in contenders.items()}, rounds)
    print_medians("settings load, production environment: median", medians)
    for baseline in _BASELINES:
        print_ratio(
            f"settings load_settings() / {baseline}", medians["load_settings()"], medians[baseline]
        )


if __name__ == "__main__":
    main()
