"""Parked items, seen and put back: deliveries, events, sends and Conversions API events.

Each queue parks a bad item with its reason (``core.queue.Park``) rather than dropping
it. This module lists them across the four queues and puts them back in their queue when
a person says so (the API for owners and admins, ``funnelbox parked``); ``/healthz``
counts them. An item is named ``<kind>:<id>`` (``delivery:12``), ids being per table.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.conversions import conversion_queue
from bot.models import InboundDelivery
from bot.outbox import outbox_queue
from core.errors import NotFound, ValidationFailed
from core.events import change
from core.models import Event, User
from core.queue import POLICIES, Queue
from core.queue_row import QueueRow
from inbox.models import Outbox
from triggers.conversions.models import Conversion


@dataclass
class Parked:
    """One parked item: what it is, why it was parked, and what it carries."""

    ref: str
    kind: str
    id: int
    error: str | None
    attempts: int
    parked_at: datetime | None
    detail: dict[str, Any]


def _delivery(row: InboundDelivery) -> dict[str, Any]:
    return {"channel_id": row.channel_id, "type": row.kind.value, "key": row.key,
            "payload": row.payload}  # fmt: skip


def _event(row: Event) -> dict[str, Any]:
    return {"type": row.kind, "deal_id": row.deal_id, "data": row.data}


def _send(row: Outbox) -> dict[str, Any]:
    return {"message_id": row.message_id, "dialog_id": row.dialog_id, "purpose": row.purpose}


def _conversion(row: Conversion) -> dict[str, Any]:
    return {"event_name": row.event_name, "event_id": row.event_id, "deal_id": row.deal_id}


#: Each kind of parked item: its queue and what of a row a person needs to see.
KINDS: Mapping[str, tuple[Callable[[], Queue[Any]], Callable[[Any], dict[str, Any]]]] = {
    "delivery": (lambda: Queue(InboundDelivery, POLICIES["intake"]), _delivery),
    "event": (lambda: Queue(Event, POLICIES["events"]), _event),
    "send": (outbox_queue, _send),
    "conversion": (conversion_queue, _conversion),
}


def _item(kind: str, row: QueueRow) -> Parked:
    return Parked(
        ref=f"{kind}:{row.pk}", kind=kind, id=row.pk, error=row.last_error,
        attempts=row.attempts, parked_at=row.parked_at, detail=KINDS[kind][1](row),
    )  # fmt: skip


async def list_parked(*, kind: str | None = None, limit: int = 100) -> list[Parked]:
    """Parked items, oldest first per kind (each kind's first ``limit``)."""
    kinds = [_kind(kind)] if kind else list(KINDS)
    items: list[Parked] = []
    for name in kinds:
        items += [_item(name, row) for row in await KINDS[name][0]().parked(limit=limit)]
    return items


async def count_parked() -> dict[str, int]:
    """How many items of each kind are parked."""
    return {name: await make().count_parked() for name, (make, _) in KINDS.items()}


async def retry_parked(*, actor: User | None, refs: list[str] | None = None) -> list[str]:
    """Put the parked items ``refs`` (None: every parked item) back in their queues, due
    now with a fresh attempt count; returns the refs requeued. Named items that are not
    parked are refused (404) and nothing is requeued. One ``parked.retried`` event."""
    wanted = _parse(refs) if refs is not None else None
    async with change(actor) as batch:
        retried: list[str] = []
        for name, (make, _) in KINDS.items():
            ids = None if wanted is None else wanted.get(name, [])
            if ids == []:
                continue
            retried += [f"{name}:{i}" for i in await make().requeue(batch, ids=ids)]
        missing = sorted(set(refs or ()) - set(retried))
        if missing:
            raise NotFound(f"not parked: {', '.join(missing)}", field="ids")
        if retried:
            await batch.record("parked.retried", items=retried)
    return retried


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    return kind


def _parse(refs: list[str]) -> dict[str, list[int]]:
    """``["delivery:12", ...]`` by kind; a malformed ref is refused, naming it."""
    wanted: dict[str, list[int]] = {}
    for ref in refs:
        kind, _, number = ref.partition(":")
        if kind not in KINDS or not number.isdigit() or len(number) > 18:
            raise ValidationFailed(
                f"{ref!r} is not an item: <{'|'.join(KINDS)}>:<id>, e.g. delivery:12", field="ids"
            )
        wanted.setdefault(kind, []).append(int(number))
    return wanted
