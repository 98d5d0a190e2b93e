"""Configurations: created and listed under their application, then addressed by id.

- ``/api/v1/applications/{application_id}/configurations``: create, list (with
  an optional ``contains`` filter on the document);
- ``/api/v1/applications/{application_id}/configurations/{name}``: read by name;
- ``/api/v1/configurations/{configuration_id}``: read, update, delete.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

# FastAPI reads the handlers' annotations at run time: these imports must stay real.
from agentifui_config.fastapi import SessionDep, TransactionDep  # noqa: TC001
from examples.config_service.payloads import (
    ConfigurationCreate,
    ConfigurationOut,
    ConfigurationPage,
    ConfigurationUpdate,
    Name,
    UlidStr,
)
from examples.config_service.problems import PROBLEM_RESPONSES
from examples.config_service.repository import ConfigurationRepository
from examples.config_service.routers.pagination import ContainsDep, PaginationDep  # noqa: TC001

__all__ = ["router"]

router = APIRouter(tags=["configurations"])

_NESTED = "/applications/{application_id}/configurations"
_BY_ID = "/configurations/{configuration_id}"


@router.post(_NESTED, status_code=status.HTTP_201_CREATED, responses=PROBLEM_RESPONSES)
async def create_configuration(
    application_id: UlidStr,
    body: ConfigurationCreate,
    session: TransactionDep,
    request: Request,
    response: Response,
) -> ConfigurationOut:
    """Create a configuration in an application; its name must be free there (409 otherwise)."""
    record = await ConfigurationRepository(session).create(
        application_id, name=body.name, data=body.data
    )
    location = request.url_for("read_configuration", configuration_id=record.id)
    response.headers["Location"] = str(location)
    return ConfigurationOut.model_validate(record)


@router.get(_NESTED, responses={404: PROBLEM_RESPONSES[404]})
async def list_configurations(
    application_id: UlidStr, session: SessionDep, page: PaginationDep, contains: ContainsDep
) -> ConfigurationPage:
    """List an application's configurations, oldest first, with how many match in all."""
    found = await ConfigurationRepository(session).list(
        application_id, limit=page.limit, offset=page.offset, contains=contains
    )
    return ConfigurationPage.model_validate(found)


@router.get(_NESTED + "/{name}", responses={404: PROBLEM_RESPONSES[404]})
async def read_configuration_by_name(
    application_id: UlidStr,
    name: Name,
    session: SessionDep,
) -> ConfigurationOut:
    """Read an application's configuration by its name."""
    record = await ConfigurationRepository(session).get_by_name(application_id, name)
    return ConfigurationOut.model_validate(record)


@router.get(_BY_ID, responses={404: PROBLEM_RESPONSES[404]})
async def read_configuration(configuration_id: UlidStr, session: SessionDep) -> ConfigurationOut:
    """Read one configuration."""
    record = await ConfigurationRepository(session).get(configuration_id)
    return ConfigurationOut.model_validate(record)


@router.patch(_BY_ID, responses=PROBLEM_RESPONSES)
async def update_configuration(
    configuration_id: UlidStr, body: ConfigurationUpdate, session: TransactionDep
) -> ConfigurationOut:
    """Rename it or replace its document; each update counts a new version."""
    changes = body.model_dump(exclude_unset=True)
    record = await ConfigurationRepository(session).update(configuration_id, changes)
    return ConfigurationOut.model_validate(record)


@router.delete(
    _BY_ID, status_code=status.HTTP_204_NO_CONTENT, responses={404: PROBLEM_RESPONSES[404]}
)
async def delete_configuration(configuration_id: UlidStr, session: TransactionDep) -> None:
    """Delete one configuration."""
    await ConfigurationRepository(session).delete(configuration_id)
