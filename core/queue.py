"""Durable work queues in the database: rows are claimed with a lease, then done.

Used by the webhook intake (deliveries accepted, processed later) and the event
dispatcher (domain events fed to triggers); the outbox has its own claims.
A claim moves ``next_attempt_at`` past the lease, so a worker that dies mid-item
leaves it to be claimed again when the lease runs out; with several workers,
PostgreSQL's ``FOR UPDATE SKIP LOCKED`` hands each row to one of them.
"""

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from tortoise.models import Model
from tortoise.transactions import in_transaction

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Model)


async def claim(
    model: type[M], *, limit: int, lease: timedelta, thread_field: str | None = None
) -> list[M]:
    """Take up to ``limit`` due rows (``next_attempt_at`` reached), oldest first.

    With ``thread_field`` (a column such as ``deal_id``), a row is taken only together
    with every unfinished row of its thread before it, so two workers never hold rows of
    one thread at once and each thread is handled in order: a row that is leased by
    another worker, or backing off, holds back the later rows of its thread.

    Querysets bind their connection when built, so they are built inside the
    transaction (one built outside would wait on SQLite's writer lock forever).
    ``only()`` rather than ``values_list()``: the latter drops ``FOR UPDATE``.
    """
    now = datetime.now(UTC)
    columns = ("id", thread_field) if thread_field else ("id",)
    async with in_transaction():
        rows = (
            await model.filter(next_attempt_at__lte=now)
            .order_by("id")
            .limit(limit)
            .select_for_update(skip_locked=True)
            .only(*columns)
        )
        ids = await _in_order(model, rows, thread_field) if thread_field else [r.pk for r in rows]
        if not ids:
            return []
        await model.filter(id__in=ids).update(next_attempt_at=now + lease)
    # loaded after the commit: rows fetched inside would stay bound to the closed transaction
    return await model.filter(id__in=ids).order_by("id")


async def _in_order(model: type[M], rows: list[M], thread_field: str) -> list[int]:
    """The ids of ``rows`` that continue their thread's unfinished prefix without a gap."""
    taken = {row.pk for row in rows}
    threads = {getattr(row, thread_field) for row in rows} - {None}
    if not threads:
        return sorted(taken)
    unfinished = await (
        model.filter(
            **{f"{thread_field}__in": list(threads)},
            next_attempt_at__isnull=False,
            id__lte=max(taken),
        )
        .order_by("id")
        .values_list(thread_field, "id")
    )
    blocked: set[Hashable] = set()
    for thread, row_id in unfinished:
        if thread in blocked or row_id not in taken:
            blocked.add(thread)
            taken.discard(row_id)
    return sorted(taken)


def backoff(attempt: int, *, base: float = 2.0, cap: float = 600.0) -> timedelta:
    """How long to wait after ``attempt`` failed tries: exponential, capped, and half of
    it random ("equal jitter"), so the failures of one outage spread out:
    attempt 1 waits 1-2 s, attempt 5 16-32 s, then up to ``cap``."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 (not crypto)


async def work(
    model: type[M],
    *,
    handle: Callable[[M], Awaitable[None]],
    thread_field: str,
    limit: int,
    lease: timedelta,
    max_attempts: int,
    concurrency: int = 8,
) -> int:
    """Claim due rows and handle them; returns how many were claimed.

    Rows of one thread (the same ``thread_field`` value: a deal, a conversation) are
    handled in order, threads concurrently, and the order holds across workers (see
    :func:`claim`); a row without a thread value is a thread of its own. A handled row
    is done (``next_attempt_at`` cleared, and ``processed_at`` set where the model has
    one). A failing row backs off, and after ``max_attempts`` is parked with its error
    for a human to look at; the rows after it in its thread go back unhandled, to wait.
    """
    rows = await claim(model, limit=limit, lease=lease, thread_field=thread_field)
    threads: dict[Hashable, list[M]] = defaultdict(list)
    for row in rows:
        key = getattr(row, thread_field)
        threads[("row", row.pk) if key is None else key].append(row)
    gate = asyncio.Semaphore(concurrency)

    async def run(items: list[M]) -> None:
        async with gate:
            for index, row in enumerate(items):
                if not await _attempt(row, handle, max_attempts):
                    later = [item.pk for item in items[index + 1 :]]
                    await model.filter(pk__in=later).update(next_attempt_at=datetime.now(UTC))
                    return

    await asyncio.gather(*(run(items) for items in threads.values()))
    return len(rows)


async def _attempt(row: M, handle: Callable[[M], Awaitable[None]], max_attempts: int) -> bool:
    """Handle one row; whether it succeeded."""
    try:
        await handle(row)
    except Exception as exc:
        attempts = row.attempts + 1  # type: ignore[attr-defined]
        parked = attempts >= max_attempts
        log.exception(
            "%s %s failed, attempt %s%s",
            type(row).__name__, row.pk, attempts, ", parked" if parked else "",
        )  # fmt: skip
        retry = None if parked else datetime.now(UTC) + backoff(attempts)
        await type(row).filter(pk=row.pk).update(
            attempts=attempts, last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=retry,
        )  # fmt: skip
        return False
    done: dict[str, object] = {"next_attempt_at": None}
    if "processed_at" in row._meta.fields_map:
        done["processed_at"] = datetime.now(UTC)
    await type(row).filter(pk=row.pk).update(**done)
    return True


class Pump:
    """Runs ``step`` whenever there may be work, driven by an APScheduler scheduler.

    ``step`` returns how many items it handled; a run keeps stepping while there are any.
    Runs happen every ``poll`` seconds (work committed by other processes, retries), at
    once on :meth:`wake` (this process queued something), and at the moment the
    soonest future item is due when ``next_due`` says when that is (a message delayed
    by two hours goes out on time, not at the next poll). The database stays the
    source of truth: the scheduler holds only wake-up times, all recomputed after each
    run, so a restart loses nothing.
    """

    def __init__(
        self,
        step: Callable[[], Awaitable[int]],
        *,
        name: str,
        poll: float = 1.0,
        next_due: Callable[[], Awaitable[datetime | None]] | None = None,
    ) -> None:
        self.step = step
        self.name = name
        self.poll = poll
        self.next_due = next_due
        self._scheduler: AsyncIOScheduler | None = None
        self._running: asyncio.Task[None] | None = None
        self._again = False

    async def drain(self) -> int:
        """Handle everything due now (tests and shutdown use this)."""
        total = 0
        while handled := await self.step():
            total += handled
        return total

    def start(self, scheduler: AsyncIOScheduler) -> None:
        """Run on ``scheduler``'s ticks until :meth:`stop`."""
        self._scheduler = scheduler
        scheduler.add_job(
            self._run, "interval", seconds=self.poll, id=self.name, next_run_time=_now(),
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )  # fmt: skip

    def wake(self) -> None:
        """Something was queued: run now rather than at the next tick."""
        if self._running is not None:
            self._again = True  # the run in progress goes round once more
        elif self._scheduler is not None:
            self._scheduler.modify_job(self.name, next_run_time=_now())

    async def stop(self, grace: float = 0.0) -> None:
        """Stop ticking; let a run in progress finish for up to ``grace`` seconds."""
        if self._scheduler is None:
            return
        for job_id in (self.name, f"{self.name}:due"):
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(job_id)
        self._scheduler = None
        if self._running is not None:
            running = self._running
            done, _ = await asyncio.wait({running}, timeout=grace) if grace else (set(), None)
            if not done:
                running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    async def _run(self) -> None:
        if self._scheduler is None:  # a run the scheduler launched as the pump stopped
            return
        self._running = asyncio.current_task()
        try:
            self._again = True
            while self._again and self._scheduler is not None:
                self._again = False
                try:
                    await self.drain()
                    await self._plan_next()
                except Exception:
                    log.exception("%s step failed; retrying at the next tick", self.name)
        finally:
            self._running = None

    async def _plan_next(self) -> None:
        """Set one wake-up for the soonest item due in the future."""
        if self.next_due is None or self._scheduler is None:
            return
        due = await self.next_due()
        if due is not None and due > _now():
            self._scheduler.add_job(
                self._wake_job, "date", run_date=due, id=f"{self.name}:due",
                replace_existing=True, misfire_grace_time=None,
            )  # fmt: skip

    async def _wake_job(self) -> None:
        """A coroutine, so APScheduler runs it on the loop rather than in a thread."""
        self.wake()


def _now() -> datetime:
    return datetime.now(UTC)


async def soonest(model: type[Model], **filters: object) -> datetime | None:
    """The earliest future ``next_attempt_at`` of ``model`` (a ``next_due`` for pumps)."""
    row = (
        await model.filter(next_attempt_at__gt=_now(), **filters)
        .order_by("next_attempt_at")
        .first()
        .values_list("next_attempt_at", flat=True)
    )
    return row  # type: ignore[return-value]
