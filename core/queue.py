"""Durable work queues in the database: rows are claimed with a lease, handled, settled.

One mechanism serves the webhook intake, the event dispatcher, the outbox and the
Conversions API sender; how long a lease lasts and how often a row is tried are declared
for all four in :data:`POLICIES`. A row is pending while ``next_attempt_at`` is set. A
claim moves it past the lease (that value is the claim's token), so a worker that dies
mid-item leaves it to be claimed again when the lease runs out; with several workers,
PostgreSQL's ``FOR UPDATE SKIP LOCKED`` hands each row to one of them.

A handler says how an item went with an :data:`Outcome`, and :meth:`Queue.settle`
records it: :class:`Done`, :class:`Dropped` (finished without doing it),
:class:`Retry` (at a time, with the reason on the row) or :class:`Park` (a bad item,
kept with its reason for a human). Whether a retry counts towards the attempt limit is
the outcome's to say, so a failure that is not the item's fault can be retried for as
long as it lasts without ever parking the item (see :func:`failure`).
"""

import asyncio
import contextlib
import logging
import random
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import aiohttp
import asyncpg
import redis.exceptions
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from tortoise.exceptions import DBConnectionError
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from core.events import EventBatch, change
from core.queue_row import QueueRow

log = logging.getLogger(__name__)
M = TypeVar("M", bound=QueueRow)


@dataclass(frozen=True)
class Policy:
    """How one queue is served.

    ``thread`` names the column whose rows are handled in order (a deal, a conversation);
    ``count_done`` counts the try that succeeded too (the outbox's ``attempts`` is how
    often the platform was called), where the others count failed tries only;
    ``concurrency`` is how many threads of a claim are handled at once.
    """

    lease: timedelta
    max_attempts: int
    batch: int
    thread: str | None = None
    count_done: bool = False
    concurrency: int = 8


#: Every queue's lease and attempt limit, in one place. Leases are renewed while rows are
#: handled (``Queue.work``), so they bound how long a dead worker's rows wait for another.
#: The outbox's lease must outlast its longest send (``bot.senders.Timeouts``, a
#: file's); retries back off exponentially (:func:`backoff`), so the outbox's 12 attempts
#: span about 40 minutes.
POLICIES: Mapping[str, Policy] = {
    "intake": Policy(
        lease=timedelta(seconds=15), max_attempts=8, batch=200, thread="thread", concurrency=32
    ),
    "events": Policy(lease=timedelta(seconds=15), max_attempts=8, batch=200, thread="deal_id"),
    "outbox": Policy(
        lease=timedelta(seconds=30),
        max_attempts=12,
        batch=50,
        thread="dialog_id",
        count_done=True,
    ),
    "conversions": Policy(lease=timedelta(seconds=60), max_attempts=10, batch=1000),
}


@dataclass(frozen=True)
class Done:
    """The item was handled; ``result`` is what the queue's settle hook records with it
    (the outbox's platform message id)."""

    result: str | None = None


@dataclass(frozen=True)
class Dropped:
    """The item is finished without being done (no longer wanted, too old): nobody needs
    to look at it, and ``reason`` stays on the row."""

    reason: str


@dataclass(frozen=True)
class Retry:
    """Try again at ``at`` (None: back off by the attempt count), ``reason`` on the row.

    ``counts`` says whether this try counts towards the policy's attempt limit: a send
    put off for a rate limit does not, and neither should a failure of our own
    infrastructure, which is not the item's fault.
    """

    reason: str
    at: datetime | None = None
    counts: bool = True


@dataclass(frozen=True)
class Park:
    """A bad item: kept, with ``reason``, for a human. ``exhausted`` when it is parked
    because its counted retries ran out rather than refused outright."""

    reason: str
    exhausted: bool = False


Outcome = Done | Dropped | Retry | Park
Handler = Callable[[M], Awaitable[Outcome]]
#: Handles what it can of a whole claim at once; returns the ids of the rows it did.
Ahead = Callable[[list[M]], Awaitable[set[int]]]
#: Writes what an outcome means beyond the queue's columns (a message's delivery status),
#: in the transaction that settles the row.
SettleHook = Callable[[EventBatch, M, Outcome], Awaitable[None]]
#: Writes what putting a parked row back in the queue means beyond its columns (the
#: message of a send is queued again), in the transaction that requeues it.
RequeueHook = Callable[[EventBatch, M], Awaitable[None]]


#: Failures of our own infrastructure: the database or Redis unreachable, restarting, out
#: of connections, or too slow (SQLite's lock: :func:`_sqlite_busy`). They say nothing
#: about the item being handled.
INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    DBConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def infrastructure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: tortoise re-raises the driver's error) is a
    failure of the database or Redis rather than of the item. A messenger's HTTP error
    is not ours: its sender classifies it (``bot.senders``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, aiohttp.ClientError):
            return False
        if isinstance(current, INFRASTRUCTURE) or _sqlite_busy(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _sqlite_busy(exc: BaseException) -> bool:
    """SQLite's one writer is taken (its other operational errors are ours to fix)."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def failure(exc: Exception) -> Outcome:
    """What a handler's exception means, the one place failures are told apart.

    A failure of our own infrastructure is retried without counting, with the usual
    backoff, for as long as it lasts: the item is not at fault and must never be parked
    for it. Anything else is a counted retry with the error as its reason, so an item
    that fails the same way every time is parked after the policy's attempts.
    """
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    if infrastructure(exc):
        return Retry(reason, counts=False)
    return Retry(reason)


def backoff(attempt: int, *, base: float = 2.0, cap: float = 600.0) -> timedelta:
    """How long to wait after ``attempt`` failed tries: exponential, capped, and half of
    it random ("equal jitter"), so the failures of one outage spread out:
    attempt 1 waits 1-2 s, attempt 5 16-32 s, then up to ``cap``."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 (not crypto)


class Queue(Generic[M]):
    """One table served as a queue under a :class:`Policy`.

    ``where`` narrows what may be claimed (the outbox skips paused channels), ``related``
    is loaded with the claimed rows, ``columns`` maps an outcome to the table's own
    columns (its ``state``), written in the same statement as the queue's, and
    ``on_settle`` writes what else the outcome means in the same transaction (a send
    recorded with the platform's id).
    """

    def __init__(
        self,
        model: type[M],
        policy: Policy,
        *,
        where: Mapping[str, Any] | None = None,
        related: Sequence[str] = (),
        columns: Callable[[Outcome], dict[str, Any]] | None = None,
        on_settle: SettleHook[M] | None = None,
        on_requeue: RequeueHook[M] | None = None,
    ) -> None:
        self.model = model
        self.policy = policy
        self.where = dict(where or {})
        self.related = tuple(related)
        self.columns = columns
        self.on_settle = on_settle
        self.on_requeue = on_requeue

    async def claim(self, limit: int | None = None) -> list[M]:
        """Take up to ``limit`` (the policy's batch) due rows, oldest first.

        With a ``thread`` column, a row is taken only together with every unfinished row
        of its thread before it, so two workers never hold rows of one thread at once
        and each thread is handled in order: a row that is leased by another worker, or
        backing off, holds back the later rows of its thread.

        Querysets bind their connection when built, so they are built inside the
        transaction (one built outside would wait on SQLite's writer lock forever).
        ``only()`` rather than ``values_list()``: the latter drops ``FOR UPDATE``, and
        ``of`` locks this table's rows alone when ``where`` joins another.
        """
        now, thread = _now(), self.policy.thread
        async with in_transaction():
            rows = await self.due(now, limit or self.policy.batch)
            ids = await _in_order(self.model, rows, thread) if thread else [r.pk for r in rows]
            if not ids:
                return []
            await self.model.filter(id__in=ids).update(next_attempt_at=now + self.policy.lease)
        # loaded after the commit: rows fetched inside would stay bound to the closed transaction
        query = self.model.filter(id__in=ids).order_by("id")
        return await (query.select_related(*self.related) if self.related else query)

    def due(self, now: datetime, limit: int) -> QuerySet[M]:
        """The oldest ``limit`` rows due at ``now``, locked, skipping those another worker
        holds: what :meth:`claim` takes, built inside its transaction. Pending rows have
        their own index (migration 0020), so this reads them alone, however many rows
        were processed before."""
        thread = self.policy.thread
        return (
            self.model.filter(next_attempt_at__lte=now, **self.where)
            .order_by("id")
            .limit(limit)
            .select_for_update(skip_locked=True, of=(self.model._meta.db_table,))
            .only(*(("id", thread) if thread else ("id",)))
        )

    async def work(
        self,
        handle: Handler[M],
        *,
        limit: int | None = None,
        concurrency: int | None = None,
        ahead: Ahead[M] | None = None,
    ) -> int:
        """Claim due rows and handle them; returns how many were claimed.

        Rows of one thread are handled in order, threads concurrently (``concurrency``
        at a time, the policy's unless given), and the order
        holds across workers (see :meth:`claim`); a row without a thread value is a
        thread of its own. Once a row is to be retried (or its lease was lost), the rows
        after it in its thread go back unhandled, to wait for it. While rows are held
        their leases are renewed (:class:`_Leases`), so a lease can be short: a worker
        that dies leaves its rows to others within one lease, not after a long one.

        ``ahead`` first handles what it can of the whole claim at once (the intake stores
        a batch of messages in a few statements) and returns the ids it finished: done
        rows, which must be, in each thread, the first of the claim's rows. They are
        settled at once, so the later rows of their threads can be claimed by another
        step; the rest are handled one by one. When it fails, every row is handled one
        by one.

        Where a done row means nothing beyond the queue's columns, the claim's done rows
        are settled together in one statement once every row was handled (they stay
        leased until then): one write per claim rather than one per row. A worker that
        dies before it leaves them to be handled again, which handlers are built for.
        """
        rows = await self.claim(limit)
        if not rows:
            return 0
        gate = asyncio.Semaphore(concurrency or self.policy.concurrency)
        leases = _Leases(self.model, self.policy.lease, rows)
        done: list[M] = []

        async def run(items: list[M]) -> None:
            async with gate:
                for index, row in enumerate(items):
                    if not isinstance(
                        await self._attempt(row, handle, leases, done), Done | Dropped | Park
                    ):
                        rest = items[index + 1 :]
                        await leases.let_go(rest)
                        await self.release(rest)
                        return

        async with leases.renewed():
            finished = await self._ahead(ahead, rows)
            # settled at once: later rows of their threads need not wait for this claim
            await self._settle_done([row for row in rows if row.pk in finished], leases)
            threads: dict[Hashable, list[M]] = defaultdict(list)
            for row in rows:
                key = getattr(row, self.policy.thread) if self.policy.thread else None
                if row.pk not in finished:
                    threads[("row", row.pk) if key is None else key].append(row)
            await asyncio.gather(*(run(items) for items in threads.values()))
            await self._settle_done(done, leases)
        return len(rows)

    async def _ahead(self, ahead: Ahead[M] | None, rows: list[M]) -> set[int]:
        if ahead is None:
            return set()
        if not self._done_together:
            raise TypeError(f"{self.model.__name__}'s done rows are settled one by one")
        try:
            return await ahead(rows)
        except Exception:
            log.exception("%s: handling %d rows at once failed", self.model.__name__, len(rows))
            return set()

    async def _attempt(
        self, row: M, handle: Handler[M], leases: "_Leases[M]", done: list[M]
    ) -> Outcome | None:
        try:
            outcome = await handle(row)
        except Exception as exc:
            log.exception("%s %s failed", type(row).__name__, row.pk)
            outcome = failure(exc)
        if isinstance(outcome, Done) and self._done_together:
            done.append(row)
            return outcome
        await leases.let_go([row])
        recorded = await self.settle(row, outcome)
        if recorded is None and isinstance(outcome, Done):
            log.warning("%s %s was done twice (%s)", type(row).__name__, row.pk, outcome.result)
        return recorded

    @property
    def _done_together(self) -> bool:
        """Whether a done row's settle is the same for every row (see :meth:`work`): no
        hook, no columns of the table's own, and the try that succeeded is not counted."""
        return self.on_settle is None and self.columns is None and not self.policy.count_done

    async def _settle_done(self, rows: list[M], leases: "_Leases[M]") -> None:
        """Record ``Done`` for every row of ``rows`` in one statement, as :meth:`settle`
        would one by one (whoever holds them now, unless finished already)."""
        if not rows:
            return
        await leases.let_go(rows)
        values = self._values(rows[0], Done())
        del values["attempts"]  # not counted: each row keeps its own
        settled = await self.model.filter(
            pk__in=[row.pk for row in rows], next_attempt_at__isnull=False
        ).update(**values)
        if settled < len(rows):
            log.warning("%d %s rows were done twice", len(rows) - settled, self.model.__name__)

    async def release(self, rows: Sequence[M]) -> None:
        """Give rows of one claim back unhandled, due now, without counting a try; only
        while the claim still holds them."""
        if rows:
            await self.model.filter(
                pk__in=[row.pk for row in rows], next_attempt_at=rows[0].next_attempt_at
            ).update(next_attempt_at=_now())

    async def settle(self, row: M, outcome: Outcome) -> Outcome | None:
        """Record ``outcome`` for a claimed ``row``: the outcome as recorded (a counted
        retry past the attempt limit parks), or None when the row was no longer ours.

        A ``Done`` is recorded whoever holds the row now (the work happened: a platform
        has the message), unless the row is finished already; any other outcome only
        while this claim's lease holds, else the row's new holder decides.
        """
        outcome = self._within_limit(row, outcome)
        values = self._values(row, outcome)
        if self.on_settle is None:
            return outcome if await self._ours(row, outcome).update(**values) else None
        async with change(None) as batch:
            if not await self._ours(row, outcome).update(**values):
                return None
            row.update_from_dict(values)
            await self.on_settle(batch, row, outcome)
        return outcome

    def _within_limit(self, row: M, outcome: Outcome) -> Outcome:
        """``outcome``, or a park when it is a counted retry that reaches the limit."""
        attempts = row.attempts
        if (
            isinstance(outcome, Retry)
            and outcome.counts
            and attempts + 1 >= self.policy.max_attempts
        ):
            log.warning(
                "%s %s parked after %s attempts: %s",
                type(row).__name__,
                row.pk,
                attempts + 1,
                outcome.reason,
            )
            return Park(outcome.reason, exhausted=True)
        if isinstance(outcome, Park):
            log.warning("%s %s parked: %s", type(row).__name__, row.pk, outcome.reason)
        return outcome

    def _values(self, row: M, outcome: Outcome) -> dict[str, Any]:
        """The queue's columns after ``outcome``, then the table's own."""
        counted = (
            isinstance(outcome, Park)
            or (isinstance(outcome, Retry) and outcome.counts)
            or (isinstance(outcome, Done | Dropped) and self.policy.count_done)
        )
        attempts = row.attempts + int(counted)
        values: dict[str, Any] = {
            "attempts": attempts,
            "next_attempt_at": None,
            "parked_at": _now() if isinstance(outcome, Park) else None,
        }
        match outcome:
            case Retry(reason=reason, at=at):
                values |= {
                    "next_attempt_at": at or _now() + backoff(max(1, attempts)),
                    "last_error": reason[:2000],
                }
            case Dropped(reason=reason) | Park(reason=reason):
                values["last_error"] = reason[:2000]
            case Done():
                values["last_error"] = None
        if not isinstance(outcome, Retry | Park) and "processed_at" in row._meta.fields_map:
            values["processed_at"] = _now()
        return values | (self.columns(outcome) if self.columns else {})

    async def parked(self, *, limit: int = 100, after_id: int = 0) -> list[M]:
        """Parked rows, oldest first, ``limit`` of those with an id above ``after_id``."""
        query = self.model.filter(parked_at__isnull=False, id__gt=after_id)
        return await query.order_by("id").limit(limit)

    async def count_parked(self) -> int:
        """How many rows are parked (``/healthz`` reports it)."""
        return await self.model.filter(parked_at__isnull=False).count()

    async def requeue(self, batch: EventBatch, *, ids: Sequence[int] | None = None) -> list[int]:
        """Put parked rows (those of ``ids``, or all) back in the queue, due now with a
        fresh attempt count, in ``batch``'s transaction; returns the ids requeued.

        A person decided the item deserves another go (the bug is fixed, the channel is
        reconnected); rows that are not parked are left alone.
        """
        query = self.model.filter(parked_at__isnull=False)
        rows = await (query.filter(id__in=list(ids)) if ids is not None else query).order_by("id")
        if not rows:
            return []
        values: dict[str, Any] = {"parked_at": None, "next_attempt_at": _now(), "attempts": 0}
        values |= self.columns(Retry("retried by hand")) if self.columns else {}
        taken = [row.pk for row in rows]
        await self.model.filter(id__in=taken, parked_at__isnull=False).update(**values)
        for row in rows:
            if self.on_requeue is not None:
                await self.on_requeue(batch, row)
        return taken

    def _ours(self, row: M, outcome: Outcome) -> Any:
        """The row, while this settle may still write it (see :meth:`settle`)."""
        query = self.model.filter(pk=row.pk)
        if isinstance(outcome, Done):
            return query.filter(next_attempt_at__isnull=False)
        return query.filter(next_attempt_at=row.next_attempt_at)


class _Leases(Generic[M]):
    """The leases of one claim's rows, renewed every third of a lease while they are
    handled, so that only a dead worker's rows ever run out.

    A row is let go before it is settled or released: the renewal and the settle never
    write one row at once (the lease end is the claim's token, which a settle checks).
    """

    def __init__(self, model: type[M], lease: timedelta, rows: Sequence[M]) -> None:
        self.model, self.lease = model, lease
        self.held = {row.pk: row for row in rows}
        self.lock = asyncio.Lock()

    async def let_go(self, rows: Sequence[M]) -> None:
        async with self.lock:
            for row in rows:
                self.held.pop(row.pk, None)

    @contextlib.asynccontextmanager
    async def renewed(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await self._renew_once()
            except Exception as exc:  # the database is away: the lease may run out
                log.warning("%s leases not renewed: %s", self.model.__name__, exc)

    async def _renew_once(self) -> None:
        async with self.lock:
            by_token: dict[datetime | None, list[M]] = defaultdict(list)
            for row in self.held.values():
                by_token[row.next_attempt_at].append(row)
            until = _now() + self.lease
            for token, rows in by_token.items():
                ids = [row.pk for row in rows]
                kept = set(
                    await self.model.filter(id__in=ids, next_attempt_at=token).values_list(
                        "id", flat=True
                    )
                )
                await self.model.filter(id__in=list(kept), next_attempt_at=token).update(
                    next_attempt_at=until
                )
                for row in rows:
                    if row.pk in kept:
                        row.next_attempt_at = until
                    else:  # claimed by another worker after all: no longer ours
                        self.held.pop(row.pk, None)


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


class Pump:
    """Runs ``step`` whenever there may be work, driven by an APScheduler scheduler.

    ``step`` returns how many items it handled; a run keeps stepping while there are any.
    Runs happen every ``poll`` seconds (work committed by other processes, retries), at
    once on :meth:`wake` (this process queued something), and at the moment the
    soonest future item is due when ``next_due`` says when that is (a message delayed
    by two hours goes out on time, not at the next poll). The database stays the
    source of truth: the scheduler holds only wake-up times, all recomputed after each
    run, so a restart loses nothing. With ``parallel`` above one, a run steps in that
    many loops (see :meth:`drain`). A step that handled fewer than ``gather`` items is
    followed by a pause of ``linger`` seconds: what comes in at a trickle is then taken
    a few at a time, not one claim (and its round trips) per item.
    """

    #: How long a parallel loop that found nothing waits before it looks again.
    LOOK_AGAIN = 0.05

    def __init__(
        self,
        step: Callable[[], Awaitable[int]],
        *,
        name: str,
        poll: float = 1.0,
        next_due: Callable[[], Awaitable[datetime | None]] | None = None,
        parallel: int = 1,
        gather: int = 0,
        linger: float = 0.0,
    ) -> None:
        self.step = step
        self.name = name
        self.poll = poll
        self.next_due = next_due
        self.parallel = parallel
        self.gather = gather
        self.linger = linger
        self._scheduler: AsyncIOScheduler | None = None
        self._running: asyncio.Task[None] | None = None
        self._again = False
        #: Completed rounds (a round drains everything due): shown by ``/healthz``.
        self.rounds = 0

    async def drain(self) -> int:
        """Handle everything due now (tests and shutdown use this), in ``parallel`` loops
        of steps: while one step grinds through a slow claim, another takes what came in
        since. A loop that finds nothing looks again shortly while another is still in a
        step (rows it held back, and new ones, become due), and stops once none is."""
        busy, total = 0, 0

        async def loop() -> None:
            nonlocal busy, total
            while True:
                busy += 1
                try:
                    handled = await self.step()
                finally:
                    busy -= 1
                total += handled
                if not handled:
                    if not busy:
                        return
                    await asyncio.sleep(self.LOOK_AGAIN)
                elif handled < self.gather:
                    await asyncio.sleep(self.linger)

        if self.parallel == 1:
            await loop()
            return total
        loops = [asyncio.create_task(loop()) for _ in range(self.parallel)]
        try:
            await asyncio.gather(*loops)
        finally:  # one failed, or the drain is cancelled: no loop may run on unseen
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
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
                self.rounds += 1
        finally:
            self._running = None

    async def settled(self) -> None:
        """Wait until a round that began after this call has finished: everything due now
        was handled. Tests and ``/healthz`` readers use it instead of sleeping."""
        target = self.rounds + (2 if self._running is not None else 1)
        while self.rounds < target:
            self.wake()
            await asyncio.sleep(0.01)

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
    query = model.filter(next_attempt_at__gt=_now(), **filters).order_by("next_attempt_at")
    # tortoise's stubs type values_list(flat=True) as tuples
    due: datetime | None = await query.first().values_list("next_attempt_at", flat=True)  # type: ignore[assignment]
    return due
