"""Leases are short and renewed while a worker handles its rows: a live worker keeps
them however long an item takes, a dead one's rows go to another within one lease."""

import asyncio
from datetime import timedelta

from core.events import change
from core.models import Event
from core.queue import Done, Outcome, Policy, Queue
from tests.conftest import Backend

LEASE = Policy(lease=timedelta(seconds=1.5), max_attempts=3, batch=10, thread="deal_id")


async def test_a_live_worker_keeps_its_rows_and_a_dead_ones_come_back_within_a_lease(
    db: Backend,
) -> None:
    async with change(None) as batch:
        first = await batch.record("test.item", deal_id=1)
    started, handled = asyncio.Event(), []

    async def slow(event: Event) -> Outcome:
        started.set()
        await asyncio.sleep(3 * LEASE.lease.total_seconds())  # three leases long
        handled.append(event.id)
        return Done()

    worker, other = Queue(Event, LEASE), Queue(Event, LEASE)
    running = asyncio.create_task(worker.work(slow))
    await started.wait()
    for _ in range(4):
        await asyncio.sleep(LEASE.lease.total_seconds() * 0.6)
        assert await other.claim() == [], "renewed: still the first worker's"
    assert await running == 1 and handled == [first.id]
    assert (await Event.get(id=first.id)).next_attempt_at is None
    async with change(None) as batch:
        second = await batch.record("test.item", deal_id=2)
    started.clear()
    dying = asyncio.create_task(worker.work(slow))
    await started.wait()
    dying.cancel()  # the worker dies: nobody renews its lease any more
    await asyncio.gather(dying, return_exceptions=True)
    assert await other.claim() == []
    await asyncio.sleep(LEASE.lease.total_seconds() + 0.2)
    assert [row.id for row in await other.claim()] == [second.id]
