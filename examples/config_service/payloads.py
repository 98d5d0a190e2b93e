"""The API's request and response bodies, validated by pydantic.

What a client sends is checked here, before any SQL runs: a malformed body,
name or id is answered 422 by FastAPI, and so is a NUL character, which PostgreSQL cannot
store, anywhere in a description, a document or a ``contains`` filter. Responses are built from the
repository's records (``from_attributes``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema  # noqa: TC002 - pydantic reads it at run time
from ulid import ULID

from examples.config_service.schema import NAME_MAX_LENGTH

__all__ = [
    "ApplicationCreate",
    "ApplicationOut",
    "ApplicationPage",
    "ApplicationUpdate",
    "ConfigurationCreate",
    "ConfigurationOut",
    "ConfigurationPage",
    "ConfigurationUpdate",
    "Document",
    "Name",
    "Problem",
    "StorableText",
    "UlidStr",
]

ItemT = TypeVar("ItemT", bound=BaseModel)

_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

UlidStr = Annotated[
    ULID,
    # python-ulid validates the 26 Crockford base32 characters; this is how
    # OpenAPI describes them, which it cannot derive from the validator.
    WithJsonSchema(
        {
            "type": "string",
            "format": "ulid",
            "pattern": "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
            "examples": ["01J9ZQ6X8M5D3K7T2V4N6R8W0Y"],
        }
    ),
]
"""A ULID, as its 26-character string in JSON and in paths."""

Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        pattern=_NAME_PATTERN,
        examples=["checkout", "feature-flags.production"],
    ),
]
"""A name usable in a URL path: letters, digits, ``.``, ``_`` and ``-``, starting with neither."""


def _storable(text: str) -> str:
    """Refuse text PostgreSQL cannot store in ``text`` or ``jsonb``: the NUL character."""
    if "\x00" in text:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return text


def _storable_json(value: JsonValue) -> JsonValue:
    """Check every key and string of a JSON value as ``jsonb`` stores them."""
    if isinstance(value, str):
        _storable(value)
    elif isinstance(value, list):
        for item in value:
            _storable_json(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable_json(item)
    return value


StorableText = Annotated[str, AfterValidator(_storable)]
"""Text PostgreSQL can store: no NUL character (422 otherwise)."""

Document = Annotated[dict[str, JsonValue], AfterValidator(_storable_json)]
"""A configuration document: any JSON object ``jsonb`` can store (422 otherwise)."""


def _not_null(value: object) -> object:
    """Refuse an explicit ``null`` for a field that may be left out but not cleared."""
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


class ApplicationCreate(BaseModel):
    """The body of ``POST /api/v1/applications``."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: StorableText | None = Field(default=None, max_length=2000)


class ApplicationUpdate(BaseModel):
    """The body of ``PATCH /api/v1/applications/{id}``: the fields to change, others kept."""

    model_config = ConfigDict(extra="forbid")

    # Left out of the schema's types: null is refused (the name cannot be cleared).
    name: Name | SkipJsonSchema[None] = None
    description: StorableText | None = Field(default=None, max_length=2000)

    _name_not_null = field_validator("name")(_not_null)


class ApplicationOut(BaseModel):
    """An application."""

    model_config = ConfigDict(from_attributes=True)

    id: UlidStr
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


class ConfigurationCreate(BaseModel):
    """The body of ``POST /api/v1/applications/{id}/configurations``."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    data: Document = Field(default_factory=dict)


class ConfigurationUpdate(BaseModel):
    """The body of ``PATCH /api/v1/configurations/{id}``; ``data`` replaces the whole document."""

    model_config = ConfigDict(extra="forbid")

    # Left out of the schema's types: null is refused (neither can be cleared).
    name: Name | SkipJsonSchema[None] = None
    data: Document | SkipJsonSchema[None] = None

    _not_null = field_validator("name", "data")(_not_null)


class ConfigurationOut(BaseModel):
    """A configuration; ``version`` starts at 1 and counts every update."""

    model_config = ConfigDict(from_attributes=True)

    id: UlidStr
    application_id: UlidStr
    name: str
    data: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


class _Page(BaseModel, Generic[ItemT]):
    """One page of a listing: its items, and how many the whole listing holds."""

    model_config = ConfigDict(from_attributes=True)

    items: list[ItemT]
    total: int = Field(description="How many items the whole listing holds.")
    limit: int
    offset: int


class ApplicationPage(_Page[ApplicationOut]):
    """A page of applications."""


class ConfigurationPage(_Page[ConfigurationOut]):
    """A page of an application's configurations."""


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (media type ``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
