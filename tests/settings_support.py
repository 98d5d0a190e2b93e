"""Data the settings tests share: a deployment's configuration that every rule accepts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["VALID"]

VALID: Final[Mapping[str, str]] = {
    "DB_HOST": "db.internal",
    "DB_USERNAME": "app",
    "DB_PASSWORD": "Vq7-rJp2-xL9m-Tz4w",
    "DB_DATABASE": "app",
    "SECRET_KEY": "k7Yx2pQ9vL4mN8rT1wZ5bC3dF6gH0jS2aE4uI8oP",
    "CORS_ORIGINS": "https://app.example.com",
}
"""Environment variables no policy rule objects to, in any environment."""
