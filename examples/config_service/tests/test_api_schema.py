"""schemathesis against the service's OpenAPI document: no 500, nothing undocumented.

Requests generated from the schema (explicit ``null`` where it allows one,
NUL characters in every text, values it forbids) go to the app as served, its
lifespan and pool on the test database; each answer must be documented, status
and media type, and none may be a server error. The run is bounded: a few
dozen examples per operation, well under a minute in all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from ulid import ULID

from agentifui_config.logging import reset_logging
from agentifui_config.testing.postgres import temporary_database
from agentifui_config.testing.schema import upgrade_to_head
from examples.config_service.app import ALEMBIC_INI, create_app
from examples.config_service.tests.support import ALLOWED_ORIGIN, TEST_SECRET_KEY

if TYPE_CHECKING:
    from schemathesis import APIOperation, Case, CheckFunction
    from schemathesis.specs.openapi.schemas import OpenApiSchema

    from agentifui_config.testing.fixtures import SettingsFactory
    from agentifui_config.testing.postgres import PostgresServer


@pytest.fixture
def api_schema(
    postgres_server: PostgresServer, make_settings: SettingsFactory
) -> Iterator[OpenApiSchema]:
    """The service's OpenAPI document, its app started on a migrated database of its own.

    The generated requests commit what they create: the database is the test's,
    so the run's shared one stays as the other tests expect it.
    """
    with temporary_database(postgres_server) as database:
        upgrade_to_head(database, ALEMBIC_INI)
        settings = make_settings(
            database=database, cors_origins=[ALLOWED_ORIGIN], secret_key=TEST_SECRET_KEY
        )
        app = create_app(settings, configure_logs=False)
        try:
            yield schemathesis.openapi.from_asgi("/openapi.json", app)
        finally:
            # schemathesis keeps the app's lifespan running; its pool closes here.
            shutdown_lifespans()
            reset_logging()


# What an answer must be. Whether a schema-valid request is accepted is left out:
# the schema cannot say that ``contains`` must hold a JSON object, which is a 422.
_CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_answers_as_documented(api_schema: OpenApiSchema) -> None:
    """Every generated request gets a documented status and media type, never a 500."""
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the schema itself is valid
        operations.append(result.ok())
    assert len(operations) == 14  # ten of the API, four of health
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case: Case[APIOperation[Any, Any, Any, Any]]) -> None:
            case.call_and_validate(checks=_CHECKS)

        answers_as_documented()


# The generator seldom writes a NUL character, which PostgreSQL cannot store: these do.
_NUL_CASES = [
    ("POST /api/v1/applications", {"body": {"name": "n", "description": "a\u0000b"}}),
    (
        "POST /api/v1/applications/{application_id}/configurations",
        {"body": {"name": "n", "data": {"k": "a\u0000b"}}},
    ),
    (
        "PATCH /api/v1/configurations/{configuration_id}",
        {"body": {"data": {"a\u0000b": [1]}}},
    ),
    (
        "GET /api/v1/applications/{application_id}/configurations",
        {"query": {"contains": '{"k": "a\\u0000b"}'}},
    ),
]


@pytest.mark.parametrize(("label", "parts"), _NUL_CASES, ids=[label for label, _ in _NUL_CASES])
def test_nul_characters_are_documented_refusals(
    api_schema: OpenApiSchema, label: str, parts: dict[str, Any]
) -> None:
    """A NUL character in a text or JSON value gets a documented 422, not a 500."""
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None
    ids = {name: str(ULID()) for name in ("application_id", "configuration_id")}
    case = operation.Case(path_parameters=ids, **parts)
    response = case.call_and_validate(checks=_CHECKS)
    assert response.status_code == 422
