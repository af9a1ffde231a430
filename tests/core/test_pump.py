"""The pump runs its step on APScheduler's ticks, at once when woken, and when the
soonest future item comes due; it never runs two steps at once, unless told to run
steps in parallel loops."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.queue import Pump

SLOW_POLL = 3600.0  # ticks never come during a test: only wakes and due times run the step


@pytest.fixture
async def scheduler() -> AsyncIterator[AsyncIOScheduler]:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.start()
    yield scheduler
    scheduler.shutdown(wait=False)


class Counter:
    """A step that handles whatever is queued and tells waiters."""

    def __init__(self) -> None:
        self.queued = 0
        self.runs = 0
        self.active = 0
        self.overlapped = False
        self.ran = asyncio.Event()

    async def step(self) -> int:
        self.active += 1
        self.overlapped |= self.active > 1
        await asyncio.sleep(0.01)
        handled, self.queued = self.queued, 0
        self.runs += 1
        self.active -= 1
        self.ran.set()
        return handled


async def until(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), timeout=5)
    event.clear()


async def test_the_first_tick_runs_at_once_and_a_wake_runs_again(
    scheduler: AsyncIOScheduler,
) -> None:
    counter = Counter()
    pump = Pump(counter.step, name="t1", poll=SLOW_POLL)
    pump.start(scheduler)
    await until(counter.ran)
    runs = counter.runs
    counter.queued = 3
    pump.wake()
    await until(counter.ran)
    while counter.queued or counter.active:
        await asyncio.sleep(0.01)
    assert counter.runs > runs and counter.queued == 0
    await pump.stop()
    assert scheduler.get_jobs() == []


async def test_wakes_during_a_run_are_not_lost_and_runs_never_overlap(
    scheduler: AsyncIOScheduler,
) -> None:
    counter = Counter()
    pump = Pump(counter.step, name="t2", poll=SLOW_POLL)
    pump.start(scheduler)
    for _ in range(20):
        counter.queued += 1
        pump.wake()
        await asyncio.sleep(0.003)
    for _ in range(500):
        if counter.queued == 0 and not counter.active:
            break
        await asyncio.sleep(0.01)
    assert counter.queued == 0, "an item queued during a run waited for the next tick"
    assert not counter.overlapped
    await pump.stop()


async def test_the_soonest_due_item_wakes_the_pump(scheduler: AsyncIOScheduler) -> None:
    counter = Counter()
    due = datetime.now(UTC) + timedelta(milliseconds=300)

    async def next_due() -> datetime | None:
        return due if datetime.now(UTC) < due else None

    pump = Pump(counter.step, name="t3", poll=SLOW_POLL, next_due=next_due)
    pump.start(scheduler)
    await until(counter.ran)
    assert scheduler.get_job("t3:due") is not None
    await until(counter.ran)  # the due time, long before the next tick
    assert datetime.now(UTC) >= due
    await pump.stop()
    assert scheduler.get_jobs() == []


async def test_a_wake_while_the_next_due_time_is_read_is_not_lost(
    scheduler: AsyncIOScheduler,
) -> None:
    """Work committed while the run looks up the next due time is handled by that run."""
    counter = Counter()
    woken = False

    async def next_due() -> datetime | None:
        nonlocal woken
        if not woken:
            woken = True
            counter.queued = 1  # another coroutine commits work and wakes the pump
            pump.wake()
        return None

    pump = Pump(counter.step, name="t4", poll=SLOW_POLL, next_due=next_due)
    pump.start(scheduler)
    async with asyncio.timeout(5):
        while not woken or counter.queued:
            await asyncio.sleep(0.01)
    await pump.stop()


async def test_settled_waits_for_a_round_that_began_after_the_call(
    scheduler: AsyncIOScheduler,
) -> None:
    counter = Counter()
    pump = Pump(counter.step, name="t5", poll=SLOW_POLL)
    pump.start(scheduler)
    try:
        await pump.settled()
        counter.queued = 3  # queued after that round: the next one handles it
        await pump.settled()
        assert counter.queued == 0 and pump.rounds >= 2
    finally:
        await pump.stop()


async def test_parallel_loops_take_new_work_while_one_step_is_slow() -> None:
    """With ``parallel`` loops, a step stuck on a slow item does not hold up what came in
    meanwhile, and the drain ends once no loop is in a step and none finds work."""
    queued, handled = ["slow"], []
    quick_done = asyncio.Event()

    async def step() -> int:
        if not queued:
            return 0
        item = queued.pop(0)
        if item == "slow":
            queued.append("quick")  # came in while the slow one is handled
            await quick_done.wait()
        else:
            quick_done.set()
        handled.append(item)
        return 1

    async with asyncio.timeout(5):
        assert await Pump(step, name="test", parallel=2).drain() == 2
    assert handled == ["quick", "slow"]


async def test_when_one_parallel_loop_fails_the_others_stop_with_it() -> None:
    """The failure reaches the caller (the pump logs it and runs again at the next tick)
    and no loop is left running on its own, unseen, after the drain."""
    stepping: list[asyncio.Task] = []

    async def step() -> int:
        stepping.append(asyncio.current_task())  # type: ignore[arg-type]
        if len(stepping) == 1:
            await asyncio.sleep(3600)  # a long claim
        raise ConnectionResetError("the database went away")

    with pytest.raises(ConnectionResetError):
        await Pump(step, name="test", parallel=2).drain()
    assert stepping[0].done(), "the loop in its long step was stopped"


async def test_a_step_that_took_little_lingers_so_what_trickles_in_is_taken_together() -> None:
    """After a step that handled fewer than ``gather`` items the loop waits ``linger``:
    what arrives meanwhile is one step, not one each. A full step goes on at once."""
    arrived, steps = ["a"], []

    async def step() -> int:
        taken = arrived[:10]
        del arrived[:10]
        if taken:
            steps.append(taken)
        return len(taken)

    asyncio.get_running_loop().call_later(0.05, arrived.extend, ["b", "c", "d"])
    async with asyncio.timeout(5):
        assert await Pump(step, name="test", gather=10, linger=0.3).drain() == 4
    assert steps == [["a"], ["b", "c", "d"]]

    arrived[:], steps[:] = [str(n) for n in range(20)], []
    started = asyncio.get_running_loop().time()
    assert await Pump(step, name="test", gather=10, linger=5).drain() == 20
    assert len(steps) == 2 and asyncio.get_running_loop().time() - started < 1
