"""Query parameters shared by the listing endpoints: the page and the containment filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import Json, TypeAdapter, ValidationError

from examples.config_service.payloads import Document

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "ContainsDep",
    "Pagination",
    "PaginationDep",
    "contains_filter",
    "pagination",
]

DEFAULT_LIMIT: Final = 20
"""Items per page when the client does not say."""

MAX_LIMIT: Final = 100
"""The most items one page may hold."""

# OFFSET takes a bigint; bounding it keeps an absurd value a 422, not a database error.
_MAX_OFFSET: Final = 2**31 - 1

_JSON_DOCUMENT: Final = TypeAdapter(Json[Document])


@dataclass(frozen=True, slots=True)
class Pagination:
    """Which page to return: *limit* items after skipping *offset*."""

    limit: int
    offset: int


def pagination(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    offset: Annotated[
        int, Query(ge=0, le=_MAX_OFFSET, description="Items to skip, oldest first.")
    ] = 0,
) -> Pagination:
    """Read ``limit`` and ``offset``; values out of range are answered 422."""
    return Pagination(limit=limit, offset=offset)


def contains_filter(
    contains: Annotated[
        str | None,
        Query(
            description="A JSON object: only configurations whose document contains it.",
            examples=['{"features": {"beta": true}}'],
        ),
    ] = None,
) -> Document | None:
    """Read ``contains`` as a JSON object; anything else is answered 422.

    FastAPI takes no JSON-typed query parameter, so it is parsed here and its
    errors are raised as FastAPI's own validation errors, located in the query.

    Raises:
        RequestValidationError: It is not valid JSON, or not an object.
    """
    if contains is None:
        return None
    try:
        return _JSON_DOCUMENT.validate_python(contains)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("query", "contains", *error["loc"])}
            for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from None


PaginationDep = Annotated[Pagination, Depends(pagination)]
"""A handler parameter receiving the requested page."""

ContainsDep = Annotated[Document | None, Depends(contains_filter)]
"""A handler parameter receiving the ``contains`` filter, or ``None``."""
