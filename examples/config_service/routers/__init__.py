"""The HTTP API, version 1: every route lives under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from examples.config_service.problems import UNAVAILABLE_RESPONSES
from examples.config_service.routers import applications, configurations

__all__ = ["API_PREFIX", "api_router"]

API_PREFIX = "/api/v1"
"""Where the API is mounted; a later, incompatible version would live beside it."""

api_router = APIRouter(prefix=API_PREFIX, responses=UNAVAILABLE_RESPONSES)
"""The whole API: applications and their configurations."""
api_router.include_router(applications.router)
api_router.include_router(configurations.router)
