"""Domain events: recorded in the transaction of the change, announced after it commits.

Every write path opens a :func:`change`, does its work, and calls ``batch.record(...)``
for each thing that happened. The rows land in the ``event`` table atomically with
the change (the deal timeline and the durable feed for later subscribers); the
in-process subscribers hear about them only once the transaction has committed, so
nobody reacts to a change that was rolled back.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from tortoise.models import Model
from tortoise.transactions import in_transaction

from core.db import insert_all
from core.models import Event, User

log = logging.getLogger(__name__)


class Unset(Enum):
    """The type of :data:`UNSET`: an enum of one member, so ``x is UNSET`` narrows
    ``str | None | Unset`` to ``str | None`` for the type checker."""

    UNSET = "UNSET"

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNSET"


#: Marks an argument the caller did not give (``None`` is a value: "clear this field").
UNSET: Final = Unset.UNSET

Subscriber = Callable[[Event], Awaitable[None]]
#: Events no consumer hears, only open pages: per-user UI state, and a conversation's
#: messages and their statuses (most of all events, one or more per message). The row is
#: written (the audit trail, and the live catch-up replays from the table) already
#: dispatched, so the durable dispatcher never claims them: a burst of messages costs it
#: nothing. :class:`core.dispatch.EventDispatcher` refuses consumers for them; a reaction
#: to a message takes its kind out of this set.
UNDISPATCHED = frozenset(
    {"dialog.read", "message.received", "message.status", "message.edited", "message.queued",
     "message.backdated"}
)  # fmt: skip
_subscribers: list[Subscriber] = []
_current_batch: ContextVar["EventBatch | None"] = ContextVar("event_batch", default=None)


def jsonable(value: Any) -> Any:
    """Event data is JSON: money stays exact as a string, dates as ISO 8601."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def diff(obj: object, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"from": old, "to": new}}`` for the values that differ from ``obj``."""
    return {
        key: {"from": getattr(obj, key), "to": value}
        for key, value in values.items()
        if getattr(obj, key) != value
    }


@dataclass
class EventBatch:
    """The events of one change, in order."""

    actor: User | None
    #: What made this change when no person did, e.g. ``{"automation_id": 3, "depth": 1}``;
    #: stored on every event as ``data["cause"]`` so automations can cut their own loops.
    cause: dict[str, Any] | None = None
    events: list[Event] = field(default_factory=list)

    async def record(self, kind: str, /, *, deal_id: int | None = None, **data: Any) -> Event:
        """Append one event to the log inside the open transaction."""
        event = self._event(kind, deal_id, data)
        await event.save(force_create=True)
        self.events.append(event)
        return event

    async def record_all(self, kind: str, /, items: Sequence[dict[str, Any]]) -> list[Event]:
        """Append one event of ``kind`` per item, in order, in one statement: what a batch
        of messages or new deals records (see ``core.db.insert_all``). An item's
        ``deal_id`` is the event's deal, as :meth:`record`'s keyword is."""
        events = [self._event(kind, data.pop("deal_id", None), data) for data in map(dict, items)]
        await insert_all(events)
        self.events += events
        return events

    def _event(self, kind: str, deal_id: int | None, data: dict[str, Any]) -> Event:
        if self.cause is not None:
            data["cause"] = self.cause
        return Event(
            kind=kind,
            deal_id=deal_id,
            actor=self.actor,
            data=jsonable(data),
            next_attempt_at=None if kind in UNDISPATCHED else datetime.now(UTC),
        )

    async def save(
        self, obj: Model, values: dict[str, Any], kind: str, /, **data: Any
    ) -> dict[str, dict[str, Any]]:
        """Write ``values`` to ``obj`` and record ``kind`` with what changed (from, to);
        nothing at all when nothing would change. Returns the changes."""
        changes = diff(obj, values)
        if changes:
            await obj.update_from_dict(values).save()
            await self.record(kind, changes=changes, **data)
        return changes


@asynccontextmanager
async def change(
    actor: User | None, *, cause: dict[str, Any] | None = None
) -> AsyncIterator[EventBatch]:
    """One atomic change. Nested calls join the outer change and publish with it.

    A nested call must speak for the same actor (and, when it names one, the same cause):
    its events are recorded under the outer change's, so a different one would be
    silently dropped; that is a programming error, raised as one.
    """
    outer = _current_batch.get()
    if outer is not None:
        _check_nested(outer, actor, cause)
        yield outer
        return
    batch = EventBatch(actor=actor, cause=cause)
    token = _current_batch.set(batch)
    try:
        async with in_transaction():
            yield batch
    finally:
        _current_batch.reset(token)
    await publish(batch.events)


def _check_nested(outer: EventBatch, actor: User | None, cause: dict[str, Any] | None) -> None:
    outer_id, inner_id = (who.id if who else None for who in (outer.actor, actor))
    if inner_id != outer_id:
        raise NestedChangeError(f"a change by user {outer_id} cannot nest one by user {inner_id}")
    if cause is not None and cause != outer.cause:
        raise NestedChangeError(f"a change caused by {outer.cause} cannot nest one by {cause}")


class NestedChangeError(RuntimeError):
    """A nested :func:`change` disagrees with the change it would join."""


def subscribe(subscriber: Subscriber) -> Callable[[], None]:
    """Register a coroutine called for each committed event; returns the unsubscribe call."""
    _subscribers.append(subscriber)
    return lambda: _subscribers.remove(subscriber)


async def publish(events: list[Event]) -> None:
    """Tell subscribers; one failing subscriber must not hide the event from the others."""
    for event in events:
        for subscriber in list(_subscribers):
            try:
                await subscriber(event)
            except Exception:
                log.exception("event subscriber failed on %s #%s", event.kind, event.id)
