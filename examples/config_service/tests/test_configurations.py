"""The configurations API: CRUD, names unique per application, the JSON filter, cascade delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select
from ulid import ULID

from examples.config_service.schema import configurations
from examples.config_service.tests.support import (
    APPLICATIONS,
    CONFIGURATIONS,
    PROBLEM_JSON,
    create_application,
    create_configuration,
    missing_id,
)

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncSession

pytestmark = pytest.mark.asyncio

_DOCUMENT: dict[str, Any] = {
    "region": "eu-west-1",
    "replicas": 3,
    "features": {"beta_search": True, "new_checkout": False},
    "allowed_hosts": ["shop.example.com"],
    "timeout": 2.5,
    "fallback": None,
}


def _collection(application_id: str) -> str:
    return f"{APPLICATIONS}/{application_id}/configurations"


class TestCreate:
    """POST /api/v1/applications/{id}/configurations."""

    async def test_created_at_version_one(self, app_client: httpx.AsyncClient) -> None:
        """A new configuration keeps its JSON document as sent, at version 1, with a Location."""
        application = await create_application(app_client)
        response = await app_client.post(
            _collection(application["id"]), json={"name": "production", "data": _DOCUMENT}
        )
        assert response.status_code == 201
        body = response.json()
        assert str(ULID.from_str(body["id"])) == body["id"]
        assert body["application_id"] == application["id"]
        assert (body["name"], body["data"], body["version"]) == ("production", _DOCUMENT, 1)
        assert response.headers["location"].endswith(f"{CONFIGURATIONS}/{body['id']}")
        assert (await app_client.get(response.headers["location"])).json() == body

    async def test_data_defaults_to_an_empty_object(self, app_client: httpx.AsyncClient) -> None:
        """A configuration created without data holds ``{}``."""
        application = await create_application(app_client)
        response = await app_client.post(_collection(application["id"]), json={"name": "empty"})
        assert response.json()["data"] == {}

    async def test_duplicate_name_in_one_application_is_a_conflict(
        self, app_client: httpx.AsyncClient
    ) -> None:
        """A second configuration of the same name in one application is answered 409."""
        application = await create_application(app_client)
        await create_configuration(app_client, application["id"], "production")
        response = await app_client.post(
            _collection(application["id"]), json={"name": "production", "data": {}}
        )
        assert response.status_code == 409
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["detail"] == (
            f"application {application['id']} has a configuration named 'production' already"
        )

    async def test_same_name_in_another_application_is_fine(
        self, app_client: httpx.AsyncClient
    ) -> None:
        """Names are unique per application: two applications may each have a 'production'."""
        first = await create_application(app_client, "checkout")
        second = await create_application(app_client, "payments")
        await create_configuration(app_client, first["id"], "production")
        created = await create_configuration(app_client, second["id"], "production")
        assert created["application_id"] == second["id"]

    async def test_unknown_application_is_not_found(self, app_client: httpx.AsyncClient) -> None:
        """Creating a configuration in an application that does not exist is answered 404."""
        unknown = missing_id()
        response = await app_client.post(_collection(unknown), json={"name": "production"})
        assert response.status_code == 404
        assert response.json()["detail"] == f"no application {unknown}"

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "production", "data": [1, 2]},
            {"name": "production", "data": "text"},
            {"name": "production", "data": None},
            {"name": "pro duction"},
            {"data": {}},
        ],
        ids=["array", "string", "null", "bad-name", "no-name"],
    )
    async def test_invalid_body_is_unprocessable(
        self, app_client: httpx.AsyncClient, body: dict[str, object]
    ) -> None:
        """A document that is not a JSON object, or a bad or missing name, is answered 422."""
        application = await create_application(app_client)
        response = await app_client.post(_collection(application["id"]), json=body)
        assert response.status_code == 422


class TestRead:
    """GET a configuration by id, or by name under its application."""

    async def test_by_name(self, app_client: httpx.AsyncClient) -> None:
        """A configuration is found by its name under its application."""
        application = await create_application(app_client)
        created = await create_configuration(app_client, application["id"], "staging", _DOCUMENT)
        response = await app_client.get(f"{_collection(application['id'])}/staging")
        assert response.json() == created

    async def test_unknown_name_is_not_found(self, app_client: httpx.AsyncClient) -> None:
        """A name the application has no configuration of is answered 404."""
        application = await create_application(app_client)
        response = await app_client.get(f"{_collection(application['id'])}/nope")
        assert response.status_code == 404
        assert response.json()["detail"] == (
            f"application {application['id']} has no configuration named 'nope'"
        )

    async def test_unknown_id_is_not_found(self, app_client: httpx.AsyncClient) -> None:
        """A configuration id that does not exist is answered 404."""
        response = await app_client.get(f"{CONFIGURATIONS}/{missing_id()}")
        assert response.status_code == 404

    async def test_malformed_id_is_unprocessable(self, app_client: httpx.AsyncClient) -> None:
        """A configuration id that is not a ULID is answered 422."""
        response = await app_client.get(f"{CONFIGURATIONS}/12345")
        assert response.status_code == 422


class TestList:
    """GET /api/v1/applications/{id}/configurations, paged and filtered."""

    async def test_pages_and_total(self, app_client: httpx.AsyncClient) -> None:
        """Pages list only the application's configurations, each telling their total."""
        application = await create_application(app_client, "checkout")
        other = await create_application(app_client, "payments")
        names = ["a", "b", "c"]
        for name in names:
            await create_configuration(app_client, application["id"], name)
        await create_configuration(app_client, other["id"], "elsewhere")
        first = (await app_client.get(_collection(application["id"]), params={"limit": 2})).json()
        rest = (
            await app_client.get(_collection(application["id"]), params={"limit": 2, "offset": 2})
        ).json()
        assert (first["total"], rest["total"]) == (3, 3)
        assert [item["name"] for item in first["items"] + rest["items"]] == names

    async def test_contains_filters_by_document(self, app_client: httpx.AsyncClient) -> None:
        """``contains`` keeps the documents holding that JSON, and the total counts only those."""
        application = await create_application(app_client)
        await create_configuration(app_client, application["id"], "eu", _DOCUMENT)
        await create_configuration(app_client, application["id"], "us", {"region": "us-east-1"})
        await create_configuration(
            app_client, application["id"], "eu-beta", {"region": "eu-west-1", "beta": True}
        )
        response = await app_client.get(
            _collection(application["id"]), params={"contains": '{"region": "eu-west-1"}'}
        )
        page = response.json()
        assert page["total"] == 2
        assert [item["name"] for item in page["items"]] == ["eu", "eu-beta"]
        nested = await app_client.get(
            _collection(application["id"]),
            params={"contains": '{"features": {"beta_search": true}}'},
        )
        assert [item["name"] for item in nested.json()["items"]] == ["eu"]

    @pytest.mark.parametrize("contains", ["{not json", "[1, 2]", '"text"'])
    async def test_contains_must_be_a_json_object(
        self, app_client: httpx.AsyncClient, contains: str
    ) -> None:
        """A ``contains`` that is not a JSON object is answered 422, naming the parameter."""
        application = await create_application(app_client)
        response = await app_client.get(
            _collection(application["id"]), params={"contains": contains}
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][:2] == ["query", "contains"]

    async def test_unknown_application_is_not_found(self, app_client: httpx.AsyncClient) -> None:
        """Listing the configurations of an application that does not exist is answered 404."""
        response = await app_client.get(_collection(missing_id()))
        assert response.status_code == 404


class TestUpdate:
    """PATCH /api/v1/configurations/{id}."""

    async def test_new_document_counts_a_version(self, app_client: httpx.AsyncClient) -> None:
        """Replacing the document stores it whole and moves the version from 1 to 2."""
        application = await create_application(app_client)
        created = await create_configuration(app_client, application["id"], data=_DOCUMENT)
        response = await app_client.patch(
            f"{CONFIGURATIONS}/{created['id']}", json={"data": {"region": "us-east-1"}}
        )
        body = response.json()
        assert (body["data"], body["version"], body["name"]) == (
            {"region": "us-east-1"},
            2,
            "production",
        )

    async def test_rename(self, app_client: httpx.AsyncClient) -> None:
        """A configuration renamed is found under its new name and not its old one."""
        application = await create_application(app_client)
        created = await create_configuration(app_client, application["id"], "staging")
        await app_client.patch(f"{CONFIGURATIONS}/{created['id']}", json={"name": "qa"})
        collection = _collection(application["id"])
        assert (await app_client.get(f"{collection}/qa")).json()["id"] == created["id"]
        assert (await app_client.get(f"{collection}/staging")).status_code == 404

    async def test_taken_name_is_a_conflict(self, app_client: httpx.AsyncClient) -> None:
        """Renaming to a name the application has already is answered 409, and changes nothing."""
        application = await create_application(app_client)
        await create_configuration(app_client, application["id"], "production")
        staging = await create_configuration(app_client, application["id"], "staging")
        response = await app_client.patch(
            f"{CONFIGURATIONS}/{staging['id']}", json={"name": "production", "data": {"x": 1}}
        )
        assert response.status_code == 409
        assert (await app_client.get(f"{CONFIGURATIONS}/{staging['id']}")).json() == staging

    async def test_null_document_is_unprocessable(self, app_client: httpx.AsyncClient) -> None:
        """A document may be left out of a PATCH but not set to null."""
        application = await create_application(app_client)
        created = await create_configuration(app_client, application["id"])
        response = await app_client.patch(f"{CONFIGURATIONS}/{created['id']}", json={"data": None})
        assert response.status_code == 422

    async def test_unknown_id_is_not_found(self, app_client: httpx.AsyncClient) -> None:
        """Updating a configuration that does not exist is answered 404."""
        response = await app_client.patch(f"{CONFIGURATIONS}/{missing_id()}", json={"data": {}})
        assert response.status_code == 404


class TestDelete:
    """DELETE a configuration, or its whole application."""

    async def test_deleted_configuration_is_gone(self, app_client: httpx.AsyncClient) -> None:
        """A deleted configuration is answered 204 once, then 404, and its application stays."""
        application = await create_application(app_client)
        created = await create_configuration(app_client, application["id"])
        url = f"{CONFIGURATIONS}/{created['id']}"
        assert (await app_client.delete(url)).status_code == 204
        assert (await app_client.get(url)).status_code == 404
        assert (await app_client.delete(url)).status_code == 404
        assert (await app_client.get(f"{APPLICATIONS}/{application['id']}")).status_code == 200

    async def test_deleting_the_application_deletes_its_configurations(
        self, app_client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        """The database cascades an application's deletion to its configurations, and no further."""
        application = await create_application(app_client, "checkout")
        kept = await create_application(app_client, "payments")
        doomed = [
            await create_configuration(app_client, application["id"], name)
            for name in ("production", "staging")
        ]
        survivor = await create_configuration(app_client, kept["id"])
        assert (await app_client.delete(f"{APPLICATIONS}/{application['id']}")).status_code == 204
        for configuration in doomed:
            response = await app_client.get(f"{CONFIGURATIONS}/{configuration['id']}")
            assert response.status_code == 404
        remaining = select(func.count()).select_from(configurations)
        assert (await db_session.execute(remaining)).scalar_one() == 1
        assert (await app_client.get(f"{CONFIGURATIONS}/{survivor['id']}")).status_code == 200
