"""Attachments of inbound messages, fetched from the messenger on demand."""

from aiohttp import web

from bot import channels, telegram
from core.errors import NotFound, ValidationFailed
from inbox.dialogs import get_message
from inbox.models import ChannelKind
from web.api import EVERYONE
from web.keys import BOTS, vault
from web.routes import api


@api.route(
    "GET",
    "/api/v1/messages/{message_id}/media",
    summary="Download a message's photo, document or voice note",
    tag="inbox",
    roles=EVERYONE,
)
async def message_media(request: web.Request, *, message_id: int) -> web.Response:
    """Fetched from Telegram when asked for. A file Telegram refuses (expired, unknown) is
    a 404; Telegram down, slow or answering garbage is a 502 ``upstream_unavailable``."""
    message = await get_message(message_id=message_id)
    channel = await channels.get_channel(channel_id=message.channel_id)
    file_id = message.payload.get("file_id")
    if channel.kind != ChannelKind.TELEGRAM:
        raise ValidationFailed(
            "media download is available for Telegram messages", field="message_id"
        )
    if not file_id:
        raise NotFound(f"message {message_id} has no attachment", field="message_id")
    credentials = vault(request).open(channel.credentials)
    bot = request.app[BOTS].get(channel, credentials["token"])
    content = await telegram.download(bot, file_id)
    mime = message.payload.get("mime_type") or "application/octet-stream"
    return web.Response(body=content, content_type=mime)
