"""``/api/v1/applications``: create, list, read, update and delete applications."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

# FastAPI reads the handlers' annotations at run time: these imports must stay real.
from agentifui_config.fastapi import SessionDep, TransactionDep  # noqa: TC001
from examples.config_service.payloads import (
    ApplicationCreate,
    ApplicationOut,
    ApplicationPage,
    ApplicationUpdate,
    UlidStr,
)
from examples.config_service.problems import PROBLEM_RESPONSES
from examples.config_service.repository import ApplicationRepository
from examples.config_service.routers.pagination import PaginationDep  # noqa: TC001

__all__ = ["router"]

router = APIRouter(prefix="/applications", tags=["applications"])


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: PROBLEM_RESPONSES[409]})
async def create_application(
    body: ApplicationCreate, session: TransactionDep, request: Request, response: Response
) -> ApplicationOut:
    """Create an application; its name must be free (409 otherwise)."""
    record = await ApplicationRepository(session).create(
        name=body.name, description=body.description
    )
    response.headers["Location"] = str(
        request.url_for("read_application", application_id=record.id)
    )
    return ApplicationOut.model_validate(record)


@router.get("")
async def list_applications(session: SessionDep, page: PaginationDep) -> ApplicationPage:
    """List applications, oldest first, with how many there are in all."""
    found = await ApplicationRepository(session).list(limit=page.limit, offset=page.offset)
    return ApplicationPage.model_validate(found)


@router.get("/{application_id}", responses={404: PROBLEM_RESPONSES[404]})
async def read_application(application_id: UlidStr, session: SessionDep) -> ApplicationOut:
    """Read one application."""
    return ApplicationOut.model_validate(await ApplicationRepository(session).get(application_id))


@router.patch("/{application_id}", responses=PROBLEM_RESPONSES)
async def update_application(
    application_id: UlidStr, body: ApplicationUpdate, session: TransactionDep
) -> ApplicationOut:
    """Change the fields the body holds; a new name must be free (409 otherwise)."""
    changes = body.model_dump(exclude_unset=True)
    record = await ApplicationRepository(session).update(application_id, changes)
    return ApplicationOut.model_validate(record)


@router.delete(
    "/{application_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: PROBLEM_RESPONSES[404]},
)
async def delete_application(application_id: UlidStr, session: TransactionDep) -> None:
    """Delete an application and, with it, all its configurations."""
    await ApplicationRepository(session).delete(application_id)
