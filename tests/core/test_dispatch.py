"""The event dispatcher: every pending event reaches its consumers once, failures back off.

Dispatchers are driven by hand (``step()``); time is moved by editing
``next_attempt_at``.
"""

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from core.dispatch import EventDispatcher
from core.events import change
from core.models import Event
from core.queue import POLICIES
from tests.conftest import Backend

MAX_ATTEMPTS = POLICIES["events"].max_attempts

EVENTS = 300
DEALS = 40
BATCH = 10  # small claims, so the two dispatchers take turns many times


async def drain(dispatcher: EventDispatcher) -> int:
    """Like a running pump, in small steps, until no event is pending anywhere; returns
    how many events this dispatcher took. A step can find nothing while the other
    dispatcher holds the earlier events of every deal still pending."""
    total = 0
    while True:
        taken = await dispatcher.step(limit=BATCH)
        total += taken
        if not taken:
            if not await Event.filter(next_attempt_at__isnull=False).exists():
                return total
            await asyncio.sleep(0.005)


async def record_events(count: int, *, deals: int) -> list[int]:
    """``count`` events of ``deals`` deals, interleaved, recorded ten to a change."""
    ids: list[int] = []
    for start in range(0, count, 10):
        async with change(None) as batch:
            for n in range(start, min(start + 10, count)):
                event = await batch.record("test.ping", deal_id=n % deals + 1, n=n)
                ids.append(event.id)
    return ids


async def test_two_dispatchers_handle_every_event_exactly_once(db: Backend) -> None:
    if db.name == "sqlite":
        pytest.skip("SQLite has one writer and no FOR UPDATE SKIP LOCKED to share work with")
    ids = await record_events(EVENTS, deals=DEALS)
    handled: list[tuple[str, int]] = []
    deal_of: dict[int, int] = {}

    def dispatcher(name: str) -> EventDispatcher:
        async def consume(event: Event) -> None:
            assert event.deal_id is not None
            deal_of[event.id] = event.deal_id
            handled.append((name, event.id))
            await asyncio.sleep(0.001)  # let the other dispatcher's work interleave with ours

        return EventDispatcher({"test.ping": [consume]})

    first, second = dispatcher("first"), dispatcher("second")
    taken = await asyncio.gather(drain(first), drain(second))

    assert sum(taken) == EVENTS
    seen = [event_id for _, event_id in handled]
    assert len(seen) == len(set(seen)), "an event was handled twice"
    assert sorted(seen) == sorted(ids), "an event was never handled"
    by_dispatcher = defaultdict(list)
    for name, event_id in handled:
        by_dispatcher[name].append(event_id)
    assert set(by_dispatcher) == {"first", "second"}, "one dispatcher took all the work"
    assert [len(by_dispatcher["first"]), len(by_dispatcher["second"])] == list(taken)
    # each dispatcher works through a deal's events oldest first
    for name, event_ids in by_dispatcher.items():
        for deal in range(1, DEALS + 1):
            of_deal = [i for i in event_ids if deal_of[i] == deal]
            assert of_deal == sorted(of_deal), f"{name} handled deal {deal} out of order"
    assert await Event.filter(next_attempt_at__isnull=False).count() == 0
    assert await Event.filter(attempts__gt=0).count() == 0
    assert await first.step() == 0 and await second.step() == 0


async def test_a_deals_events_are_handled_in_order_across_dispatchers(db: Backend) -> None:
    if db.name == "sqlite":
        pytest.skip("SQLite has one writer and no FOR UPDATE SKIP LOCKED to share work with")
    await record_events(EVENTS, deals=DEALS)
    handled: list[tuple[int, int]] = []

    async def consume(event: Event) -> None:
        assert event.deal_id is not None
        handled.append((event.deal_id, event.id))
        await asyncio.sleep(0.001)

    dispatchers = [EventDispatcher({"test.ping": [consume]}) for _ in range(2)]
    await asyncio.gather(*(drain(d) for d in dispatchers))

    assert len(handled) == EVENTS
    for deal in range(1, DEALS + 1):
        of_deal = [event_id for d, event_id in handled if d == deal]
        assert of_deal == sorted(of_deal), f"deal {deal}'s events were handled out of order"


async def test_a_failing_consumer_backs_off_then_parks_the_event(db: Backend) -> None:
    calls: list[int] = []
    fine: list[int] = []

    async def broken(event: Event) -> None:
        calls.append(event.id)
        raise ValueError("consumer bug")

    async def healthy(event: Event) -> None:
        fine.append(event.id)

    async with change(None) as batch:
        failing = await batch.record("test.broken", deal_id=1)
        other = await batch.record("test.fine", deal_id=2)
    dispatcher = EventDispatcher({"test.broken": [broken], "test.fine": [healthy]})

    before = datetime.now(UTC)
    assert await dispatcher.step() == 2
    assert fine == [other.id]
    assert (await Event.get(id=other.id)).next_attempt_at is None
    row = await Event.get(id=failing.id)
    assert row.attempts == 1
    assert row.last_error == "ValueError: consumer bug"
    assert row.next_attempt_at is not None
    assert before + timedelta(seconds=1) <= row.next_attempt_at <= before + timedelta(seconds=3)
    assert await dispatcher.step() == 0, "a backed-off event is not due yet"

    for attempt in range(2, MAX_ATTEMPTS + 1):
        await Event.filter(id=failing.id).update(next_attempt_at=datetime.now(UTC))
        assert await dispatcher.step() == 1
        row = await Event.get(id=failing.id)
        assert row.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert row.next_attempt_at is not None and row.next_attempt_at > datetime.now(UTC)

    assert row.attempts == MAX_ATTEMPTS
    assert row.next_attempt_at is None, "after MAX_ATTEMPTS the event is parked"
    assert row.last_error == "ValueError: consumer bug"
    assert calls == [failing.id] * MAX_ATTEMPTS
    assert await dispatcher.step() == 0
    assert fine == [other.id]


async def test_a_deals_later_events_wait_for_a_failing_one(db: Backend) -> None:
    """Order within a deal survives a failure: the next event is not handled before it."""
    handled: list[int] = []
    failures = [ValueError("first try fails")]

    async def flaky(event: Event) -> None:
        if failures:
            raise failures.pop()
        handled.append(event.id)

    async with change(None) as batch:
        first = await batch.record("test.ping", deal_id=1)
        second = await batch.record("test.ping", deal_id=1)
        elsewhere = await batch.record("test.ping", deal_id=2)
    dispatcher = EventDispatcher({"test.ping": [flaky]})

    assert await dispatcher.step() == 3
    assert handled == [elsewhere.id]
    held = await Event.get(id=second.id)
    assert held.attempts == 0 and held.next_attempt_at is not None, "given back, not failed"
    assert await dispatcher.step() == 0, "the second waits while the first backs off"

    await Event.filter(id=first.id).update(next_attempt_at=datetime.now(UTC))
    assert await dispatcher.step() == 2
    assert handled == [elsewhere.id, first.id, second.id]


async def test_undispatched_events_are_written_done_and_have_no_consumers(db: Backend) -> None:
    """A read marker's or a customer message's event is a row (the audit trail, the live
    catch-up) that the dispatcher never claims, and nothing may subscribe to it there."""
    async with change(None) as batch:
        await batch.record("dialog.read", dialog_id=1, message_id=2)
        await batch.record("message.received", dialog_id=1, message_id=2)
        await batch.record("contact.created", contact_id=1, name="Ann")
    heard: list[str] = []

    async def consumer(event: Event) -> None:
        heard.append(event.kind)

    dispatcher = EventDispatcher({"contact.created": [consumer]})
    assert await dispatcher.step() == 1  # the contact's event only
    for kind in ("dialog.read", "message.received"):
        unheard = await Event.get(kind=kind)
        assert (unheard.next_attempt_at, unheard.attempts) == (None, 0)
    assert heard == ["contact.created"]
    for kind in ("dialog.read", "message.received"):
        with pytest.raises(ValueError, match=kind.replace(".", r"\.")):
            EventDispatcher({kind: [consumer]})
