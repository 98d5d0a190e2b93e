"""A NUL character is answered 422 at the boundary, never 500 from the driver.

PostgreSQL's ``text`` and ``jsonb`` cannot store it (asyncpg's
``UntranslatableCharacterError``), so it is refused where the request is read,
in any text or JSON value. Bodies are sent as a client sends them: ASCII JSON,
the NUL character as its escape.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from examples.config_service.tests.support import (
    APPLICATIONS,
    CONFIGURATIONS,
    create_application,
    create_configuration,
)

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.asyncio

_UNSTORABLE = [
    {"k": "a\u0000b"},
    {"a\u0000b": 1},
    {"k": ["ok", {"deep": "\u0000"}]},
]
_IDS = ["in-a-value", "in-a-key", "nested"]


async def _send(
    client: httpx.AsyncClient, method: str, url: str, body: dict[str, object]
) -> httpx.Response:
    """Send *body* as ASCII JSON, every non-ASCII character escaped."""
    content = json.dumps(body).encode("ascii")
    headers = {"content-type": "application/json"}
    return await client.request(method, url, content=content, headers=headers)


@pytest.mark.parametrize("data", _UNSTORABLE, ids=_IDS)
async def test_document_is_refused_on_create_and_update(
    app_client: httpx.AsyncClient, data: dict[str, object]
) -> None:
    """A document holding a NUL character is answered 422 when created or replaced."""
    application = await create_application(app_client)
    created = await _send(
        app_client,
        "POST",
        f"{APPLICATIONS}/{application['id']}/configurations",
        {"name": "n", "data": data},
    )
    existing = await create_configuration(app_client, application["id"])
    updated = await _send(app_client, "PATCH", f"{CONFIGURATIONS}/{existing['id']}", {"data": data})
    assert (created.status_code, updated.status_code) == (422, 422)
    assert "NUL character" in created.text


async def test_description_is_refused(app_client: httpx.AsyncClient) -> None:
    """An application description holding a NUL character is a 422, created or updated."""
    description = "a\u0000b"
    created = await _send(
        app_client, "POST", APPLICATIONS, {"name": "n", "description": description}
    )
    existing = await create_application(app_client)
    updated = await _send(
        app_client, "PATCH", f"{APPLICATIONS}/{existing['id']}", {"description": description}
    )
    assert (created.status_code, updated.status_code) == (422, 422)


async def test_contains_filter_is_refused(app_client: httpx.AsyncClient) -> None:
    """A ``contains`` filter holding a NUL character is a 422 naming the parameter."""
    application = await create_application(app_client)
    response = await app_client.get(
        f"{APPLICATIONS}/{application['id']}/configurations",
        params={"contains": '{"k": "a\\u0000b"}'},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["query", "contains"]
