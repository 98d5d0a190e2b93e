"""The applications API: create, read, list, update and delete, and its 404, 409 and 422 answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from ulid import ULID

from examples.config_service.tests.support import (
    APPLICATIONS,
    PROBLEM_JSON,
    create_application,
    missing_id,
)

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.asyncio


class TestCreate:
    """POST /api/v1/applications."""

    async def test_created_with_a_ulid_and_a_location(self, app_client: httpx.AsyncClient) -> None:
        """A new application gets a ULID id, timestamps and a Location that reads it back."""
        response = await app_client.post(
            APPLICATIONS, json={"name": "checkout", "description": "The checkout service."}
        )
        assert response.status_code == 201
        body = response.json()
        assert str(ULID.from_str(body["id"])) == body["id"]
        assert body["name"] == "checkout"
        assert body["description"] == "The checkout service."
        assert body["created_at"] == body["updated_at"]
        read = await app_client.get(response.headers["location"])
        assert read.json() == body

    async def test_duplicate_name_is_a_conflict(self, app_client: httpx.AsyncClient) -> None:
        """A second application with a taken name is answered 409 in problem details."""
        await create_application(app_client, "checkout")
        response = await app_client.post(APPLICATIONS, json={"name": "checkout"})
        assert response.status_code == 409
        assert response.headers["content-type"] == PROBLEM_JSON
        problem = response.json()
        assert problem["status"] == 409
        assert problem["title"] == "Conflict"
        assert problem["detail"] == "an application named 'checkout' exists already"
        assert problem["instance"] == APPLICATIONS

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": ""},
            {"name": "has space"},
            {"name": "-leading-dash"},
            {"name": "x" * 101},
            {"name": 42},
            {"name": "ok", "owner": "unknown field"},
        ],
        ids=["missing", "empty", "space", "dash", "too-long", "number", "extra-field"],
    )
    async def test_invalid_body_is_unprocessable(
        self, app_client: httpx.AsyncClient, body: dict[str, object]
    ) -> None:
        """A body with a missing, malformed or unknown field is answered 422."""
        response = await app_client.post(APPLICATIONS, json=body)
        assert response.status_code == 422


class TestRead:
    """GET /api/v1/applications/{id}."""

    async def test_unknown_id_is_not_found(self, app_client: httpx.AsyncClient) -> None:
        """A well-formed id that no application has is answered 404 in problem details."""
        unknown = missing_id()
        response = await app_client.get(f"{APPLICATIONS}/{unknown}")
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["detail"] == f"no application {unknown}"

    async def test_malformed_id_is_unprocessable(self, app_client: httpx.AsyncClient) -> None:
        """An id that is not a ULID is answered 422, naming the path parameter."""
        response = await app_client.get(f"{APPLICATIONS}/not-a-ulid")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["path", "application_id"]

    async def test_lower_case_id_reads_the_same(self, app_client: httpx.AsyncClient) -> None:
        """ULIDs are case-insensitive, so a lower-case id finds the application too."""
        created = await create_application(app_client)
        response = await app_client.get(f"{APPLICATIONS}/{created['id'].lower()}")
        assert response.json() == created


class TestList:
    """GET /api/v1/applications, page by page."""

    async def test_pages_add_up_to_the_total(self, app_client: httpx.AsyncClient) -> None:
        """Pages of two cover all five applications once, oldest first, each telling the total."""
        created = [(await create_application(app_client, f"app-{n}"))["id"] for n in range(5)]
        seen: list[str] = []
        for offset in (0, 2, 4):
            response = await app_client.get(APPLICATIONS, params={"limit": 2, "offset": offset})
            page = response.json()
            assert (page["total"], page["limit"], page["offset"]) == (5, 2, offset)
            seen += [item["id"] for item in page["items"]]
        assert seen == sorted(created)

    async def test_page_past_the_end_still_tells_the_total(
        self, app_client: httpx.AsyncClient
    ) -> None:
        """An offset beyond the last application gives no items and the real total."""
        await create_application(app_client)
        response = await app_client.get(APPLICATIONS, params={"offset": 10})
        assert response.json() == {"items": [], "total": 1, "limit": 20, "offset": 10}

    async def test_empty(self, app_client: httpx.AsyncClient) -> None:
        """With no applications the list is empty and its total zero."""
        response = await app_client.get(APPLICATIONS)
        assert response.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}

    @pytest.mark.parametrize(
        "params",
        [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "many"}, {"offset": 2**31}],
    )
    async def test_out_of_range_page_is_unprocessable(
        self, app_client: httpx.AsyncClient, params: dict[str, int | str]
    ) -> None:
        """A limit outside 1-100, a negative offset or a non-number is answered 422."""
        response = await app_client.get(APPLICATIONS, params=params)
        assert response.status_code == 422


class TestUpdate:
    """PATCH /api/v1/applications/{id}."""

    async def test_rename_and_describe(self, app_client: httpx.AsyncClient) -> None:
        """A PATCH changes the fields it holds, keeps the id, and moves updated_at."""
        created = await create_application(app_client, "checkout")
        response = await app_client.patch(
            f"{APPLICATIONS}/{created['id']}", json={"name": "payments", "description": "Pays."}
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["name"], body["description"]) == (
            created["id"],
            "payments",
            "Pays.",
        )
        assert body["created_at"] == created["created_at"]
        assert body["updated_at"] >= created["updated_at"]

    async def test_omitted_fields_are_kept_and_null_clears_the_description(
        self, app_client: httpx.AsyncClient
    ) -> None:
        """Only the fields sent change; an explicit null description clears it."""
        created = await create_application(app_client, "checkout", description="Old.")
        response = await app_client.patch(
            f"{APPLICATIONS}/{created['id']}", json={"description": None}
        )
        assert response.json()["name"] == "checkout"
        assert response.json()["description"] is None

    async def test_empty_patch_changes_nothing(self, app_client: httpx.AsyncClient) -> None:
        """A PATCH with no field returns the application unchanged."""
        created = await create_application(app_client)
        response = await app_client.patch(f"{APPLICATIONS}/{created['id']}", json={})
        assert response.json() == created

    async def test_taken_name_is_a_conflict(self, app_client: httpx.AsyncClient) -> None:
        """Renaming to another application's name is answered 409, and changes nothing."""
        await create_application(app_client, "checkout")
        other = await create_application(app_client, "payments")
        response = await app_client.patch(
            f"{APPLICATIONS}/{other['id']}", json={"name": "checkout"}
        )
        assert response.status_code == 409
        assert response.json()["detail"] == "an application named 'checkout' exists already"
        assert (await app_client.get(f"{APPLICATIONS}/{other['id']}")).json() == other

    async def test_null_name_is_unprocessable(self, app_client: httpx.AsyncClient) -> None:
        """A name may be left out of a PATCH but not set to null."""
        created = await create_application(app_client)
        response = await app_client.patch(f"{APPLICATIONS}/{created['id']}", json={"name": None})
        assert response.status_code == 422

    async def test_unknown_id_is_not_found(self, app_client: httpx.AsyncClient) -> None:
        """Updating an application that does not exist is answered 404."""
        response = await app_client.patch(f"{APPLICATIONS}/{missing_id()}", json={"name": "x"})
        assert response.status_code == 404


class TestDelete:
    """DELETE /api/v1/applications/{id}."""

    async def test_deleted_application_is_gone(self, app_client: httpx.AsyncClient) -> None:
        """A deleted application is answered 204 once, then 404 to reads and deletes."""
        created = await create_application(app_client)
        url = f"{APPLICATIONS}/{created['id']}"
        response = await app_client.delete(url)
        assert response.status_code == 204
        assert response.content == b""
        assert (await app_client.get(url)).status_code == 404
        assert (await app_client.delete(url)).status_code == 404
