"""Meta Conversions API: which deal events are reported, as what, and the settings.

When enabled, the event dispatcher hands deal events to :func:`convert`, which queues
one server event per report in the ``conversion`` table (``bot.conversions`` sends them
in batches):

=========================================== ============== ==============================
deal event                                  Meta event     event_id (Meta's dedup key)
=========================================== ============== ==============================
a contact is added to the deal              Lead           ``deal-<id>-lead``: once a deal
moved to a 100% stage (Won)                 Purchase       ``deal-<id>-purchase``: once
moved to another stage, Lost included       ViewContent    ``deal-<id>-view-<event id>``
updated, unless reported in the last 10 min ViewContent    ``deal-<id>-view-<event id>``
=========================================== ============== ==============================

A deal whose dialog began with a click-to-WhatsApp ad is reported as ``business_messaging``
with the ad click id (``ctwa_clid``), which is how Meta attributes it to the ad; any
other deal as ``chat`` with its contact's phone and email normalised and SHA-256 hashed
the way Meta documents, and a hashed external id.
"""

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pycountry

from core.crypto import Vault
from core.errors import NotFound, ValidationFailed
from core.events import change, diff
from core.models import Event, User
from funnels.models import Deal, DealContact
from inbox.models import Contact, ContactIdentity, Dialog
from triggers.conversions.models import Conversion, ConversionSettings

DEFAULT_API = "https://graph.facebook.com/v21.0"
LEAD, PURCHASE, VIEW_CONTENT = "Lead", "Purchase", "ViewContent"
#: The deal events that may be reported.
CONVERSION_EVENTS = ("deal.contact_added", "deal.stage_changed", "deal.updated")
#: Edits in a burst (title, then amount, then a tag), or right after a move (a Won move
#: also sets the close date), are the activity already reported: no ViewContent for them.
QUIET = timedelta(minutes=10)


# --- settings ----------------------------------------------------------------------------


async def get_conversion_settings() -> ConversionSettings:
    """The Conversions API settings, or :class:`NotFound` before they are first saved."""
    settings = await ConversionSettings.first()
    if settings is None:
        raise NotFound("the Conversions API is not set up", field="pixel_id")
    return settings


async def put_conversion_settings(
    *,
    actor: User | None,
    vault: Vault,
    pixel_id: str,
    is_enabled: bool,
    access_token: str | None = None,
    test_event_code: str | None = None,
    default_currency: str = "USD",
    api_base_url: str | None = None,
) -> ConversionSettings:
    """Save the settings; an omitted access token keeps the stored one."""
    if not re.fullmatch(r"\d{5,32}", pixel_id):
        raise ValidationFailed("pixel_id is the dataset's numeric id", field="pixel_id")
    currency = default_currency.upper()
    if pycountry.currencies.get(alpha_3=currency) is None:
        raise ValidationFailed(f"{currency!r} is not an ISO 4217 code", field="default_currency")
    async with change(actor) as batch:
        settings = await ConversionSettings.all().select_for_update().first()
        if access_token is None and settings is None:
            raise ValidationFailed("an access token is required", field="access_token")
        values: dict[str, Any] = {
            "pixel_id": pixel_id,
            "is_enabled": is_enabled,
            "test_event_code": test_event_code or None,
            "default_currency": currency,
            "api_base_url": (api_base_url or DEFAULT_API).rstrip("/"),
        }
        if access_token is not None:
            values["credentials"] = vault.seal({"access_token": access_token})
        if settings is None:
            settings = await ConversionSettings.create(**values)
            changed = sorted(values)
        else:
            changed = sorted(diff(settings, values))
            await settings.update_from_dict(values).save()
        if changed:
            # names only: the token itself never reaches the event log
            await batch.record("conversions.configured", changed=changed, is_enabled=is_enabled)
    return settings


async def delete_conversion_settings(*, actor: User | None) -> None:
    """Disconnect the Pixel: nothing more is reported, and queued events stay unsent."""
    async with change(actor) as batch:
        settings = await get_conversion_settings()
        await settings.delete()
        await batch.record("conversions.disconnected", pixel_id=settings.pixel_id)


async def list_conversions(*, deal_id: int | None = None, limit: int = 100) -> list[Conversion]:
    """Queued and sent events, newest first."""
    query = Conversion.all() if deal_id is None else Conversion.filter(deal_id=deal_id)
    return await query.order_by("-id").limit(limit)


# --- hashing as Meta documents it --------------------------------------------------------


def sha256(value: str) -> str:
    """Lower-case hex SHA-256, the form ``user_data`` takes."""
    return hashlib.sha256(value.encode()).hexdigest()


def normalized_email(email: str) -> str:
    """Trimmed and lower-cased."""
    return email.strip().lower()


def normalized_phone(phone: str) -> str:
    """Digits only, country code first, no leading zeros (``+1 (650) 555-1212`` is
    ``16505551212``). Stored phones are E.164 already, so this only drops the ``+``."""
    return re.sub(r"\D", "", phone).lstrip("0")


def chat_user_data(contact: Contact) -> dict[str, list[str]]:
    """Hashed phone, email and contact id: what a ``chat`` event matches people by."""
    data = {"external_id": [sha256(str(contact.id))]}
    if contact.phone:
        data["ph"] = [sha256(normalized_phone(contact.phone))]
    if contact.email:
        data["em"] = [sha256(normalized_email(contact.email))]
    return data


# --- the consumer ------------------------------------------------------------------------


async def convert(event: Event) -> None:
    """Queue the Conversions API event ``event`` calls for, if any (idempotent)."""
    settings = await ConversionSettings.first()
    if settings is None or not settings.is_enabled or event.deal_id is None:
        return
    name, event_id = _classify(event)
    if name is None or await Conversion.filter(event_id=event_id).exists():
        return
    deal = await Deal.get_or_none(id=event.deal_id).select_related("pipeline", "stage")
    if deal is None:
        return
    if (
        event.kind == "deal.updated"
        and await Conversion.filter(
            deal_id=deal.id, event_time__gt=event.created_at - QUIET
        ).exists()
    ):
        return
    contact = await _contact(deal, event)
    if contact is None:
        return
    body: dict[str, Any] = {
        "event_name": name,
        "event_time": int(event.created_at.timestamp()),
        "event_id": event_id,
        "custom_data": {"pipeline": deal.pipeline.name, "stage": deal.stage.name},
    }
    if name == PURCHASE:
        body["custom_data"] |= {
            "value": f"{deal.amount or 0:f}",
            "currency": deal.currency or settings.default_currency,
        }
    channel_id = await _source(body, deal, contact)
    await Conversion.create(
        event_id=event_id,
        event_name=name,
        deal_id=deal.id,
        channel_id=channel_id,
        event_time=event.created_at,
        body=body,
        next_attempt_at=datetime.now(UTC),
    )


def _classify(event: Event) -> tuple[str | None, str]:
    """The Meta event name and its deterministic id for a deal event."""
    data = event.data or {}
    deal = f"deal-{event.deal_id}"
    if event.kind == "deal.contact_added":
        return LEAD, f"{deal}-lead"
    if event.kind == "deal.stage_changed" and data.get("probability") == 100:
        return PURCHASE, f"{deal}-purchase"
    if event.kind in ("deal.stage_changed", "deal.updated"):
        return VIEW_CONTENT, f"{deal}-view-{event.id}"
    return None, ""


async def _contact(deal: Deal, event: Event) -> Contact | None:
    """The contact a Lead names, else the deal's first contact."""
    if event.kind == "deal.contact_added":
        return await Contact.get_or_none(id=(event.data or {}).get("contact_id"))
    links = DealContact.filter(deal=deal).order_by("position").select_related("contact")
    link = await links.first()
    return link.contact if link else None


async def _source(body: dict[str, Any], deal: Deal, contact: Contact) -> int | None:
    """Fill ``action_source`` and ``user_data``; returns the WhatsApp channel whose business
    account id the sender adds (it is kept with the channel's sealed credentials)."""
    dialog_id = deal.dialog_id
    dialog = await Dialog.get_or_none(id=dialog_id).select_related("channel") if dialog_id else None
    if dialog is not None and dialog.channel.kind == "whatsapp":
        identity = await ContactIdentity.get_or_none(
            channel_id=dialog.channel_id,
            contact_id=dialog.contact_id,
        )
        if identity is not None and identity.ctwa_clid:
            body["action_source"] = "business_messaging"
            body["messaging_channel"] = "whatsapp"
            body["user_data"] = {"ctwa_clid": identity.ctwa_clid}
            return dialog.channel_id
    body["action_source"] = "chat"
    body["user_data"] = chat_user_data(contact)
    return None
