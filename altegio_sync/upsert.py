"""One Altegio record becomes, or updates, one deal: the only writer of the sync's links.

Everything goes through the funnels' and the inbox's service calls (create_deal,
move_deal, update_deal, set_booking, create_contact), in one transaction per record, so
timelines, automations and stage triggers see a synced change exactly as a person's:
the booking is set before the deal enters its stage, so a "1 day before the booking"
reminder finds it.
"""

from enum import StrEnum
from typing import Any

from altegio_sync.models import AltegioClient, AltegioConnection, AltegioMapping, AltegioRecord
from altegio_sync.records import Client, Record, parse_record
from core.errors import DomainError, ValidationFailed
from core.events import change
from core.phones import normalize_phone
from funnels.bookings import set_booking
from funnels.deals import create_deal, get_deal, move_deal, update_deal
from funnels.models import BookingStatus, StageKind
from funnels.pipelines import get_stage
from inbox.dialogs import latest_dialog
from inbox.models import Contact
from inbox.service import create_contact, find_by_phone, get_contact

SOURCE = "altegio"
TITLE_LENGTH = 255


class Outcome(StrEnum):
    """What applying a record did (the pull's summary counts these)."""

    CREATED = "created"
    MOVED = "moved"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"
    SKIPPED = "skipped"


async def apply_record(connection: AltegioConnection, record: Record) -> Outcome:
    """Create or update the record's deal; an older change than the one applied is stale.

    A record first seen deleted makes no deal. A deal a person has deleted is not made
    again, and one a person closed (Won or Lost) is not moved by the sync.
    """
    key = {"connection_id": connection.id, "record_id": record.id}
    seen = await AltegioRecord.filter(**key).first()
    if seen is not None and (early := _needless(seen, record)) is not None:
        return early  # the common case of a re-read record: no transaction at all
    async with change(None):
        # built inside the transaction: a queryset binds its connection when built
        synced = await AltegioRecord.filter(**key).select_for_update().first()
        if synced is None:
            return await _create(connection, record)
        if (early := _needless(synced, record)) is not None:
            return early
        return await _update(connection, record, synced)


def _needless(synced: AltegioRecord, record: Record) -> Outcome | None:
    """Why applying ``record`` would change nothing, if it would not."""
    if record.last_change < synced.last_change:
        return Outcome.STALE
    if synced.deal_id is None:
        return Outcome.SKIPPED
    if record.last_change == synced.last_change and record.status == synced.status:
        return Outcome.UNCHANGED
    return None


async def apply_webhook(connection: AltegioConnection, event: dict[str, Any]) -> Outcome:
    """A stored webhook event (``resource: record``) applied like a pulled record."""
    record = parse_record(
        event.get("data"), connection.timezone, deleted=event.get("status") == "delete"
    )
    return await apply_record(connection, record)


async def _create(connection: AltegioConnection, record: Record) -> Outcome:
    if record.status == BookingStatus.CANCELLED:
        await AltegioRecord.create(
            connection=connection, record_id=record.id, deal_id=None,
            status=record.status, stage_id=None, last_change=record.last_change,
        )  # fmt: skip
        return Outcome.SKIPPED
    contact = await _contact(connection, record)
    dialog = await latest_dialog(contact_id=contact.id)
    stage_id = await _mapped(connection, record.status)
    stage = await get_stage(stage_id=stage_id)
    amount = record.amount
    deal = await create_deal(
        actor=None,
        contact_ids=[contact.id],
        pipeline_id=stage.pipeline_id,
        stage_id=stage.id,
        owner_id=connection.owner_id,
        title=_title(contact, record),
        amount=amount,
        currency=connection.currency if amount is not None else None,
        close_date=record.local_date(connection.timezone),
        dialog_id=dialog.id if dialog else None,
    )
    await _book(connection, deal.id, record)
    await AltegioRecord.create(
        connection=connection, record_id=record.id, deal_id=deal.id,
        status=record.status, stage_id=stage.id, last_change=record.last_change,
    )  # fmt: skip
    return Outcome.CREATED


async def _update(connection: AltegioConnection, record: Record, synced: AltegioRecord) -> Outcome:
    assert synced.deal_id is not None
    amount = record.amount
    await update_deal(
        actor=None,
        deal_id=synced.deal_id,
        amount=amount,
        currency=connection.currency if amount is not None else None,
        close_date=record.local_date(connection.timezone),
    )
    await _book(connection, synced.deal_id, record)
    deal = await get_deal(deal_id=synced.deal_id)
    target = await _mapped(connection, record.status)
    moved = False
    if deal.stage_id != target and not await _closed_by_hand(deal.stage_id, synced):
        await move_deal(actor=None, deal_id=deal.id, stage_id=target)
        moved = True
    await AltegioRecord.filter(id=synced.id).update(
        status=record.status,
        stage_id=target if moved or deal.stage_id == target else synced.stage_id,
        last_change=record.last_change,
    )
    return Outcome.MOVED if moved else Outcome.UPDATED


async def _closed_by_hand(stage_id: int, synced: AltegioRecord) -> bool:
    """The deal is in Won or Lost, and not because the sync put it there."""
    if stage_id == synced.stage_id:
        return False
    return (await get_stage(stage_id=stage_id)).kind != StageKind.OPEN


async def _book(connection: AltegioConnection, deal_id: int, record: Record) -> None:
    await set_booking(
        actor=None,
        deal_id=deal_id,
        status=record.status,
        starts_at=record.starts_at,
        duration_minutes=record.duration_minutes,
        timezone=connection.timezone,
        services=record.services,
        staff=record.staff,
        source=SOURCE,
        external_id=f"{connection.company_id}:{record.id}",
    )


async def _mapped(connection: AltegioConnection, status: BookingStatus) -> int:
    mapping = await AltegioMapping.get_or_none(connection_id=connection.id, status=status)
    if mapping is None:
        raise ValidationFailed(f"status {status.value} is not mapped to a stage", field="mapping")
    return mapping.stage_id


async def _contact(connection: AltegioConnection, record: Record) -> Contact:
    """By Altegio client id, else by phone (E.164), else a new contact."""
    client = record.client
    if client is not None and client.id is not None:
        link = await AltegioClient.get_or_none(connection_id=connection.id, client_id=client.id)
        if link is not None:
            return await get_contact(contact_id=link.contact_id)
    phone = _phone(client)
    contact = await find_by_phone(phone) if phone else None
    if contact is None:
        contact = await _new_contact(client, phone, record)
    if client is not None and client.id is not None:
        await AltegioClient.create(
            connection=connection, client_id=client.id, contact_id=contact.id
        )
    return contact


async def _new_contact(client: Client | None, phone: str | None, record: Record) -> Contact:
    name = (client.name if client else "") or phone or f"Altegio client (record {record.id})"
    email = client.email if client else ""
    try:
        return await create_contact(actor=None, name=name, phone=phone, email=email or None)
    except ValidationFailed as exc:
        if exc.field != "email":
            raise
        return await create_contact(actor=None, name=name, phone=phone)


def _phone(client: Client | None) -> str | None:
    """The client's phone in E.164, or None when it has none that is valid."""
    if client is None or not client.phone:
        return None
    try:
        return normalize_phone(client.phone)
    except DomainError:
        return None


def _title(contact: Contact, record: Record) -> str:
    services = ", ".join(s["title"] for s in record.services)
    title = f"{contact.name}: {services}" if services else contact.name
    return title[:TITLE_LENGTH]
