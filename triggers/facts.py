"""What rules test and templates show about a deal (its facts), the dry runs against a
deal, and turning a rule's tag and field actions into ``update_deal`` arguments."""

import logging
from typing import Any
from zoneinfo import ZoneInfo

from core.models import Event
from funnels import catalog
from funnels.deals import get_deal
from funnels.models import (
    Booking,
    CustomField,
    Deal,
    DealContact,
    DealFieldValue,
    FieldKind,
    StageKind,
    Tag,
)
from inbox.models import ContactIdentity, Dialog, Direction, Message
from triggers.rules import Outcome, RuleError, evaluate, parse_rule
from triggers.templates import check_template, render

log = logging.getLogger(__name__)


# --- applying tag and field changes -------------------------------------------------------


async def tag_and_field_changes(
    deal: Deal,
    *,
    add_tags: list[str],
    remove_tags: list[str],
    set_fields: dict[str, str],
    by: str,
) -> dict[str, Any]:
    """The ``update_deal`` arguments that add and remove tags by name (a tag named for the
    first time is created) and set custom fields by name; empty when nothing would change.
    A field name that no longer exists is skipped with a warning naming ``by``."""
    current = {tag.name: tag.id for tag in await deal.tags.all()}
    wanted = {name: tag_id for name, tag_id in current.items() if name not in remove_tags}
    for name in add_tags:
        if name not in wanted:
            tag = await Tag.get_or_none(name=name)
            if tag is None:
                tag = await catalog.create_tag(actor=None, name=name)
            wanted[name] = tag.id
    changes: dict[str, Any] = {}
    if set(wanted) != set(current):
        changes["tag_ids"] = sorted(wanted.values())
    if set_fields:
        known = {f.name: f.id for f in await CustomField.filter(name__in=list(set_fields))}
        fields = {known[name]: value for name, value in set_fields.items() if name in known}
        for name in set_fields.keys() - known.keys():
            log.warning("%s: no custom field %r", by, name)
        if fields:
            changes["fields"] = fields
    return changes


# --- facts and dry runs ------------------------------------------------------------------


async def deal_facts(deal: Deal) -> dict[str, Any]:
    """The facts document of ``triggers.rules`` for one deal, plus what templates show:
    ``contacts`` (all of them), ``owner`` and ``fields`` (custom fields by name)."""
    await deal.fetch_related("pipeline", "stage", "owner", "tags")
    links = await DealContact.filter(deal=deal).order_by("position").select_related("contact")
    contacts = [
        {"id": c.id, "name": c.name, "phone": c.phone, "email": c.email}
        for c in (link.contact for link in links)
    ]
    names = {f.id: f for f in await CustomField.all()}
    fields: dict[str, Any] = {}
    for value in await DealFieldValue.filter(deal=deal):
        field = names.get(value.field_id)
        if field is not None:
            date = value.value_date
            fields[field.name] = (
                date.isoformat() if field.kind == FieldKind.DATE and date else value.value_text
            )
    deal_doc = {
        "id": deal.id,
        "title": deal.title,
        "amount": f"{deal.amount:f}" if deal.amount is not None else None,
        "currency": deal.currency,
        "reference": deal.reference,
        "close_date": deal.close_date.isoformat() if deal.close_date else None,
        "created_at": deal.created_at.isoformat(),
        "tags": sorted(tag.name for tag in deal.tags),
        "fields": fields,
    }
    stage = deal.stage
    facts: dict[str, Any] = {
        "deal": deal_doc,
        "pipeline": {"id": deal.pipeline.id, "name": deal.pipeline.name},
        "stage": {
            "id": stage.id,
            "name": stage.name,
            "probability": stage.probability,
            "kind": stage.kind.value,
        },
        "owner": {"id": deal.owner.id, "name": deal.owner.name, "email": deal.owner.email},
        "contacts": contacts,
        "fields": fields,
    }
    if contacts:
        first = dict(contacts[0])
        first["won_deals"] = await DealContact.filter(
            contact_id=first["id"], deal__stage__kind=StageKind.WON
        ).count()
        facts["contact"] = first
    dialog_id = deal.dialog_id
    if dialog_id is not None:
        dialog = await Dialog.get_or_none(id=dialog_id).select_related("channel")
        if dialog is not None:
            facts["dialog"] = await _dialog_facts(dialog)
    booking = await Booking.get_or_none(deal_id=deal.id)
    if booking is not None:
        facts["booking"] = booking_facts(booking)
    return facts


def booking_facts(booking: Booking) -> dict[str, Any]:
    """The booking as rules and templates see it: date and time in the booking's zone."""
    local = booking.starts_at.astimezone(ZoneInfo(booking.timezone))
    return {
        "status": booking.status.value,
        "starts_at": booking.starts_at.isoformat(),
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "duration_minutes": booking.duration_minutes,
        "services": [service["title"] for service in booking.services],
        "staff": booking.staff,
    }


def event_facts(event: Event) -> dict[str, Any]:
    """The ``event`` root of the facts: its kind and data (what changed, from and to)."""
    data = {key: value for key, value in (event.data or {}).items() if key != "cause"}
    return {"kind": event.kind, **data}


async def _dialog_facts(dialog: Dialog) -> dict[str, Any]:
    identity = await ContactIdentity.filter(
        channel_id=dialog.channel_id,
        contact_id=dialog.contact_id,
    ).first()
    first = await Message.filter(dialog_id=dialog.id, direction=Direction.IN).order_by("id").first()
    doc: dict[str, Any] = {
        "channel": dialog.channel.kind.value,
        "ctwa_clid": identity.ctwa_clid if identity else None,
    }
    if first is not None:
        doc["first_message"] = {
            "text": first.text,
            "referral": (first.payload or {}).get("referral"),
        }
    return doc


async def render_for_deal(*, template: str, deal_id: int) -> str:
    """Fill a template with a deal's facts without sending anything."""
    check_template(template, field="template")
    deal = await get_deal(deal_id=deal_id)
    return render(template, await deal_facts(deal), field="template")


async def evaluate_for_deal(*, rule: Any, deal_id: int) -> Outcome:
    """What a rule would do to a deal, without doing it."""
    try:
        parsed = parse_rule(rule)
    except RuleError as exc:
        raise exc.under("rule") from None
    deal = await get_deal(deal_id=deal_id)
    return evaluate(parsed, await deal_facts(deal))
