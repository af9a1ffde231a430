"""Webhooks of the messengers: verified, stored (one INSERT), answered, processed after."""

import hmac
import logging
from typing import Any

from aiohttp import web

from bot import channels, intake
from bot.models import DeliveryKind
from bot.whatsapp import Unreadable, kept_raw, parse_webhook, signature_matches
from core.errors import NotFound, PermissionDenied, Unauthenticated, ValidationFailed
from inbox.models import ChannelKind
from web.api import json_body, json_response
from web.keys import INTAKE, signers, vault
from web.routes import api

TELEGRAM_SECRET = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
META_SIGNATURE = "X-Hub-Signature-256"
log = logging.getLogger(__name__)


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
    data, unreadable = await _verified_json(request)
    items = (
        [intake.unreadable_item(DeliveryKind.TELEGRAM_UPDATE, unreadable)]
        if unreadable is not None
        else intake.telegram_items(data)
    )
    await request.app[INTAKE].accept((channel, items))
    return json_response({"ok": True})


async def _verified_json(
    request: web.Request, *, checked: bool = True
) -> tuple[Any, Unreadable | None]:
    """The body of a webhook whose sender proved who it is. One that is not JSON (or nests
    too deep to read) is still kept, as text, to be parked: the platform would only send
    the same body again, and it may be a customer's message."""
    try:
        return await json_body(request, repair=True, checked=checked), None
    except ValidationFailed as exc:
        text = (await request.read()).decode("utf-8", errors="replace")
        return None, kept_raw(text, exc.message)


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
    trusted = {
        channel.external_id: channel
        for channel, app_secret in await signers(request).channels()
        if signature_matches(body, header, app_secret)
    }
    if not trusted:
        raise Unauthenticated("signature does not match any channel", field=META_SIGNATURE)
    data, unreadable = await _verified_json(request, checked=False)  # checked item by item
    webhook = parse_webhook(data)
    if unreadable is not None:
        webhook.unroutable.append(unreadable)
    signer = next(iter(trusted.values()))
    unroutable = [intake.unreadable_item(DeliveryKind.WHATSAPP_MESSAGE, u)
                  for u in webhook.unroutable]  # fmt: skip
    batches = [(signer, unroutable)]
    for routed in webhook.routed:
        channel = trusted.get(routed.phone_number_id)
        if channel is None:  # signed by one of ours, for a number we do not serve
            log.warning(
                "ignoring %d message(s) and %d status(es) for phone_number_id %s: not a"
                " connected channel (%s)", len(routed.messages), len(routed.statuses),
                routed.phone_number_id, ", ".join(m.external_id for m in routed.messages),
            )  # fmt: skip
            continue
        batches.append((channel, intake.whatsapp_items(routed)))
    await request.app[INTAKE].accept(*batches)
    return json_response({"ok": True})
