"""Deals: the only code that writes ``Deal``, ``DealContact``, tags and custom field values.

Each public function is one action: it validates, writes in one transaction, and
records the domain events that make the deal's timeline and drive the automations.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry

from core.db import insert_all
from core.errors import Conflict, NotFound, ValidationFailed
from core.events import UNSET, EventBatch, Unset, change, diff
from core.models import User
from funnels.catalog import get_lost_reason
from funnels.models import (
    CustomField,
    Deal,
    DealContact,
    DealFieldValue,
    FieldKind,
    Stage,
    StageKind,
    Tag,
)
from funnels.pipelines import get_stage
from inbox.models import Contact, Dialog

MAX_AMOUNT = Decimal("9999999999999999.99")


async def get_deal(*, deal_id: int, for_update: bool = False) -> Deal:
    """A deal by id, or :class:`NotFound`; ``for_update`` locks the row until commit."""
    query = Deal.filter(id=deal_id)
    if for_update:
        query = query.select_for_update()
    deal = await query.first()
    if deal is None:
        raise NotFound(f"deal {deal_id} does not exist", field="deal_id")
    return deal


async def create_deal(
    *,
    actor: User | None,
    contact_ids: list[int],
    pipeline_id: int,
    stage_id: int | None = None,
    owner_id: int | None = None,
    title: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    close_date: date | None = None,
    reference: str | None = None,
    lost_reason_id: int | None = None,
    fields: dict[int, Any] | None = None,
    tag_ids: list[int] | None = None,
    dialog_id: int | None = None,
) -> Deal:
    """Open a deal. The title defaults to the first contact's name, the stage to the
    pipeline's first one, the owner to the acting user."""
    contacts = await _contacts(contact_ids)
    stage = await _stage_in_pipeline(pipeline_id, stage_id)
    owner = await _owner(owner_id if owner_id is not None else (actor.id if actor else None))
    values = _money(amount, currency)
    async with change(actor) as batch:
        deal = await Deal.create(
            title=_title(title if title is not None else contacts[0].name),
            pipeline_id=stage.pipeline_id,
            stage=stage,
            owner=owner,
            close_date=_closing_date(close_date, stage),
            reference=_reference(reference),
            lost_reason_id=await _lost_reason(lost_reason_id, stage),
            dialog_id=dialog_id,
            **values,
        )
        field_changes = await _set_fields(deal, fields or {})
        tag_change = await _set_tags(deal, tag_ids or [])
        await batch.record(
            "deal.created",
            deal_id=deal.id,
            **_snapshot(deal),
            fields={name: change["to"] for name, change in field_changes.items()},
            tags=tag_change.get("to", []),
        )
        for position, contact in enumerate(contacts):
            await DealContact.create(deal=deal, contact=contact, position=position)
            await _contact_event(batch, "deal.contact_added", deal, contact)
    return deal


async def deal_for_dialog(
    *, actor: User | None, dialog: Dialog, pipeline_id: int, stage_id: int, owner_id: int
) -> Deal | None:
    """Open a deal for a dialog's new message unless one is open already.

    The first message of a dialog opens a deal in the given (channel's) stage; later messages
    join it while it is open; a message after it was won or lost opens a new one.
    Returns the new deal, or ``None`` when the open one was kept.
    """
    opened = await deals_for_dialogs(
        actor=actor, dialogs=[dialog], pipeline_id=pipeline_id, stage_id=stage_id,
        owner_id=owner_id,
    )  # fmt: skip
    return opened[0] if opened else None


async def deals_for_dialogs(
    *,
    actor: User | None,
    dialogs: Sequence[Dialog],
    pipeline_id: int,
    stage_id: int,
    owner_id: int,
) -> list[Deal]:
    """:func:`deal_for_dialog` for many dialogs at once (the webhook intake's batch), one
    statement per table: a deal titled after its dialog's contact, with that contact,
    for each dialog that has no open deal. Returns the deals opened, in order."""
    unique = {dialog.id: dialog for dialog in dialogs}
    if not unique:
        return []
    has_deal = await with_open_deal(dialog_ids=list(unique))
    todo = [dialog for dialog in unique.values() if dialog.id not in has_deal]
    if not todo:
        return []
    contacts = await _contacts([dialog.contact_id for dialog in todo])
    by_id = {contact.id: contact for contact in contacts}
    stage = await _stage_in_pipeline(pipeline_id, stage_id)
    owner = await _owner(owner_id)
    deals = [_of_dialog(dialog, by_id[dialog.contact_id], stage, owner) for dialog in todo]
    links = [(deal, by_id[dialog.contact_id]) for deal, dialog in zip(deals, todo, strict=True)]
    async with change(actor) as batch:
        await insert_all(deals)
        created = [
            {"deal_id": deal.id, **_snapshot(deal), "fields": {}, "tags": []} for deal in deals
        ]
        await batch.record_all("deal.created", created)
        await insert_all(
            [DealContact(deal=deal, contact=contact, position=0) for deal, contact in links]
        )
        await batch.record_all(
            "deal.contact_added", [_contact_data(deal, contact) for deal, contact in links]
        )
    return deals


def _of_dialog(dialog: Dialog, contact: Contact, stage: Stage, owner: User) -> Deal:
    """A dialog's new deal, as :func:`create_deal` makes one with only the contact given."""
    return Deal(
        title=_title(contact.name), pipeline_id=stage.pipeline_id, stage=stage, owner=owner,
        close_date=_closing_date(None, stage), dialog_id=dialog.id,
    )  # fmt: skip


async def with_open_deal(*, dialog_ids: Sequence[int]) -> set[int]:
    """Those of the dialogs that have an open deal, which a new message joins."""
    query = Deal.filter(dialog_id__in=list(dialog_ids), stage__kind=StageKind.OPEN)
    # tortoise's stubs type values_list(flat=True) as tuples
    found: list[int] = await query.values_list("dialog_id", flat=True)  # type: ignore[assignment]
    return set(found)


async def update_deal(
    *,
    actor: User | None,
    deal_id: int,
    title: str | Unset | None = UNSET,
    amount: Decimal | Unset | None = UNSET,
    currency: str | Unset | None = UNSET,
    close_date: date | Unset | None = UNSET,
    reference: str | Unset | None = UNSET,
    owner_id: int | Unset | None = UNSET,
    fields: dict[int, Any] | Unset | None = UNSET,
    tag_ids: list[int] | Unset | None = UNSET,
) -> Deal:
    """Change a deal's fields; only the given ones are touched.

    One call is one ``deal.updated`` event carrying every change (``changes`` for plain
    fields, ``fields`` for custom fields, ``tags``), so an automation on "deal updated"
    runs once per edit and the timeline shows one edit as one entry.
    """
    async with change(actor) as batch:
        deal = await get_deal(deal_id=deal_id, for_update=True)
        values: dict[str, Any] = {}
        if title is not UNSET:
            values["title"] = _title(title)
        if amount is not UNSET or currency is not UNSET:
            values.update(
                _money(
                    deal.amount if amount is UNSET else amount,
                    deal.currency if currency is UNSET else currency,
                )
            )
        if close_date is not UNSET:
            values["close_date"] = close_date
        if reference is not UNSET:
            values["reference"] = _reference(reference)
        if owner_id is not UNSET:
            values["owner_id"] = (await _owner(owner_id)).id
        edits = {
            "changes": diff(deal, values),
            "fields": {} if fields is UNSET else await _set_fields(deal, fields or {}),
            "tags": {} if tag_ids is UNSET else await _set_tags(deal, tag_ids or []),
        }
        if edits["changes"]:
            await deal.update_from_dict(values).save()
        if edits := {key: value for key, value in edits.items() if value}:
            await batch.record("deal.updated", deal_id=deal.id, **edits)
    return deal


async def move_deal(
    *, actor: User | None, deal_id: int, stage_id: int, lost_reason_id: int | None = None
) -> Deal:
    """Put a deal in another stage, possibly of another pipeline.

    Won and Lost fill an empty close date with today; Lost takes an optional reason,
    which is cleared when the deal leaves Lost.
    """
    async with change(actor) as batch:
        deal = await get_deal(deal_id=deal_id, for_update=True)
        stage = await get_stage(stage_id=stage_id)
        reason_id = await _lost_reason(lost_reason_id, stage)
        old_stage = await get_stage(stage_id=deal.stage_id)
        if old_stage.id == stage.id and reason_id == deal.lost_reason_id:
            return deal
        values = {
            "pipeline_id": stage.pipeline_id,
            "stage_id": stage.id,
            "lost_reason_id": reason_id,
            "close_date": _closing_date(deal.close_date, stage),
        }
        changes = diff(deal, {k: values[k] for k in ("close_date", "lost_reason_id")})
        if old_stage.id != stage.id:
            values["stage_changed_at"] = datetime.now(UTC)
        await deal.update_from_dict(values).save()
        if old_stage.id != stage.id:
            await batch.record(
                "deal.stage_changed",
                deal_id=deal.id,
                from_pipeline_id=old_stage.pipeline_id,
                to_pipeline_id=stage.pipeline_id,
                from_stage_id=old_stage.id,
                from_stage=old_stage.name,
                to_stage_id=stage.id,
                to_stage=stage.name,
                to_kind=stage.kind.value,
                probability=stage.probability,
            )
        if changes:
            await batch.record("deal.updated", deal_id=deal.id, changes=changes)
    return deal


async def edit_deal(
    *,
    actor: User | None,
    deal_id: int,
    stage_id: int,
    lost_reason_id: int | None = None,
    **changes: Any,
) -> Deal:
    """Edit a deal's fields (:func:`update_deal`'s keywords) and put it in ``stage_id``,
    all or nothing: the deal page saves its whole form at once, and a value refused there
    must leave the deal as it was, not half saved."""
    async with change(actor):
        await update_deal(actor=actor, deal_id=deal_id, **changes)
        return await move_deal(
            actor=actor, deal_id=deal_id, stage_id=stage_id, lost_reason_id=lost_reason_id
        )


async def add_contact(*, actor: User | None, deal_id: int, contact_id: int) -> Deal:
    """Link one more contact to a deal (idempotent)."""
    async with change(actor) as batch:
        deal = await get_deal(deal_id=deal_id, for_update=True)
        contact = (await _contacts([contact_id]))[0]
        if not await DealContact.filter(deal=deal, contact=contact).exists():
            position = await DealContact.filter(deal=deal).count()
            await DealContact.create(deal=deal, contact=contact, position=position)
            await _contact_event(batch, "deal.contact_added", deal, contact)
    return deal


async def remove_contact(*, actor: User | None, deal_id: int, contact_id: int) -> Deal:
    """Unlink a contact; a deal keeps at least one."""
    async with change(actor) as batch:
        deal = await get_deal(deal_id=deal_id, for_update=True)
        link = await DealContact.get_or_none(deal=deal, contact_id=contact_id).select_related(
            "contact"
        )
        if link is None:
            raise NotFound(f"contact {contact_id} is not on deal {deal_id}", field="contact_id")
        if await DealContact.filter(deal=deal).count() == 1:
            raise Conflict("a deal needs at least one contact", field="contact_id")
        await link.delete()
        await _contact_event(batch, "deal.contact_removed", deal, link.contact)
    return deal


async def clone_deal(*, actor: User | None, deal_id: int) -> Deal:
    """A new deal with the same fields, contacts, tags and custom values."""
    deal = await get_deal(deal_id=deal_id)
    links = await DealContact.filter(deal=deal).order_by("position")
    values = await DealFieldValue.filter(deal=deal)
    return await create_deal(
        actor=actor,
        contact_ids=[link.contact_id for link in links],
        pipeline_id=deal.pipeline_id,
        stage_id=deal.stage_id,
        owner_id=deal.owner_id,
        title=deal.title,
        amount=deal.amount,
        currency=deal.currency,
        close_date=deal.close_date,
        reference=deal.reference,
        lost_reason_id=deal.lost_reason_id,
        fields={v.field_id: v.value_text or v.value_date for v in values},
        tag_ids=[tag.id for tag in await deal.tags.all()],
    )


async def delete_deals(*, actor: User | None, deal_ids: list[int]) -> None:
    """Delete deals, all or nothing: one unknown id and none is deleted."""
    wanted = list(dict.fromkeys(deal_ids))
    if not wanted:
        raise ValidationFailed("give at least one deal id", field="ids")
    async with change(actor) as batch:
        deals = await Deal.filter(id__in=wanted).select_for_update()
        missing = sorted(set(wanted) - {d.id for d in deals})
        if missing:
            raise NotFound(f"deals {missing} do not exist", field="ids")
        for deal in deals:
            await batch.record("deal.deleted", deal_id=deal.id, title=deal.title)
        await Deal.filter(id__in=wanted).delete()


async def _contacts(contact_ids: list[int]) -> list[Contact]:
    ids = list(dict.fromkeys(contact_ids))
    if not ids:
        raise ValidationFailed("a deal needs at least one contact", field="contact_ids")
    found = {c.id: c for c in await Contact.filter(id__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"contacts {missing} do not exist", field="contact_ids")
    return [found[i] for i in ids]


async def _stage_in_pipeline(pipeline_id: int, stage_id: int | None) -> Stage:
    stages = await Stage.filter(pipeline_id=pipeline_id).order_by("position", "id")
    if not stages:
        raise NotFound(f"pipeline {pipeline_id} does not exist", field="pipeline_id")
    if stage_id is None:
        return stages[0]
    for stage in stages:
        if stage.id == stage_id:
            return stage
    raise ValidationFailed(
        f"stage {stage_id} is not a stage of pipeline {pipeline_id}", field="stage_id"
    )


async def _owner(owner_id: int | None) -> User:
    if owner_id is None:
        raise ValidationFailed("a deal needs an owner", field="owner_id")
    owner = await User.get_or_none(id=owner_id, is_active=True)
    if owner is None:
        raise NotFound(f"user {owner_id} does not exist", field="owner_id")
    return owner


async def _lost_reason(reason_id: int | None, stage: Stage) -> int | None:
    if reason_id is None:
        return None
    if stage.kind != StageKind.LOST:
        raise ValidationFailed(
            "a lost reason goes only with the Lost stage", field="lost_reason_id"
        )
    return (await get_lost_reason(reason_id=reason_id)).id


def _title(title: str | None) -> str:
    if title is None or not title.strip():
        raise ValidationFailed("title must not be empty", field="title")
    if len(title.strip()) > 255:
        raise ValidationFailed("title is longer than 255 characters", field="title")
    return title.strip()


def _reference(reference: str | None) -> str | None:
    if reference is not None and len(reference) > 255:
        raise ValidationFailed("reference is longer than 255 characters", field="reference")
    return reference or None


def _money(amount: Decimal | None, currency: str | None) -> dict[str, Any]:
    """Validated amount and ISO 4217 currency; an amount without a currency is meaningless."""
    if amount is not None:
        try:
            amount = Decimal(amount)
        except (InvalidOperation, TypeError, ValueError):
            raise ValidationFailed("amount must be a decimal number", field="amount") from None
        if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
            raise ValidationFailed(f"amount must be between 0 and {MAX_AMOUNT}", field="amount")
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationFailed("amount has at most 2 decimal places", field="amount")
        amount = amount.quantize(Decimal("0.01"))
    if currency is not None:
        currency = currency.upper()
        if pycountry.currencies.get(alpha_3=currency) is None:
            raise ValidationFailed(f"{currency!r} is not an ISO 4217 code", field="currency")
    elif amount is not None:
        raise ValidationFailed("currency is required with an amount", field="currency")
    return {"amount": amount, "currency": currency}


def _closing_date(close_date: date | None, stage: Stage) -> date | None:
    """Won and Lost close the deal: the close date becomes today unless one was set."""
    if close_date is None and stage.kind != StageKind.OPEN:
        return datetime.now(UTC).date()
    return close_date


def _snapshot(deal: Deal) -> dict[str, Any]:
    return {
        "title": deal.title,
        "pipeline_id": deal.pipeline_id,
        "stage_id": deal.stage_id,
        "owner_id": deal.owner_id,
        "amount": deal.amount,
        "currency": deal.currency,
        "close_date": deal.close_date,
        "reference": deal.reference,
    }


async def _contact_event(batch: EventBatch, kind: str, deal: Deal, contact: Contact) -> None:
    await batch.record(kind, **_contact_data(deal, contact))


def _contact_data(deal: Deal, contact: Contact) -> dict[str, Any]:
    return {
        "deal_id": deal.id, "contact_id": contact.id, "contact": contact.name,
        "phone": contact.phone,
    }  # fmt: skip


async def _set_fields(deal: Deal, values: dict[int, Any]) -> dict[str, dict[str, Any]]:
    """Upsert custom field values (``None`` or an empty string clears a field); returns
    ``{field name: {"from": old, "to": new}}`` for the caller's event."""
    if not values:
        return {}
    defined = {f.id: f for f in await CustomField.filter(id__in=list(values))}
    current = {v.field_id: v for v in await DealFieldValue.filter(deal=deal)}
    changes: dict[str, dict[str, Any]] = {}
    for field_id, raw in values.items():
        field = defined.get(field_id)
        if field is None:
            raise NotFound(f"custom field {field_id} does not exist", field=f"fields.{field_id}")
        new = _field_value(field, raw)
        row = current.get(field_id)
        old = (row.value_date if field.kind == FieldKind.DATE else row.value_text) if row else None
        if old == new:
            continue
        changes[field.name] = {"from": old, "to": new}
        if new is None and row is not None:
            await row.delete()
        elif new is not None:
            column = "value_date" if field.kind == FieldKind.DATE else "value_text"
            if row is None:
                value: dict[str, Any] = {column: new}
                await DealFieldValue.create(deal=deal, field=field, **value)
            else:
                setattr(row, column, new)
                await row.save(update_fields=[column])
    return changes


def _field_value(field: CustomField, raw: Any) -> str | date | None:
    if raw is None or raw == "":
        return None
    if field.kind == FieldKind.DATE:
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            raise ValidationFailed(
                f"{field.name} takes a date like 2026-01-31", field=f"fields.{field.id}"
            ) from None
    if not isinstance(raw, str):
        raise ValidationFailed(f"{field.name} takes text", field=f"fields.{field.id}")
    return raw


async def _set_tags(deal: Deal, tag_ids: list[int]) -> dict[str, list[str]]:
    """Make the deal's tags exactly ``tag_ids``; returns ``{"from": names, "to": names}``
    when that changed them, for the caller's event."""
    wanted = list(dict.fromkeys(tag_ids))
    tags = await Tag.filter(id__in=wanted)
    missing = sorted(set(wanted) - {t.id for t in tags})
    if missing:
        raise NotFound(f"tags {missing} do not exist", field="tag_ids")
    before = sorted(t.name for t in await deal.tags.all())
    await deal.tags.clear()
    if tags:
        await deal.tags.add(*tags)
    after = sorted(t.name for t in tags)
    return {"from": before, "to": after} if before != after else {}
