"""Deal automations and their run log (admins)."""

from aiohttp import web

from triggers.automations import service
from web.api import actor
from web.routes import api
from web.schemas_triggers import (
    AutomationIn,
    AutomationOut,
    AutomationRunOut,
    AutomationUpdate,
    RunQuery,
)


@api.route(
    "GET",
    "/api/v1/automations",
    summary="List automations in the order they run",
    tag="automations",
    response=list[AutomationOut],
)
async def list_automations(request: web.Request) -> list[AutomationOut]:
    return [AutomationOut.model_validate(a) for a in await service.list_automations()]


@api.route(
    "POST",
    "/api/v1/automations",
    summary="Add an automation that creates or updates a deal when a deal event happens",
    tag="automations",
    body=AutomationIn,
    response=AutomationOut,
    status=201,
)
async def create_automation(request: web.Request, *, body: AutomationIn) -> AutomationOut:
    automation = await service.create_automation(actor=actor(request), **body.model_dump())
    return AutomationOut.model_validate(automation)


@api.route(
    "GET",
    "/api/v1/automations/{automation_id}",
    summary="One automation",
    tag="automations",
    response=AutomationOut,
)
async def get_automation(request: web.Request, *, automation_id: int) -> AutomationOut:
    automation = await service.get_automation(automation_id=automation_id)
    return AutomationOut.model_validate(automation)


@api.route(
    "PATCH",
    "/api/v1/automations/{automation_id}",
    summary="Change an automation (validated as a whole) or switch it on or off",
    tag="automations",
    body=AutomationUpdate,
    response=AutomationOut,
)
async def update_automation(
    request: web.Request, *, automation_id: int, body: AutomationUpdate
) -> AutomationOut:
    automation = await service.update_automation(
        actor=actor(request), automation_id=automation_id, **body.model_dump(exclude_unset=True)
    )
    return AutomationOut.model_validate(automation)


@api.route(
    "DELETE",
    "/api/v1/automations/{automation_id}",
    summary="Delete an automation and its run log",
    tag="automations",
    status=204,
)
async def delete_automation(request: web.Request, *, automation_id: int) -> None:
    await service.delete_automation(actor=actor(request), automation_id=automation_id)


@api.route(
    "GET",
    "/api/v1/automations/{automation_id}/runs",
    summary="An automation's run log, newest first: what it did or why it did not",
    tag="automations",
    query=RunQuery,
    response=list[AutomationRunOut],
)
async def list_runs(
    request: web.Request, *, automation_id: int, query: RunQuery
) -> list[AutomationRunOut]:
    runs = await service.list_runs(
        automation_id=automation_id, deal_id=query.deal_id, limit=query.limit
    )
    return [AutomationRunOut.model_validate(r) for r in runs]
