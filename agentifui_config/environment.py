"""The deployment environment a service runs in, and the names operators use for it."""

from __future__ import annotations

import enum

from agentifui_config.errors import ConfigurationError

__all__ = ["Environment"]


class Environment(enum.StrEnum):
    """Where a service runs; the stricter the environment, the more rules bind.

    ``ENVIRONMENT`` accepts the values in any case and the aliases ``dev``,
    ``stage`` and ``prod``.
    """

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"

    @classmethod
    def parse(cls, value: str | Environment) -> Environment:
        """Return the environment named by *value*.

        Raises:
            ConfigurationError: *value* names no environment; the message lists
                the accepted values.
        """
        if isinstance(value, Environment):
            return value
        found = _BY_NAME.get(str(value).strip().lower())
        if found is None:
            accepted = ", ".join([*(e.value for e in cls), *_ALIASES])
            raise ConfigurationError(
                f"unknown environment {str(value)!r}",
                variable="ENVIRONMENT",
                remedy=f"use one of: {accepted}",
            )
        return found

    @property
    def is_development(self) -> bool:
        """Whether this is the development environment."""
        return self is Environment.DEVELOPMENT

    @property
    def is_production(self) -> bool:
        """Whether this is the production environment."""
        return self is Environment.PRODUCTION


_ALIASES = {
    "dev": Environment.DEVELOPMENT,
    "stage": Environment.STAGING,
    "prod": Environment.PRODUCTION,
}
_BY_NAME = {**{e.value: e for e in Environment}, **_ALIASES}
