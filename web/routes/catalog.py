"""Deal settings kept by admins: custom fields, tags, lost reasons."""

from aiohttp import web

from funnels import catalog
from web.api import actor
from web.routes import api
from web.schemas import (
    CustomFieldIn,
    CustomFieldOut,
    CustomFieldUpdate,
    LostReasonIn,
    LostReasonOut,
    TagIn,
    TagOut,
    TagUpdate,
)


@api.route(
    "GET",
    "/api/v1/custom-fields",
    summary="List custom deal fields",
    tag="settings",
    response=list[CustomFieldOut],
)
async def list_custom_fields(request: web.Request) -> list[CustomFieldOut]:
    return [CustomFieldOut.model_validate(f) for f in await catalog.list_custom_fields()]


@api.route(
    "POST",
    "/api/v1/custom-fields",
    summary="Define a text or date deal field",
    tag="settings",
    body=CustomFieldIn,
    response=CustomFieldOut,
    status=201,
)
async def create_custom_field(request: web.Request, *, body: CustomFieldIn) -> CustomFieldOut:
    field = await catalog.create_custom_field(actor=actor(request), **body.model_dump())
    return CustomFieldOut.model_validate(field)


@api.route(
    "PATCH",
    "/api/v1/custom-fields/{field_id}",
    summary="Rename a custom field",
    tag="settings",
    body=CustomFieldUpdate,
    response=CustomFieldOut,
)
async def update_custom_field(
    request: web.Request, *, field_id: int, body: CustomFieldUpdate
) -> CustomFieldOut:
    field = await catalog.update_custom_field(
        actor=actor(request), field_id=field_id, name=body.name
    )
    return CustomFieldOut.model_validate(field)


@api.route(
    "DELETE",
    "/api/v1/custom-fields/{field_id}",
    summary="Delete a custom field and its values",
    tag="settings",
    status=204,
)
async def delete_custom_field(request: web.Request, *, field_id: int) -> None:
    await catalog.delete_custom_field(actor=actor(request), field_id=field_id)


@api.route("GET", "/api/v1/tags", summary="List tags", tag="settings", response=list[TagOut])
async def list_tags(request: web.Request) -> list[TagOut]:
    return [TagOut.model_validate(t) for t in await catalog.list_tags()]


@api.route(
    "POST",
    "/api/v1/tags",
    summary="Create a tag",
    tag="settings",
    body=TagIn,
    response=TagOut,
    status=201,
)
async def create_tag(request: web.Request, *, body: TagIn) -> TagOut:
    tag = await catalog.create_tag(actor=actor(request), **body.model_dump())
    return TagOut.model_validate(tag)


@api.route(
    "PATCH",
    "/api/v1/tags/{tag_id}",
    summary="Rename or recolour a tag",
    tag="settings",
    body=TagUpdate,
    response=TagOut,
)
async def update_tag(request: web.Request, *, tag_id: int, body: TagUpdate) -> TagOut:
    tag = await catalog.update_tag(
        actor=actor(request), tag_id=tag_id, **body.model_dump(exclude_unset=True)
    )
    return TagOut.model_validate(tag)


@api.route("DELETE", "/api/v1/tags/{tag_id}", summary="Delete a tag", tag="settings", status=204)
async def delete_tag(request: web.Request, *, tag_id: int) -> None:
    await catalog.delete_tag(actor=actor(request), tag_id=tag_id)


@api.route(
    "GET",
    "/api/v1/lost-reasons",
    summary="List lost reasons",
    tag="settings",
    response=list[LostReasonOut],
)
async def list_lost_reasons(request: web.Request) -> list[LostReasonOut]:
    return [LostReasonOut.model_validate(r) for r in await catalog.list_lost_reasons()]


@api.route(
    "POST",
    "/api/v1/lost-reasons",
    summary="Add a lost reason",
    tag="settings",
    body=LostReasonIn,
    response=LostReasonOut,
    status=201,
)
async def create_lost_reason(request: web.Request, *, body: LostReasonIn) -> LostReasonOut:
    reason = await catalog.create_lost_reason(actor=actor(request), name=body.name)
    return LostReasonOut.model_validate(reason)


@api.route(
    "PATCH",
    "/api/v1/lost-reasons/{reason_id}",
    summary="Rename a lost reason",
    tag="settings",
    body=LostReasonIn,
    response=LostReasonOut,
)
async def update_lost_reason(
    request: web.Request, *, reason_id: int, body: LostReasonIn
) -> LostReasonOut:
    reason = await catalog.update_lost_reason(
        actor=actor(request), reason_id=reason_id, name=body.name
    )
    return LostReasonOut.model_validate(reason)


@api.route(
    "DELETE",
    "/api/v1/lost-reasons/{reason_id}",
    summary="Delete a lost reason",
    tag="settings",
    status=204,
)
async def delete_lost_reason(request: web.Request, *, reason_id: int) -> None:
    await catalog.delete_lost_reason(actor=actor(request), reason_id=reason_id)
