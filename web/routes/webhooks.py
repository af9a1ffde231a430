"""Webhooks of the messengers: verified, stored (one INSERT), answered, processed after."""

import hmac

from aiohttp import web

from bot import channels, intake
from bot.whatsapp import parse_webhook, signature_matches
from core.errors import NotFound, PermissionDenied, Unauthenticated
from inbox.models import ChannelKind
from web.api import json_body, json_response
from web.keys import INTAKE, vault
from web.routes import api

TELEGRAM_SECRET = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
META_SIGNATURE = "X-Hub-Signature-256"


@api.route(
    "POST",
    "/webhooks/telegram/{channel_id}",
    summary="Telegram Bot API updates",
    tag="webhooks",
    roles=None,
)
async def telegram_webhook(request: web.Request, *, channel_id: int) -> web.Response:
    channel = await channels.get_channel(channel_id=channel_id)
    if channel.kind != ChannelKind.TELEGRAM or not channel.is_active:
        raise NotFound(f"no active Telegram channel {channel_id}", field="channel_id")
    credentials = vault(request).open(channel.credentials)
    given = request.headers.get(TELEGRAM_SECRET, "").encode()
    if not hmac.compare_digest(given, credentials["webhook_secret"].encode()):
        raise Unauthenticated("wrong or missing secret token", field=TELEGRAM_SECRET)
    await intake.accept(channel, intake.telegram_items(await json_body(request, repair=True)))
    request.app[INTAKE].pump.wake()
    return json_response({"ok": True})


@api.route(
    "GET",
    "/webhooks/whatsapp",
    summary="Meta's webhook verification handshake",
    tag="webhooks",
    roles=None,
)
async def whatsapp_verify(request: web.Request) -> web.Response:
    mode = request.query.get("hub.mode")
    token = request.query.get("hub.verify_token", "").encode()
    challenge = request.query.get("hub.challenge", "")
    box = vault(request)
    for channel in await channels.list_channels(kind=ChannelKind.WHATSAPP):
        expected = box.open(channel.credentials)["verify_token"].encode()
        if mode == "subscribe" and hmac.compare_digest(token, expected):
            return web.Response(text=challenge)
    raise PermissionDenied("verify token mismatch", field="hub.verify_token")


@api.route(
    "POST",
    "/webhooks/whatsapp",
    summary="WhatsApp Cloud API messages and statuses",
    tag="webhooks",
    roles=None,
)
async def whatsapp_webhook(request: web.Request) -> web.Response:
    body = await request.read()
    header = request.headers.get(META_SIGNATURE, "")
    box = vault(request)
    trusted = {
        channel.external_id: channel
        for channel in await channels.list_channels(kind=ChannelKind.WHATSAPP)
        if channel.is_active
        and signature_matches(body, header, box.open(channel.credentials)["app_secret"])
    }
    if not trusted:
        raise Unauthenticated("signature does not match any channel", field=META_SIGNATURE)
    batches = parse_webhook(await json_body(request, repair=True))
    unknown = sorted({r.phone_number_id for r in batches} - set(trusted))
    if unknown:
        raise NotFound(
            f"phone_number_id {unknown} is not a connected channel", field="phone_number_id"
        )
    for routed in batches:
        await intake.accept(trusted[routed.phone_number_id], intake.whatsapp_items(routed))
    request.app[INTAKE].pump.wake()
    return json_response({"ok": True})
