"""Attachments: the files operators send, and those of inbound messages, fetched from
the messenger on demand."""

from urllib.parse import quote

from aiohttp import web

from bot import channels, telegram, whatsapp
from core.errors import NotFound
from inbox import outgoing
from inbox.dialogs import get_message
from inbox.models import ChannelKind, Direction, Message
from web.api import EVERYONE, actor
from web.keys import BOTS, FILES, HTTP, vault
from web.routes import api
from web.schemas_inbox import MediaForm, MessageOut


@api.route(
    "POST",
    "/api/v1/dialogs/{dialog_id}/media",
    summary="Send the customer a photo or document (multipart: file, caption)",
    tag="inbox",
    roles=EVERYONE,
    form=MediaForm,
    response=MessageOut,
    status=201,
)
async def send_media(request: web.Request, *, dialog_id: int, form: MediaForm) -> MessageOut:
    """Checked against the channel's types and sizes before anything is queued (422 with
    field `file`), kept by its SHA-256, then sent by the outbox like a reply: kind `image`
    (Telegram sendPhoto, a WhatsApp image) or `document`, the caption as the text. On
    WhatsApp outside the 24-hour window it is refused like text (409 `window_closed`)."""
    upload = outgoing.Upload(form.file.file, form.file.filename, form.file.content_type)
    message = await outgoing.send_file(
        actor=actor(request), dialog_id=dialog_id, store=request.app[FILES], upload=upload,
        caption=form.caption,
    )  # fmt: skip
    return MessageOut.model_validate(message)


@api.route(
    "GET",
    "/api/v1/messages/{message_id}/media",
    summary="Download a message's photo, document or voice note",
    tag="inbox",
    roles=EVERYONE,
)
async def message_media(request: web.Request, *, message_id: int) -> web.StreamResponse:
    """Our own files from the media directory; a customer's fetched from Telegram or
    WhatsApp when asked for. A file the messenger refuses (expired, unknown) is a 404;
    the messenger down, slow or answering garbage is a 502 ``upstream_unavailable``."""
    message = await get_message(message_id=message_id)
    if message.direction != Direction.IN:  # a file we sent: ours to serve
        return _ours(request, message)
    channel = await channels.get_channel(channel_id=message.channel_id)
    credentials = vault(request).open(channel.credentials)
    if channel.kind == ChannelKind.TELEGRAM and (file_id := message.payload.get("file_id")):
        bot = request.app[BOTS].get(channel, credentials["token"])
        content = await telegram.download(bot, file_id)
        mime = message.payload.get("mime_type") or "application/octet-stream"
    elif (
        channel.kind == ChannelKind.WHATSAPP
        and message.kind in whatsapp.MEDIA
        and (media_id := message.payload.get("id"))
    ):
        content, mime = await whatsapp.download(
            request.app[HTTP], base_url=channel.api_base_url,
            access_token=credentials["access_token"], media_id=str(media_id),
        )  # fmt: skip
    else:
        raise NotFound(f"message {message_id} has no attachment", field="message_id")
    return web.Response(body=content, content_type=mime.split(";")[0].strip())


def _ours(request: web.Request, message: Message) -> web.StreamResponse:
    sha256 = message.payload.get("sha256")
    if not sha256:
        raise NotFound(f"message {message.id} has no attachment", field="message_id")
    name = message.payload.get("file_name") or sha256
    disposition = "inline" if message.kind == "image" else "attachment"
    return web.FileResponse(
        request.app[FILES].path(sha256),
        headers={
            "Content-Type": message.payload.get("mime_type") or "application/octet-stream",
            "Content-Disposition": _disposition(disposition, name),
        },
    )


def _disposition(kind: str, name: str) -> str:
    """``Content-Disposition`` with the file's name in RFC 5987 form (any language)."""
    return f"{kind}; filename*=UTF-8''{quote(name, safe='')}"
