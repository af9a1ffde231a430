"""Canned replies: admins keep them, everyone lists them and fills one in for a dialog."""

from aiohttp import web

from triggers import canned
from web.api import EVERYONE, actor
from web.routes import api
from web.schemas_inbox import CannedReplyIn, CannedReplyOut, CannedReplyUpdate, RenderedOut


@api.route(
    "GET",
    "/api/v1/canned-replies",
    summary="List canned replies by shortcut",
    tag="inbox",
    roles=EVERYONE,
    response=list[CannedReplyOut],
)
async def list_canned_replies(request: web.Request) -> list[CannedReplyOut]:
    return [CannedReplyOut.model_validate(r) for r in await canned.list_replies()]


@api.route(
    "POST",
    "/api/v1/canned-replies",
    summary="Add a canned reply",
    tag="inbox",
    body=CannedReplyIn,
    response=CannedReplyOut,
    status=201,
)
async def create_canned_reply(request: web.Request, *, body: CannedReplyIn) -> CannedReplyOut:
    """The text must compile as a template (the error names the line); shortcuts are unique."""
    reply = await canned.create_reply(actor=actor(request), **body.model_dump())
    return CannedReplyOut.model_validate(reply)


@api.route(
    "PATCH",
    "/api/v1/canned-replies/{reply_id}",
    summary="Edit a canned reply",
    tag="inbox",
    body=CannedReplyUpdate,
    response=CannedReplyOut,
)
async def update_canned_reply(
    request: web.Request, *, reply_id: int, body: CannedReplyUpdate
) -> CannedReplyOut:
    reply = await canned.update_reply(
        actor=actor(request), reply_id=reply_id, **body.model_dump(exclude_unset=True)
    )
    return CannedReplyOut.model_validate(reply)


@api.route(
    "DELETE",
    "/api/v1/canned-replies/{reply_id}",
    summary="Delete a canned reply",
    tag="inbox",
    status=204,
)
async def delete_canned_reply(request: web.Request, *, reply_id: int) -> None:
    await canned.delete_reply(actor=actor(request), reply_id=reply_id)


@api.route(
    "POST",
    "/api/v1/dialogs/{dialog_id}/canned-replies/{reply_id}/render",
    summary="Fill a canned reply in for the dialog's contact and deal (nothing is sent)",
    tag="inbox",
    roles=EVERYONE,
    response=RenderedOut,
)
async def render_canned_reply(
    request: web.Request, *, dialog_id: int, reply_id: int
) -> RenderedOut:
    """A field the dialog lacks (`{{ deal.title }}` without an open deal) is a 422."""
    return RenderedOut(text=await canned.render_reply(reply_id=reply_id, dialog_id=dialog_id))
