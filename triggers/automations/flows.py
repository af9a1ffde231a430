"""Running deal automations on committed deal events (a consumer of ``core.dispatch``).

Each automation meets each event at most once: its run row is unique on (automation,
event) and commits together with the action's changes, so an event dispatched again after
a crash finds the run and does nothing. A failing action rolls back alone and is logged
as failed; the other automations still run.

Loops are cut two ways. Every change an automation makes records its events with a
``cause`` (``{"automation_id", "depth"}``): an automation never reacts to its own changes,
and a chain of automations reacting to each other stops at :data:`MAX_DEPTH`. Both cuts
are logged as runs, so a user can see why an automation did not fire.
"""

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import DomainError, ValidationFailed
from core.events import change
from core.models import Event
from funnels.deals import create_deal, move_deal, update_deal
from funnels.models import Deal, DealContact
from triggers.automations.models import Automation, AutomationEvent, AutomationRun, RunOutcome
from triggers.automations.service import STAGE_OF_EVENT, CreateDeal, UpdateDeal, parse_action
from triggers.facts import deal_facts, event_facts, tag_and_field_changes
from triggers.rules import parse_condition
from triggers.templates import render

log = logging.getLogger(__name__)

#: How many automations may react to each other's changes in a row.
MAX_DEPTH = 3
#: The event kinds automations react to.
AUTOMATION_EVENTS = frozenset(kind.value for kind in AutomationEvent)


async def automate(event: Event) -> None:
    """Run the active automations of ``event``'s kind, oldest first."""
    if event.deal_id is None or event.kind not in AUTOMATION_EVENTS:
        return
    automations = await Automation.filter(event=event.kind, is_active=True).order_by("id")
    for automation in automations:
        await _run(automation, event)


async def _run(automation: Automation, event: Event) -> None:
    if await AutomationRun.filter(automation=automation, event_id=event.id).exists():
        return
    deal = await Deal.get_or_none(id=event.deal_id)
    if deal is None or not _in_scope(automation, deal, event):
        return
    cause = (event.data or {}).get("cause") or {}
    depth = int(cause.get("depth", 0))
    run = {"automation": automation, "event_id": event.id, "deal_id": deal.id, "depth": depth}
    if cut := _loop_cut(automation, cause, depth):
        await AutomationRun.create(outcome=cut[0], detail=cut[1], **run)
        return
    facts = await deal_facts(deal) | {"event": event_facts(event)}
    condition = automation.condition
    if condition is not None and not parse_condition(condition).matches(facts):
        await AutomationRun.create(outcome=RunOutcome.CONDITION_FALSE, **run)
        return
    try:
        async with change(None, cause={"automation_id": automation.id, "depth": depth + 1}):
            result = await _act(parse_action(automation.action), deal, facts, automation)
            await AutomationRun.create(outcome=RunOutcome.APPLIED, result_deal_id=result, **run)
    except DomainError as exc:  # rolled back alone; the other automations still run
        log.warning("automation %s failed on event %s: %s", automation.id, event.id, exc)
        await AutomationRun.create(
            outcome=RunOutcome.FAILED, detail=f"{exc.field}: {exc.message}", **run
        )


def _loop_cut(
    automation: Automation, cause: dict[str, Any], depth: int
) -> tuple[RunOutcome, str] | None:
    """Why the automation must not react to this event, if it must not."""
    if cause.get("automation_id") == automation.id:
        return RunOutcome.OWN_CHANGE, "the event is this automation's own change"
    if depth >= MAX_DEPTH:
        log.warning("automation %s cut at depth %s", automation.id, depth)
        return RunOutcome.DEPTH_LIMIT, f"{depth} automations in a row already changed this deal"
    return None


def _in_scope(automation: Automation, deal: Deal, event: Event) -> bool:
    """The pipeline and stage filters: the deal's pipeline now, the stage the event names."""
    pipeline_id = automation.pipeline_id
    if pipeline_id is not None and deal.pipeline_id != pipeline_id:
        return False
    stage_id = automation.stage_id
    key = STAGE_OF_EVENT.get(automation.event)
    return stage_id is None or (key is not None and (event.data or {}).get(key) == stage_id)


async def _act(
    action: CreateDeal | UpdateDeal, deal: Deal, facts: dict[str, Any], automation: Automation
) -> int:
    """Do the action inside the open change; returns the id of the deal made or changed."""
    if isinstance(action, CreateDeal):
        return await _create(action, deal, facts, automation)
    await _update(action, deal, facts, automation)
    return deal.id


async def _create(
    action: CreateDeal, deal: Deal, facts: dict[str, Any], automation: Automation
) -> int:
    links = DealContact.filter(deal=deal).order_by("position")
    # tortoise's stubs type values_list(flat=True) as tuples
    contact_ids: list[int] = await links.values_list("contact_id", flat=True)  # type: ignore[assignment]
    owner = deal.owner_id if action.owner == "deal_owner" else action.owner
    new = await create_deal(
        actor=None,
        contact_ids=contact_ids,
        pipeline_id=action.pipeline_id,
        stage_id=action.stage_id,
        owner_id=owner,
        title=render(action.title, facts, field="action.title"),
        dialog_id=deal.dialog_id if action.link_dialog else None,
        **_money(action, facts),
    )
    if action.tags:
        changes = await tag_and_field_changes(
            new, add_tags=action.tags, remove_tags=[], set_fields={}, by=_by(automation)
        )
        await update_deal(actor=None, deal_id=new.id, **changes)
    return new.id


async def _update(
    action: UpdateDeal, deal: Deal, facts: dict[str, Any], automation: Automation
) -> None:
    values: dict[str, Any] = _money(action, facts)
    if action.title is not None:
        values["title"] = render(action.title, facts, field="action.title")
    if action.owner_id is not None:
        values["owner_id"] = action.owner_id
    fields = {
        name: render(source, facts, field=f"action.fields.{name}")
        for name, source in action.fields.items()
    }
    values |= await tag_and_field_changes(
        deal,
        add_tags=action.add_tags,
        remove_tags=action.remove_tags,
        set_fields=fields,
        by=_by(automation),
    )
    if values:
        await update_deal(actor=None, deal_id=deal.id, **values)
    if action.stage_id is not None:
        await move_deal(actor=None, deal_id=deal.id, stage_id=action.stage_id)


def _money(action: CreateDeal | UpdateDeal, facts: dict[str, Any]) -> dict[str, Any]:
    """Amount and currency rendered from their templates; blank means none."""
    values: dict[str, Any] = {}
    if action.amount is not None:
        text = render(action.amount, facts, field="action.amount").strip()
        try:
            values["amount"] = Decimal(text) if text else None
        except InvalidOperation:
            raise ValidationFailed(
                f"the amount rendered as {text[:40]!r}, not a number", field="action.amount"
            ) from None
    if action.currency is not None:
        text = render(action.currency, facts, field="action.currency").strip()
        values["currency"] = text or None
    return values


def _by(automation: Automation) -> str:
    return f"automation {automation.id}"
