"""Channels (admins) and the inbox: dialogs, messages, replies and notes (operators too)."""

from aiohttp import web

from bot import channels, templates
from bot.graph import GraphError
from inbox import assignment, dialog_list, dialogs, notes, outgoing, unread
from web.api import EVERYONE, actor
from web.keys import HTTP, TEMPLATES, vault
from web.middleware import error_response
from web.routes import api
from web.schemas_inbox import (
    AssignIn,
    ChannelIn,
    ChannelOut,
    ChannelUpdate,
    DestroyChannel,
    DialogOut,
    DialogPageOut,
    DialogQuery,
    MessageOut,
    MessageQuery,
    NoteIn,
    ReplyIn,
    TemplateIn,
    TemplateOut,
    TemplateQuery,
    UnreadOut,
)


@api.route(
    "GET", "/api/v1/channels", summary="List channels", tag="channels", response=list[ChannelOut]
)
async def list_channels(request: web.Request) -> list[ChannelOut]:
    return [ChannelOut.model_validate(c) for c in await channels.list_channels(with_intake=True)]


@api.route(
    "POST",
    "/api/v1/channels",
    summary="Connect a Telegram bot or WhatsApp number",
    tag="channels",
    body=ChannelIn,
    response=ChannelOut,
    status=201,
)
async def create_channel(request: web.Request, *, body: ChannelIn) -> ChannelOut:
    channel = await channels.create_channel(
        actor=actor(request), vault=vault(request), **body.model_dump()
    )
    return ChannelOut.model_validate(channel)


@api.route(
    "GET",
    "/api/v1/channels/{channel_id}",
    summary="Get a channel",
    tag="channels",
    response=ChannelOut,
)
async def get_channel(request: web.Request, *, channel_id: int) -> ChannelOut:
    return ChannelOut.model_validate(
        await channels.get_channel(channel_id=channel_id, with_intake=True)
    )


@api.route(
    "PATCH",
    "/api/v1/channels/{channel_id}",
    summary="Edit or pause a channel",
    tag="channels",
    body=ChannelUpdate,
    response=ChannelOut,
)
async def update_channel(
    request: web.Request, *, channel_id: int, body: ChannelUpdate
) -> ChannelOut:
    channel = await channels.update_channel(
        actor=actor(request), channel_id=channel_id, **body.model_dump(exclude_unset=True)
    )
    return ChannelOut.model_validate(channel)


@api.route(
    "DELETE",
    "/api/v1/channels/{channel_id}",
    summary="Disconnect a channel (its dialogs and messages stay)",
    tag="channels",
    status=204,
)
async def disconnect_channel(request: web.Request, *, channel_id: int) -> None:
    """Webhooks of a disconnected channel are refused and nothing is sent through it; its
    history stays in the inbox. `PATCH` with `is_active: true` reconnects it."""
    await channels.disconnect_channel(actor=actor(request), channel_id=channel_id)


@api.route(
    "POST",
    "/api/v1/channels/{channel_id}/destroy",
    summary="Delete a disconnected channel with all its dialogs and messages",
    tag="channels",
    body=DestroyChannel,
    status=204,
)
async def destroy_channel(request: web.Request, *, channel_id: int, body: DestroyChannel) -> None:
    """For good: the channel must be disconnected first and `confirm` must repeat its name."""
    await channels.destroy_channel(
        actor=actor(request), channel_id=channel_id, confirm=body.confirm
    )


@api.route(
    "GET",
    "/api/v1/channels/{channel_id}/templates",
    summary="A WhatsApp channel's message templates (cached for minutes)",
    tag="channels",
    query=TemplateQuery,
    response=list[TemplateOut],
)
async def list_templates(
    request: web.Request, *, channel_id: int, query: TemplateQuery
) -> list[TemplateOut] | web.Response:
    try:
        found = await templates.list_templates(
            vault=vault(request),
            http=request.app[HTTP],
            cache=request.app[TEMPLATES],
            channel_id=channel_id,
            refresh=query.refresh,
        )
    except GraphError as exc:
        return error_response(502, "platform_error", f"WhatsApp refused: {exc}", "channel_id")
    return [TemplateOut.model_validate(t) for t in found]


@api.route(
    "GET",
    "/api/v1/dialogs",
    summary="The inbox: dialogs, latest activity first, in keyset pages; search with q",
    tag="inbox",
    roles=EVERYONE,
    query=DialogQuery,
    response=DialogPageOut,
)
async def list_dialogs(request: web.Request, *, query: DialogQuery) -> DialogPageOut:
    reader = actor(request)
    page = await dialog_list.list_dialogs(**query.model_dump(), reader_id=reader.id)
    counts = await unread.unread_counts(reader=reader, dialog_ids=[d.id for d in page.items])
    items = [
        DialogOut.model_validate(d).model_copy(update={"unread": counts.get(d.id, 0)})
        for d in page.items
    ]
    return DialogPageOut(items=items, next_cursor=page.next_cursor)


@api.route(
    "PUT",
    "/api/v1/dialogs/{dialog_id}/assignee",
    summary="Assign the dialog (operators: to themselves, or let go of their own)",
    tag="inbox",
    roles=EVERYONE,
    body=AssignIn,
    response=DialogOut,
)
async def assign(request: web.Request, *, dialog_id: int, body: AssignIn) -> DialogOut:
    dialog = await assignment.assign(
        actor=actor(request), dialog_id=dialog_id, assignee_id=body.user_id
    )
    return DialogOut.model_validate(dialog)


@api.route(
    "POST",
    "/api/v1/dialogs/{dialog_id}/read",
    summary="Mark the dialog read by the caller; answers their unread total",
    tag="inbox",
    roles=EVERYONE,
    response=UnreadOut,
)
async def mark_read(request: web.Request, *, dialog_id: int) -> UnreadOut:
    reader = actor(request)
    await unread.mark_read(actor=reader, dialog_id=dialog_id)
    return UnreadOut(total=await unread.unread_total(reader=reader))


@api.route(
    "GET",
    "/api/v1/unread",
    summary="The caller's unread customer messages over all dialogs",
    tag="inbox",
    roles=EVERYONE,
    response=UnreadOut,
)
async def unread_total(request: web.Request) -> UnreadOut:
    return UnreadOut(total=await unread.unread_total(reader=actor(request)))


@api.route(
    "GET",
    "/api/v1/dialogs/{dialog_id}/messages",
    summary="A dialog's messages, in order",
    tag="inbox",
    roles=EVERYONE,
    query=MessageQuery,
    response=list[MessageOut],
)
async def list_messages(
    request: web.Request, *, dialog_id: int, query: MessageQuery
) -> list[MessageOut]:
    found = await dialogs.list_messages(
        dialog_id=dialog_id, before_id=query.before_id, limit=query.limit
    )
    return [MessageOut.model_validate(m) for m in found]


@api.route(
    "POST",
    "/api/v1/dialogs/{dialog_id}/messages",
    summary="Reply to the customer",
    tag="inbox",
    roles=EVERYONE,
    body=ReplyIn,
    response=MessageOut,
    status=201,
)
async def reply(request: web.Request, *, dialog_id: int, body: ReplyIn) -> MessageOut:
    message = await outgoing.send_text(actor=actor(request), dialog_id=dialog_id, text=body.text)
    return MessageOut.model_validate(message)


@api.route(
    "POST",
    "/api/v1/dialogs/{dialog_id}/notes",
    summary="Write a private note in the dialog (the team sees it, the customer never does)",
    tag="inbox",
    roles=EVERYONE,
    body=NoteIn,
    response=MessageOut,
    status=201,
)
async def add_note(request: web.Request, *, dialog_id: int, body: NoteIn) -> MessageOut:
    """Stored as a message of the dialog with direction `note`; it is never queued or sent."""
    message = await notes.add_note(actor=actor(request), dialog_id=dialog_id, text=body.text)
    return MessageOut.model_validate(message)


@api.route(
    "POST",
    "/api/v1/dialogs/{dialog_id}/templates",
    summary="Send a WhatsApp template (allowed outside the 24-hour window)",
    tag="inbox",
    roles=EVERYONE,
    body=TemplateIn,
    response=MessageOut,
    status=201,
)
async def send_template(request: web.Request, *, dialog_id: int, body: TemplateIn) -> MessageOut:
    message = await outgoing.send_template(
        actor=actor(request), dialog_id=dialog_id, **body.model_dump()
    )
    return MessageOut.model_validate(message)
