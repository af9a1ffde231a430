"""WhatsApp Cloud API: webhook signature, payload translation and the Graph client.

Meta signs each webhook with the app secret (``X-Hub-Signature-256``: HMAC-SHA256 of
the raw body). One POST may carry several entries, changes, messages and statuses;
each is routed by ``metadata.phone_number_id``.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inbox.dialogs import Inbound, Sender
from inbox.models import DeliveryStatus

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
class Routed:
    """What one change of a webhook brought for one phone number."""

    phone_number_id: str
    messages: list[Inbound]
    statuses: list[StatusUpdate]


def parse_webhook(payload: Any) -> list[Routed]:
    """Every message and status of a webhook POST, grouped by phone_number_id.

    Shapes we do not know are skipped rather than failing the whole delivery.
    """
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return []
    routed = []
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            phone_number_id = (value.get("metadata") or {}).get("phone_number_id")
            if change.get("field") != "messages" or not phone_number_id:
                continue
            profiles = {c.get("wa_id"): c for c in value.get("contacts") or []}
            messages = [_inbound(m, profiles) for m in value.get("messages") or []]
            statuses = [_status(s) for s in value.get("statuses") or []]
            routed.append(
                Routed(
                    str(phone_number_id),
                    [m for m in messages if m is not None],
                    [s for s in statuses if s is not None],
                )
            )
    return routed


def _inbound(message: dict[str, Any], profiles: dict[str, Any]) -> Inbound | None:
    wa_id, wamid, kind = message.get("from"), message.get("id"), message.get("type")
    if not wa_id or not wamid or not kind:
        return None
    profile = profiles.get(wa_id) or {}
    referral = message.get("referral") or {}
    sender = Sender(
        external_id=str(wa_id),
        name=(profile.get("profile") or {}).get("name") or str(wa_id),
        phone="+" + str(wa_id).lstrip("+"),
        user_id=profile.get("user_id") or message.get("from_user_id"),
        ctwa_clid=referral.get("ctwa_clid"),
    )
    text, payload = _content(kind, message.get(kind) or {})
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
    return StatusUpdate(wamid=str(raw["id"]), status=status, error=error)
