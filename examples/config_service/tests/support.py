"""Helpers the config service's tests share: the API's paths and the requests that set data up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ulid import ULID

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ALLOWED_ORIGIN",
    "APPLICATIONS",
    "CONFIGURATIONS",
    "PROBLEM_JSON",
    "TEST_SECRET_KEY",
    "create_application",
    "create_configuration",
    "missing_id",
]

APPLICATIONS: Final = "/api/v1/applications"
"""The applications collection."""

CONFIGURATIONS: Final = "/api/v1/configurations"
"""Where configurations are addressed by id."""

PROBLEM_JSON: Final = "application/problem+json"
"""The media type of error answers."""

ALLOWED_ORIGIN: Final = "http://localhost:5173"
"""The one origin CORS lets in, in the tests' settings."""

TEST_SECRET_KEY: Final = "config-service-tests-0123456789-abcdefghij"  # noqa: S105 - for tests only
"""The secret key of the tests' settings."""


async def create_application(
    client: httpx.AsyncClient, name: str = "checkout", **fields: object
) -> dict[str, Any]:
    """Create an application through the API and return its JSON, failing on any status but 201."""
    response = await client.post(APPLICATIONS, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_configuration(
    client: httpx.AsyncClient,
    application_id: str,
    name: str = "production",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a configuration through the API and return its JSON, failing on any status but 201."""
    response = await client.post(
        f"{APPLICATIONS}/{application_id}/configurations",
        json={"name": name, "data": {} if data is None else data},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def missing_id() -> str:
    """A well-formed ULID that no record has."""
    return str(ULID())
