"""Firing stage triggers when a deal enters a stage.

:func:`fire` is a consumer of the event dispatcher (``core.dispatch``): it gets
``deal.created`` and ``deal.stage_changed`` from the event table after their
transaction committed and runs the entered stage's active triggers in one transaction
of their own, each reading its config through its model (``triggers.service``), so
defaults hold for configs stored before a setting existed. Firing is idempotent per
event: a task is unique on (trigger, source event), an auto-message's send on the key
(trigger, source event), or (trigger, deal, booking start) for a reminder counting back
from a booking, both enforced by the database, and a deal source rule sets tags and
fields to where they already are.

The event table is the durable outbox: an event committed just before a crash is
dispatched by the next process, and one dispatched twice (a crash mid-dispatch)
changes nothing thanks to the idempotency above. A delayed auto-message is queued at
once with its due time (after the delay, moved into business hours); the outbox holds
it until then. Whether it is still wanted when due is this module's rule, not the
sender's: the send is queued for :data:`PURPOSE`, and :func:`_unwanted`, registered
with the inbox for it, drops it when the deal has left the stage or the booking moved.
"""

import logging
from datetime import datetime, timedelta
from typing import Any, TypedDict, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import DomainError, ValidationFailed
from core.events import EventBatch, change
from core.models import Event, User
from core.rota import next_operator
from funnels.deals import update_deal
from funnels.models import Booking, BookingStatus, Deal, Pipeline, Stage
from inbox.dialogs import queue, queued, window_open
from inbox.models import Author, Dialog, Message
from inbox.outgoing import register_check
from triggers import tasks
from triggers.facts import deal_facts, event_facts, tag_and_field_changes
from triggers.models import Task, Trigger, TriggerKind
from triggers.rules import evaluate, parse_rule
from triggers.schedule import within_hours
from triggers.service import (
    AutoMessageConfig,
    AutoTaskConfig,
    BusinessHours,
    DealSourceConfig,
    WhatsAppTemplate,
)
from triggers.templates import render

log = logging.getLogger(__name__)

#: The events that put a deal into a stage, and where their data names it.
ENTERS_STAGE = {"deal.created": "stage_id", "deal.stage_changed": "to_stage_id"}
#: A booking set or moved: reminders counting back from its start are planned again.
BOOKING_CHANGED = "deal.booking_changed"
#: What auto-message sends are queued for: :func:`_unwanted` decides when they are due.
PURPOSE = "stage_trigger"
LEFT_STAGE = "cancelled: the deal left the stage before the message was due"
BOOKING_MOVED = "cancelled: the booking moved or went before the reminder was due"
C = TypeVar("C", bound=BaseModel)


def _config(model: type[C], trigger: Trigger) -> C:
    """The trigger's stored config read through its model (defaults filled in); one that
    no longer validates fails this trigger alone, like a template that does not render."""
    try:
        return model.model_validate(trigger.config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"config.{first['loc'][0]}" if first["loc"] else "config"
        raise ValidationFailed(f"{where}: {first['msg']}", field=where) from None


def _counts_back(trigger: Trigger) -> bool:
    """Whether the trigger is an auto-message counting back from the deal's booking."""
    if trigger.kind != TriggerKind.AUTO_MESSAGE:
        return False
    try:
        return _config(AutoMessageConfig, trigger).before_booking_minutes is not None
    except ValidationFailed:
        return False  # it fails, with the reason, whenever the deal enters the stage


async def _stage_of_moved_booking(event: Event) -> int | None:
    """The deal's current stage, if the event changed its booking's start."""
    if "starts_at" not in ((event.data or {}).get("changes") or {}):
        return None
    stage_id = Deal.filter(id=event.deal_id).first().values_list("stage_id", flat=True)
    # tortoise's stubs type values_list(flat=True) as tuples
    return await stage_id  # type: ignore[return-value]


async def fire(event: Event) -> None:
    """Run the active triggers of the stage ``event`` put its deal in; when a booking's
    start moved, re-plan the deal's stage's reminders that count back from it."""
    if event.deal_id is None:
        return
    if event.kind == BOOKING_CHANGED:
        stage_id = await _stage_of_moved_booking(event)
    else:
        key = ENTERS_STAGE.get(event.kind)
        stage_id = (event.data or {}).get(key) if key else None
    if stage_id is None:
        return
    triggers = await Trigger.filter(stage_id=stage_id, is_active=True).order_by("position", "id")
    if event.kind == BOOKING_CHANGED:
        triggers = [t for t in triggers if _counts_back(t)]
    if not triggers:
        return
    async with change(None) as batch:
        deal = await Deal.filter(id=event.deal_id).select_for_update().first()
        if deal is None:
            return
        stage = await Stage.get(id=stage_id)
        pipeline = await Pipeline.get(id=stage.pipeline_id)
        facts = await deal_facts(deal) | {"event": event_facts(event)}
        for trigger in triggers:
            try:
                match trigger.kind:
                    case TriggerKind.AUTO_TASK if pipeline.auto_tasks_enabled:
                        await _auto_task(batch, trigger, deal, event, facts)
                    case TriggerKind.AUTO_MESSAGE if pipeline.auto_messages_enabled:
                        await _auto_message(batch, trigger, deal, event, facts)
                    case TriggerKind.DEAL_SOURCE:
                        await _deal_source(batch, trigger, deal, event, facts)
            except DomainError as exc:
                # a template that fails on this deal's data: the other triggers still run
                log.warning("trigger %s skipped for event %s: %s", trigger.id, event.id, exc)
                await batch.record(
                    "trigger.failed",
                    deal_id=deal.id,
                    trigger_id=trigger.id,
                    event_id=event.id,
                    error=exc.message,
                )


async def _auto_task(
    batch: EventBatch, trigger: Trigger, deal: Deal, event: Event, facts: dict[str, Any]
) -> None:
    config = _config(AutoTaskConfig, trigger)
    assignee_id = deal.owner_id
    if config.assignee == "round_robin":
        assignee_id = await _next_operator(trigger) or assignee_id
    elif isinstance(config.assignee, int):
        user = await User.get_or_none(id=config.assignee, is_active=True)
        if user is not None:
            assignee_id = user.id
        else:
            log.warning(
                "trigger %s: assignee %s is gone, giving the deal owner",
                trigger.id,
                config.assignee,
            )
    description = render(config.description, facts, field="config.description")
    title = render(config.title, facts, field="config.title").strip()[:255] or "Task"
    await tasks.create_task(
        actor=None,
        title=title,
        description=description,
        deal_id=deal.id,
        assignee_id=assignee_id,
        due_at=event.created_at + timedelta(minutes=config.due_in_minutes),
        trigger_id=trigger.id,
        source_event_id=event.id,
    )


async def _next_operator(trigger: Trigger) -> int | None:
    """The operator whose turn follows the one this trigger gave its last task to."""
    last = await Task.filter(trigger=trigger).order_by("-id").first()
    return await next_operator(last.assignee_id if last else None)


class _Send(TypedDict):
    """When and why an auto-message goes, whether as text or as a WhatsApp template."""

    not_before: datetime
    purpose: str
    key: str


async def _auto_message(
    batch: EventBatch, trigger: Trigger, deal: Deal, event: Event, facts: dict[str, Any]
) -> None:
    dialog_id = deal.dialog_id
    if dialog_id is None:
        return
    dialog = await Dialog.get_or_none(id=dialog_id).select_related("channel")
    if dialog is None:
        return
    config = _config(AutoMessageConfig, trigger)
    starts_at: datetime | None = None
    mark: dict[str, Any] = {"trigger_id": trigger.id}
    if config.before_booking_minutes is not None:
        # one reminder per booking start, whichever event planned it
        due, starts_at = await _before_booking(config.before_booking_minutes, deal, event)
        mark |= {"deal_id": deal.id, "booking_starts_at": starts_at.isoformat()}
        key = f"trigger:{trigger.id}:deal:{deal.id}:booking:{starts_at.isoformat()}"
    else:
        due = event.created_at + timedelta(minutes=config.delay_minutes)
        mark["event_id"] = event.id
        key = f"trigger:{trigger.id}:event:{event.id}"
    if await queued(key):
        return
    text = render(config.template, facts, field="config.template")
    if not text.strip():
        return
    if config.business_hours is not None:
        due = _in_hours(due, config.business_hours, starts_at)
    if config.only_in_stage:
        mark |= {"deal_id": deal.id, "only_in_stage": deal.stage_id}
    send = _Send(not_before=due, purpose=PURPOSE, key=key)
    if dialog.channel.kind == "whatsapp" and not window_open(dialog, at=due):
        spec = _template_instead(config.whatsapp_template, facts)
        await queue(
            batch, dialog=dialog, author=Author.BOT, text=spec["name"], kind="template",
            payload={"template": spec, **mark}, **send,
        )  # fmt: skip
        return
    await queue(batch, dialog=dialog, author=Author.BOT, text=text, payload=mark, **send)


async def _before_booking(minutes: int, deal: Deal, event: Event) -> tuple[datetime, datetime]:
    """When a reminder counting back ``minutes`` from the booking is due, and the
    booking's start (it goes in the mark, so the reminder is dropped if the booking
    moves before then)."""
    booking = await Booking.get_or_none(deal_id=deal.id)
    if booking is None:
        raise ValidationFailed(
            "the deal has no booking to count back from", field="config.before_booking_minutes"
        )
    if booking.starts_at <= event.created_at:
        raise ValidationFailed(
            "the booking has already started", field="config.before_booking_minutes"
        )
    due = max(booking.starts_at - timedelta(minutes=minutes), event.created_at)
    return due, booking.starts_at  # booked late: remind at once


def _in_hours(due: datetime, hours: BusinessHours, booking_starts_at: datetime | None) -> datetime:
    """``due`` moved into business hours, unless that would put a booking reminder after
    the booking itself: then it goes at the planned time."""
    moved = within_hours(due, start=hours.start, end=hours.end, timezone=hours.timezone)
    if booking_starts_at is not None and moved >= booking_starts_at:
        return due
    return moved


def _template_instead(spec: WhatsAppTemplate | None, facts: dict[str, Any]) -> dict[str, Any]:
    """WhatsApp allows only an approved template once 24 hours passed since the customer
    last wrote (the usual case for booking reminders): the trigger's, with its
    parameters rendered, if it has one."""
    if spec is None:
        raise ValidationFailed(
            "the WhatsApp 24-hour window is closed and the trigger has no approved template",
            field="config.whatsapp_template",
        )
    parameters = [
        render(source, facts, field=f"config.whatsapp_template.parameters.{i}")
        for i, source in enumerate(spec.parameters)
    ]
    return {"name": spec.name, "language": spec.language, "parameters": parameters}


async def _unwanted(message: Message) -> str | None:
    """Why an auto-message is no longer wanted now that it is due (its deal moved on to
    another stage, its booking moved or was cancelled), or None to send it. The sender
    asks through the inbox (registered below), so these rules stay with the triggers."""
    payload = message.payload or {}
    deal_id = payload.get("deal_id")
    if deal_id is None:
        return None
    stage_id = payload.get("only_in_stage")
    if stage_id is not None and not await Deal.filter(id=deal_id, stage_id=stage_id).exists():
        return LEFT_STAGE
    starts_at = payload.get("booking_starts_at")
    if (
        starts_at is not None
        and not await Booking.filter(deal_id=deal_id, starts_at=datetime.fromisoformat(starts_at))
        .exclude(status=BookingStatus.CANCELLED)
        .exists()
    ):
        return BOOKING_MOVED
    return None


register_check(PURPOSE, _unwanted)


async def _deal_source(
    batch: EventBatch, trigger: Trigger, deal: Deal, event: Event, facts: dict[str, Any]
) -> None:
    outcome = evaluate(parse_rule(_config(DealSourceConfig, trigger).rule), facts)
    if not outcome.matched:
        return
    changes = await tag_and_field_changes(
        deal,
        add_tags=outcome.add_tags,
        remove_tags=outcome.remove_tags,
        set_fields=outcome.set_fields,
        by=f"trigger {trigger.id}",
    )
    if changes:
        await update_deal(actor=None, deal_id=deal.id, **changes)
        await batch.record(
            "trigger.applied", deal_id=deal.id, trigger_id=trigger.id, event_id=event.id
        )
