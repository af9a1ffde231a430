"""WhatsApp Cloud API: webhook signature, payload translation and the Graph client.

Meta signs each webhook with the app secret (``X-Hub-Signature-256``: HMAC-SHA256 of
the raw body). One POST may carry several entries, changes, messages and statuses;
each is routed by ``metadata.phone_number_id``.
"""

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp

from bot.graph import GraphClient, GraphError
from core.errors import NotFound, Unavailable, ValidationFailed
from core.storable import checked_text
from inbox.dialogs import Inbound, Sender
from inbox.models import DeliveryStatus

log = logging.getLogger(__name__)

T = TypeVar("T")
MEDIA = ("image", "document", "audio", "video", "sticker")
STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}


def signature_matches(body: bytes, header: str, app_secret: str) -> bool:
    """Constant-time check of ``sha256=<hex>`` against the raw body."""
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


@dataclass
class StatusUpdate:
    """Delivery news about one of our messages."""

    wamid: str
    status: DeliveryStatus
    error: str | None

    @property
    def key(self) -> str:
        """Dedupe key: the same status of the same message is news only once."""
        return f"status:{self.wamid}:{self.status.value}"


@dataclass
class Unreadable:
    """An item of a verified webhook we cannot read or store, kept as it came (JSON
    text, so even what no database stores survives) under a key its redelivery repeats."""

    raw: str
    reason: str

    @property
    def key(self) -> str:
        return "unreadable:" + hashlib.sha256(self.raw.encode()).hexdigest()


@dataclass
class Routed:
    """What one change of a webhook brought for one phone number."""

    phone_number_id: str
    messages: list[Inbound]
    statuses: list[StatusUpdate]
    unreadable: list[Unreadable] = field(default_factory=list)


@dataclass
class Webhook:
    """A verified body split into items: per phone number, and what could not be routed
    to one (kept on the channel whose secret signed it)."""

    routed: list[Routed]
    unroutable: list[Unreadable]


#: What reading a malformed item raises (a string where an object belongs, a timestamp
#: out of range, JSON nested too deep).
UNREADABLE = (ValidationFailed, ValueError, TypeError, AttributeError, ArithmeticError, OSError)
#: Platform ids longer than this cannot be stored (``inbox.models.Message.external_id``).
MAX_ID = 128


def parse_webhook(payload: Any) -> Webhook:
    """Every message and status of a webhook POST, grouped by phone_number_id.

    Each item is read on its own: one that is malformed (a string where an object
    belongs, an id too long, JSON nested too deep) becomes :class:`Unreadable` with
    its reason and its neighbours are still read. Objects and fields Meta may add are
    ignored; text no database stores is repaired.
    """
    webhook = Webhook([], [])
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return webhook
    for entry in _items(payload.get("entry"), "entry", webhook.unroutable):
        for change in _items(entry.get("changes"), "entry.changes", webhook.unroutable):
            routed = _change(change, webhook.unroutable)
            if routed is not None:
                webhook.routed.append(routed)
    return webhook


def _items(value: Any, where: str, unreadable: list[Unreadable]) -> list[dict[str, Any]]:
    """The objects of a list field; anything else in it (or instead of it) is unreadable."""
    if value is None:
        return []
    if not isinstance(value, list):
        unreadable.append(kept_raw(value, f"{where} is not a list"))
        return []
    good = [item for item in value if isinstance(item, dict)]
    unreadable += [kept_raw(i, f"{where} item is not an object") for i in value
                   if not isinstance(i, dict)]  # fmt: skip
    return good


def _change(change: dict[str, Any], unroutable: list[Unreadable]) -> Routed | None:
    value = change.get("value")
    if change.get("field") != "messages":
        return None
    metadata = value.get("metadata") if isinstance(value, dict) else None
    phone_number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    if not isinstance(phone_number_id, str | int) or not isinstance(value, dict):
        unroutable.append(kept_raw(change, "a change without metadata.phone_number_id"))
        return None
    routed = Routed(str(phone_number_id), [], [])
    contacts: list[dict[str, Any]] = []
    for raw in _items(value.get("contacts"), "contacts", routed.unreadable):
        _read(raw, lambda c: c, contacts, routed.unreadable)
    profiles = {str(c.get("wa_id")): c for c in contacts}
    for raw in _items(value.get("messages"), "messages", routed.unreadable):
        _read(raw, lambda m: _inbound(m, profiles), routed.messages, routed.unreadable)
    for raw in _items(value.get("statuses"), "statuses", routed.unreadable):
        _read(raw, _status, routed.statuses, routed.unreadable)
    return routed


def _read(raw: dict[str, Any], read: Callable[[dict[str, Any]], T | None], good: list[T],
          unreadable: list[Unreadable]) -> None:  # fmt: skip
    """Read one item into ``good``, or keep it as unreadable with the reason."""
    try:
        item = read(checked_text(raw, repair=True))
    except (
        ValidationFailed,
        ValueError,
        TypeError,
        AttributeError,
        ArithmeticError,
        OSError,
    ) as exc:
        unreadable.append(kept_raw(raw, str(getattr(exc, "message", exc)) or type(exc).__name__))
        return
    if item is not None:
        good.append(item)


def kept_raw(raw: Any, reason: str) -> Unreadable:
    """``raw`` kept as JSON text (its repr where even that fails) with ``reason``."""
    try:
        text = json.dumps(raw, sort_keys=True)
    except (RecursionError, ValueError, TypeError):
        text = repr(raw)[:100_000]
    return Unreadable(raw=text, reason=reason)


def _checked_id(value: Any, name: str) -> str:
    text = str(value)
    if len(text) > MAX_ID:
        raise ValueError(f"{name} is longer than {MAX_ID} characters")
    return text


def _inbound(message: dict[str, Any], profiles: dict[str, Any]) -> Inbound | None:
    wa_id, wamid, kind = message.get("from"), message.get("id"), message.get("type")
    if not wa_id or not wamid or not kind:
        return None
    wamid, wa_id = _checked_id(wamid, "id"), _checked_id(wa_id, "from")
    if not isinstance(kind, str):
        raise ValueError("type is not a string")
    profile = profiles.get(wa_id) or {}
    referral = message.get("referral") or {}
    sender = Sender(
        external_id=str(wa_id),
        name=(profile.get("profile") or {}).get("name") or str(wa_id),
        phone="+" + str(wa_id).lstrip("+"),
        user_id=profile.get("user_id") or message.get("from_user_id"),
        ctwa_clid=referral.get("ctwa_clid"),
    )
    content = message.get(kind) or {}
    if not isinstance(content, dict):
        raise ValueError(f"{kind} is not an object")
    text, payload = _content(kind, content)
    if not isinstance(text, str):
        raise ValueError(f"{kind}: the text is not a string")
    if referral:
        payload["referral"] = referral
    if context := message.get("context"):
        payload["context"] = context
    timestamp = str(message.get("timestamp"))
    return Inbound(
        sender=sender,
        chat_id=str(wa_id),
        external_id=str(wamid),
        kind=kind,
        text=text,
        payload=payload,
        sent_at=datetime.fromtimestamp(int(timestamp), UTC) if timestamp.isdigit() else None,
    )


def _content(kind: str, content: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(text, payload) of a message: media ids are kept, fetched on demand."""
    if kind == "text":
        return content.get("body", ""), {}
    if kind in MEDIA:
        return content.get("caption", ""), {k: v for k, v in content.items() if k != "caption"}
    if kind == "location":
        return content.get("name") or content.get("address") or "", dict(content)
    if kind == "interactive":
        reply = content.get(content.get("type", "")) or {}
        return reply.get("title", ""), dict(content)
    if kind == "button":
        return content.get("text", ""), dict(content)
    if kind == "reaction":
        return content.get("emoji", ""), dict(content)
    return "", dict(content)


def _status(raw: dict[str, Any]) -> StatusUpdate | None:
    status = STATUSES.get(raw.get("status", ""))
    if status is None or not raw.get("id"):
        return None
    errors = raw.get("errors") or []
    error = None
    if errors:
        first = errors[0]
        error = f"{first.get('code')}: {first.get('title') or first.get('message') or ''}".strip()
    return StatusUpdate(wamid=_checked_id(raw["id"], "id"), status=status, error=error)


async def download(
    http: aiohttp.ClientSession, *, base_url: str, access_token: str, media_id: str
) -> tuple[bytes, str]:
    """A customer's media from Meta when asked for, with its MIME type.

    Media Meta no longer serves (expired, unknown) is :class:`NotFound`; Meta down, slow
    or answering nonsense is :class:`Unavailable` (502), never a crash of ours.
    """
    try:
        return await GraphClient(http, base_url, access_token).download_media(media_id)
    except GraphError as exc:
        if exc.status == 404 or exc.code == 100:  # 100: no such object
            raise NotFound(
                f"WhatsApp no longer serves this file: {exc}", field="message_id"
            ) from None
        reason: Exception = exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        reason = exc
    log.warning("media download from WhatsApp failed: %s: %s", type(reason).__name__, reason)
    raise Unavailable(
        "WhatsApp could not be reached or gave an unreadable answer; try again later",
        field="message_id",
    )
