"""The repository's errors as HTTP answers: 404 and 409, in RFC 9457 problem details.

They take the same shape as agentifui-config's own 503 answers for an
unavailable database, so a client reads every error of the service one way.
The OpenAPI document declares each of them as ``application/problem+json``;
FastAPI declares its own 422 answers (``application/json``) itself.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from fastapi.responses import JSONResponse

from agentifui_config.fastapi import PROBLEM_MEDIA_TYPE
from examples.config_service.payloads import Problem
from examples.config_service.repository import NameConflictError, NotFoundError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

__all__ = ["PROBLEM_RESPONSES", "UNAVAILABLE_RESPONSES", "add_problem_handlers", "problem"]


def _problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI response whose body is a :class:`Problem`, as ``application/problem+json``."""
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": Problem.model_json_schema()}},
    }


PROBLEM_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    HTTPStatus.NOT_FOUND.value: _problem_response("No such record."),
    HTTPStatus.CONFLICT.value: _problem_response("The name is taken."),
}
"""The error answers of the API's routes, for the OpenAPI schema."""

UNAVAILABLE_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    HTTPStatus.SERVICE_UNAVAILABLE.value: _problem_response(
        "The database is unavailable or slow; try again later."
    ),
}
"""agentifui-config's answer to every route while the database is away, for the OpenAPI schema."""


def problem(request: Request, status: HTTPStatus, detail: str) -> JSONResponse:
    """Answer *status* with a problem-details body whose ``instance`` is the request's path."""
    body = Problem(
        title=status.phrase, status=status.value, detail=detail, instance=request.url.path
    )
    return JSONResponse(body.model_dump(), status_code=status.value, media_type=PROBLEM_MEDIA_TYPE)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return problem(request, HTTPStatus.NOT_FOUND, str(exc))


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return problem(request, HTTPStatus.CONFLICT, str(exc))


def add_problem_handlers(app: FastAPI) -> None:
    """Answer :class:`NotFoundError` with 404 and :class:`NameConflictError` with 409."""
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(NameConflictError, _conflict)
