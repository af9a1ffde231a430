"""Firing stage triggers when a deal enters a stage.

:func:`fire` is a consumer of the event dispatcher (``core.dispatch``): it gets
``deal.created`` and ``deal.stage_changed`` from the event table after their
transaction committed and runs the entered stage's active triggers in one transaction
of their own. Firing is idempotent per
event: a task is unique on (trigger, source event), an auto-message carries
``{"trigger_id": ..., "event_id": ...}`` as its payload and is not queued twice, and a deal
source rule sets tags and fields to where they already are.

The event table is the durable outbox: an event committed just before a crash is
dispatched by the next process, and one dispatched twice (a crash mid-dispatch)
changes nothing thanks to the idempotency above. A delayed auto-message is queued at
once with its due time (after the delay, moved into business hours); the outbox holds
it until then, and drops it if the deal has left the stage by then.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from core.errors import DomainError, ValidationFailed
from core.events import EventBatch, change
from core.models import Event, Role, User
from funnels.deals import update_deal
from funnels.models import Booking, Deal, Pipeline, Stage
from inbox.dialogs import queue, window_open
from inbox.models import Author, Dialog, Direction, Message
from triggers import tasks
from triggers.models import Task, Trigger, TriggerKind
from triggers.rules import evaluate, parse_rule
from triggers.schedule import within_hours
from triggers.service import deal_facts, event_facts, tag_and_field_changes
from triggers.templates import render

log = logging.getLogger(__name__)

#: The events that put a deal into a stage, and where their data names it.
ENTERS_STAGE = {"deal.created": "stage_id", "deal.stage_changed": "to_stage_id"}
#: A booking set or moved: reminders counting back from its start are planned again.
BOOKING_CHANGED = "deal.booking_changed"


async def _stage_of_moved_booking(event: Event) -> int | None:
    """The deal's current stage, if the event changed its booking's start."""
    if "starts_at" not in ((event.data or {}).get("changes") or {}):
        return None
    return await Deal.filter(id=event.deal_id).first().values_list("stage_id", flat=True)


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
        triggers = [t for t in triggers if t.config.get("before_booking_minutes") is not None]
    if not triggers:
        return
    async with change(None) as batch:
        deal = await Deal.filter(id=event.deal_id).select_for_update().first()
        if deal is None:
            return
        stage = await Stage.get(id=stage_id)
        pipeline = await Pipeline.get(id=stage.pipeline_id)  # type: ignore[attr-defined]
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
    config = trigger.config
    assignee_id = deal.owner_id  # type: ignore[attr-defined]
    if config.get("assignee") == "round_robin":
        assignee_id = await _next_operator(trigger) or assignee_id
    elif isinstance(config.get("assignee"), int):
        user = await User.get_or_none(id=config["assignee"], is_active=True)
        if user is not None:
            assignee_id = user.id
        else:
            log.warning(
                "trigger %s: assignee %s is gone, giving the deal owner",
                trigger.id,
                config["assignee"],
            )
    description = render(config.get("description", ""), facts, field="config.description")
    title = render(config["title"], facts, field="config.title").strip()[:255] or "Task"
    await tasks.create_task(
        actor=None,
        title=title,
        description=description,
        deal_id=deal.id,
        assignee_id=assignee_id,
        due_at=event.created_at + timedelta(minutes=config.get("due_in_minutes", 0)),
        trigger_id=trigger.id,
        source_event_id=event.id,
    )


async def _next_operator(trigger: Trigger) -> int | None:
    """The active operator after the one this trigger gave its last task to (by id, wrapping)."""
    operators = (
        await User.filter(role=Role.OPERATOR, is_active=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not operators:
        return None
    last = await Task.filter(trigger=trigger).order_by("-id").first()
    previous = last.assignee_id if last else None  # type: ignore[attr-defined]
    later = [op for op in operators if previous is not None and op > previous]
    return later[0] if later else operators[0]


async def _auto_message(
    batch: EventBatch, trigger: Trigger, deal: Deal, event: Event, facts: dict[str, Any]
) -> None:
    dialog_id = deal.dialog_id  # type: ignore[attr-defined]
    if dialog_id is None:
        return
    dialog = await Dialog.get_or_none(id=dialog_id).select_related("channel")
    if dialog is None:
        return
    config = trigger.config
    if config.get("before_booking_minutes") is not None:
        due, mark = await _before_booking(trigger, deal, event)
        since = None  # one reminder per booking start, whichever event planned it
    else:
        due = event.created_at + timedelta(minutes=config.get("delay_minutes", 0))
        mark, since = {"trigger_id": trigger.id, "event_id": event.id}, event.created_at
    if await _queued_already(dialog, mark, since):
        return
    text = render(config["template"], facts, field="config.template")
    if not text.strip():
        return
    if hours := config.get("business_hours"):
        due = _in_hours(due, hours, mark.get("booking_starts_at"))
    if config.get("only_in_stage", True):
        mark |= {"deal_id": deal.id, "only_in_stage": deal.stage_id}  # type: ignore[attr-defined]
    if dialog.channel.kind == "whatsapp" and not window_open(dialog, at=due):
        await _template_instead(batch, trigger, dialog, facts, mark, due)
        return
    await queue(batch, dialog=dialog, author=Author.BOT, text=text, payload=mark, not_before=due)


async def _before_booking(
    trigger: Trigger, deal: Deal, event: Event
) -> tuple[datetime, dict[str, Any]]:
    """When a reminder counting back from the booking is due, and its mark: the booking's
    start goes in, so the outbox drops it if the booking moves before then."""
    booking = await Booking.get_or_none(deal_id=deal.id)
    if booking is None:
        raise ValidationFailed(
            "the deal has no booking to count back from", field="config.before_booking_minutes"
        )
    if booking.starts_at <= event.created_at:
        raise ValidationFailed(
            "the booking has already started", field="config.before_booking_minutes"
        )
    lead = timedelta(minutes=trigger.config["before_booking_minutes"])
    due = max(booking.starts_at - lead, event.created_at)  # booked late: remind at once
    mark = {
        "trigger_id": trigger.id,
        "deal_id": deal.id,
        "booking_starts_at": booking.starts_at.isoformat(),
    }
    return due, mark


async def _queued_already(dialog: Dialog, mark: dict[str, Any], since: datetime | None) -> bool:
    """Whether a bot message with this mark exists (the same event, or the same booking
    start, dispatched again)."""
    query = Message.filter(dialog_id=dialog.id, direction=Direction.OUT, author=Author.BOT)
    if since is not None:
        query = query.filter(created_at__gte=since)
    payloads = await query.values_list("payload", flat=True)
    return any(
        isinstance(p, dict) and all(p.get(k) == v for k, v in mark.items()) for p in payloads
    )


def _in_hours(due: datetime, hours: dict[str, Any], booking_starts_at: str | None) -> datetime:
    """``due`` moved into business hours, unless that would put a booking reminder after
    the booking itself: then it goes at the planned time."""
    moved = within_hours(due, **hours)
    if booking_starts_at is not None and moved >= datetime.fromisoformat(booking_starts_at):
        return due
    return moved


async def _template_instead(
    batch: EventBatch,
    trigger: Trigger,
    dialog: Dialog,
    facts: dict[str, Any],
    mark: dict[str, Any],
    due: datetime,
) -> None:
    """WhatsApp allows only an approved template once 24 hours passed since the customer
    last wrote (the usual case for booking reminders): send the trigger's, if it has one."""
    spec = trigger.config.get("whatsapp_template")
    if not spec:
        raise ValidationFailed(
            "the WhatsApp 24-hour window is closed and the trigger has no approved template",
            field="config.whatsapp_template",
        )
    parameters = [
        render(source, facts, field=f"config.whatsapp_template.parameters.{i}")
        for i, source in enumerate(spec.get("parameters", []))
    ]
    template = {"name": spec["name"], "language": spec["language"], "parameters": parameters}
    await queue(
        batch, dialog=dialog, author=Author.BOT, text=spec["name"], kind="template",
        payload={"template": template, **mark}, not_before=due,
    )  # fmt: skip


async def _deal_source(
    batch: EventBatch, trigger: Trigger, deal: Deal, event: Event, facts: dict[str, Any]
) -> None:
    outcome = evaluate(parse_rule(trigger.config["rule"]), facts)
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
