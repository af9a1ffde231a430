"""The shared queue: what a handler's outcome leaves on the row, on a real database.

The event table serves as the queue here (any table with ``next_attempt_at``,
``attempts`` and ``last_error`` does); the four real queues have their own tests.
"""

import json
import re
from datetime import UTC, datetime, timedelta

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from core.db import insert_all
from core.events import change
from core.models import Event
from core.queue import POLICIES, Done, Dropped, Outcome, Park, Policy, Queue, Retry, failure
from tests.conftest import Backend

POLICY = Policy(lease=timedelta(seconds=30), max_attempts=3, batch=10, thread="deal_id")


async def _pending(count: int = 1, deal_id: int = 1) -> list[Event]:
    async with change(None) as batch:
        return [await batch.record("test.item", deal_id=deal_id) for _ in range(count)]


async def _once(queue: Queue[Event], outcome: Outcome) -> Event:
    """Claim the one due row, have the handler answer ``outcome``; the row afterwards."""

    async def handle(event: Event) -> Outcome:
        return outcome

    assert await queue.work(handle) == 1
    return await Event.get()


async def test_every_queue_has_its_policy_in_one_place() -> None:
    assert set(POLICIES) == {"intake", "events", "outbox", "conversions"}
    assert all(p.lease > timedelta(0) and p.max_attempts > 0 for p in POLICIES.values())


async def test_a_retry_goes_at_its_time_with_its_reason(db: Backend) -> None:
    await _pending()
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    row = await _once(Queue(Event, POLICY), Retry("the platform said later", at=at))
    assert (row.next_attempt_at, row.attempts, row.last_error) == (
        at,
        1,
        "the platform said later",
    )


async def test_a_retry_that_does_not_count_never_parks(db: Backend) -> None:
    await _pending()
    queue = Queue(Event, POLICY)
    for _ in range(POLICY.max_attempts + 2):
        row = await _once(queue, Retry("database unreachable", at=datetime.now(UTC), counts=False))
        assert row.next_attempt_at is not None and row.attempts == 0


async def test_counted_retries_park_at_the_limit(db: Backend) -> None:
    [event] = await _pending()
    queue = Queue(Event, POLICY)
    for attempt in range(1, POLICY.max_attempts):
        row = await _once(queue, Retry("flaky", at=datetime.now(UTC)))
        assert (row.attempts, row.next_attempt_at is not None) == (attempt, True)
    [claimed] = await queue.claim()
    assert await queue.settle(claimed, Retry("flaky")) == Park("flaky", exhausted=True)
    row = await Event.get(id=event.id)
    assert (row.attempts, row.next_attempt_at, row.last_error) == (3, None, "flaky")


async def test_park_and_drop_finish_the_row_with_the_reason(db: Backend) -> None:
    bad, unwanted = await _pending(2, deal_id=None)  # type: ignore[arg-type]
    reasons = {bad.id: Park("a bad item"), unwanted.id: Dropped("no longer wanted")}

    async def handle(event: Event) -> Outcome:
        return reasons[event.id]

    assert await Queue(Event, POLICY).work(handle) == 2
    rows = {row.id: row for row in await Event.all()}
    assert (rows[bad.id].attempts, rows[bad.id].last_error) == (1, "a bad item")
    assert (rows[unwanted.id].attempts, rows[unwanted.id].last_error) == (0, "no longer wanted")
    assert rows[bad.id].next_attempt_at is None and rows[unwanted.id].next_attempt_at is None


async def test_a_raising_handler_is_a_counted_retry(db: Backend) -> None:
    assert failure(ValueError("boom")) == Retry("ValueError: boom")
    await _pending()

    async def handle(event: Event) -> Outcome:
        raise ValueError("boom")

    await Queue(Event, POLICY).work(handle)
    row = await Event.get()
    assert (row.attempts, row.last_error) == (1, "ValueError: boom")


async def test_only_done_is_recorded_once_the_lease_was_lost(db: Backend) -> None:
    await _pending(2, deal_id=None)  # type: ignore[arg-type]
    queue = Queue(Event, POLICY)
    first, second = await queue.claim()
    # both leases run out and another worker claims the rows again
    await Event.all().update(next_attempt_at=datetime.now(UTC) + timedelta(minutes=1))
    assert await queue.settle(first, Retry("late")) is None
    assert await queue.settle(second, Done()) == Done()
    rows = {row.id: row for row in await Event.all()}
    assert rows[first.id].attempts == 0 and rows[first.id].next_attempt_at is not None
    assert rows[second.id].next_attempt_at is None
    assert await queue.settle(second, Done()) is None, "finished already"


async def test_a_claims_done_rows_are_finished_together_once_all_are_handled(
    db: Backend,
) -> None:
    """One write for a claim's done rows: they stay leased (pending) while the rest of
    the claim is handled, then finish together, each keeping its own failed tries; a
    retried row is settled at once."""
    first, second, third = await _pending(3, deal_id=None)  # type: ignore[arg-type]
    await Event.filter(id=first.id).update(attempts=2)
    pending_while_handled: list[int] = []

    async def handle(event: Event) -> Outcome:
        pending_while_handled.append(await Event.filter(next_attempt_at__isnull=False).count())
        return Retry("later") if event.id == third.id else Done()

    assert await Queue(Event, POLICY).work(handle, concurrency=1) == 3
    assert pending_while_handled == [3, 3, 3]
    rows = {row.id: row for row in await Event.all()}
    assert (rows[first.id].next_attempt_at, rows[first.id].attempts) == (None, 2)
    assert (rows[second.id].next_attempt_at, rows[second.id].attempts) == (None, 0)
    assert rows[third.id].next_attempt_at is not None and rows[third.id].attempts == 1


async def test_ahead_takes_what_it_can_of_a_claim_and_the_rest_is_handled_one_by_one(
    db: Backend,
) -> None:
    """``ahead`` sees the whole claim first; the rows it did are done without being
    handled, and finished at once (later rows of their threads need not wait for the
    claim); the other rows are handled one by one, each thread in order."""
    first, second = await _pending(2, deal_id=1)
    third, fourth = await _pending(2, deal_id=2)
    seen: list[list[int]] = []
    handled: list[int] = []

    async def ahead(rows: list[Event]) -> set[int]:
        seen.append([row.id for row in rows])
        return {first.id, second.id}

    async def handle(event: Event) -> Outcome:
        handled.append(event.id)
        pending.append(await Event.filter(next_attempt_at__isnull=False).count())
        return Done()

    pending: list[int] = []
    assert await Queue(Event, POLICY).work(handle, ahead=ahead) == 4
    assert seen == [[first.id, second.id, third.id, fourth.id]]
    assert handled == [third.id, fourth.id]
    assert pending == [2, 2], "ahead's rows are finished before the rest is handled"
    assert await Event.filter(next_attempt_at__isnull=False).count() == 0


async def test_when_ahead_fails_every_row_is_handled_one_by_one(db: Backend) -> None:
    events = await _pending(3)
    handled: list[int] = []

    async def ahead(rows: list[Event]) -> set[int]:
        raise ConnectionResetError("the batch's transaction was cut off")

    async def handle(event: Event) -> Outcome:
        handled.append(event.id)
        return Done()

    assert await Queue(Event, POLICY).work(handle, ahead=ahead) == 3
    assert handled == [event.id for event in events]
    assert await Event.filter(next_attempt_at__isnull=False).count() == 0


async def test_a_claim_reads_the_pending_rows_alone_however_many_were_processed(
    db: Backend,
) -> None:
    """Every queue table has an index of its pending rows, and a claim goes through it:
    a database with years of processed rows claims as fast as a new one."""
    from bot.models import InboundDelivery
    from inbox.models import Outbox
    from triggers.conversions.models import Conversion

    processed = [Event(kind="test.done", data={}, next_attempt_at=None) for _ in range(3000)]
    await insert_all(processed)
    await _pending(3)
    postgres = db.name != "sqlite"
    connection = Tortoise.get_connection("default")
    if postgres:
        await connection.execute_script('ANALYZE "event"')
    for model in (InboundDelivery, Event, Outbox, Conversion):
        table = model._meta.db_table
        catalog = "SELECT indexname FROM pg_indexes WHERE tablename = $1" if postgres else (
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?")  # fmt: skip
        _, rows = await connection.execute_query(catalog, [table])
        assert f"{table}_pending" in {row[0] for row in rows}
    async with in_transaction() as transaction:
        claim = Queue(Event, POLICIES["events"]).due(datetime.now(UTC), 200)
        sql = claim.sql(params_inline=True)
        if postgres:
            _, rows = await transaction.execute_query(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            plan = json.dumps(rows[0][0])
            read = sum(
                int(n) for n in re.findall(r'"(?:Actual Rows|Rows Removed by Filter)": (\d+)', plan)
            )
            assert "event_pending" in plan and read <= 3 * 4  # each node counts the 3 again
        else:
            _, rows = await transaction.execute_query(f"EXPLAIN QUERY PLAN {sql}")
            assert any("event_pending" in str(row[-1]) for row in rows), rows
