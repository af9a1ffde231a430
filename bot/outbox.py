"""Sending the outbound queue.

Operator replies, templates, bot answers and trigger auto-messages all land in the queue
as an outbound ``Message`` plus an ``Outbox`` row in the caller's transaction
(``inbox.outgoing``, ``inbox.dialogs.queue``); the :class:`OutboxWorker` only sends
them, so a crash or restart loses nothing.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from aiohttp import ClientSession
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.ratelimit import TokenBucket
from bot.senders import (
    TIMEOUTS,
    BotSource,
    Limit,
    TelegramTransport,
    Timeouts,
    Transport,
    WhatsAppTransport,
)
from core.crypto import Vault
from core.events import EventBatch, subscribe
from core.files import FileStore
from core.models import Event
from core.queue import POLICIES, Done, Dropped, Outcome, Park, Policy, Pump, Queue, Retry, soonest
from inbox.dialogs import note_waiting, send_again, set_delivery
from inbox.models import ChannelKind, DeliveryStatus, Message, Outbox, OutboxState
from inbox.outgoing import unwanted

#: A send is started only while the lease has this much time left besides its timeout.
CLAIM_MARGIN = 2.0


class OutboxWorker:
    """Sends due rows and records what the platform said.

    Claims, order and retries are the shared queue's (``core.queue``, policy ``outbox``):
    due rows are leased in one short transaction (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so concurrent workers claim disjoint rows); different dialogs are sent
    concurrently, each dialog's rows strictly in order, also across workers and retries;
    a paused channel's rows wait. For each row the worker asks the inbox whether it is
    still wanted (``inbox.outgoing.unwanted``: the purpose's owner decides), takes a token
    from each bucket, and sends with no transaction open. The queue then settles the row:
    the platform's message id and SENT are stored in the same transaction that closes it
    (or a retry is scheduled, honouring the platform's wait, or the message fails with the
    platform's reason).

    A worker that dies leaves its leases to expire; other workers then claim those rows
    again. A send starts only while its lease has more than its timeout left (else
    it is put off without counting an attempt), so a live worker is never overtaken.

    The one window that cannot be closed: if the process dies after the platform
    accepted a message and before that transaction commits, the row is still pending,
    and once its lease expires it is sent again, so the customer gets it twice. Neither
    Telegram nor the Cloud API accepts an idempotency key, so the window is kept as short
    as it can be (reading one answer and one small commit).
    """

    def __init__(
        self,
        vault: Vault,
        bots: BotSource,
        http_session: ClientSession,
        buckets: TokenBucket,
        *,
        files: FileStore,
        policy: Policy = POLICIES["outbox"],
        poll_seconds: float = 1.0,
        timeouts: Timeouts = TIMEOUTS,
    ) -> None:
        if policy.lease.total_seconds() <= timeouts.media + CLAIM_MARGIN:
            raise ValueError(f"the lease must exceed {timeouts.media + CLAIM_MARGIN} s")
        self._vault = vault
        self._buckets = buckets
        self._timeouts = timeouts
        self._transports: dict[ChannelKind, Transport] = {
            ChannelKind.TELEGRAM: TelegramTransport(bots, files, timeouts),
            ChannelKind.WHATSAPP: WhatsAppTransport(http_session, files, timeouts),
        }
        self.queue = outbox_queue(policy)
        self.pump = Pump(
            self.run_once, name="outbox", poll=poll_seconds, next_due=partial(soonest, Outbox)
        )
        self._unsubscribe: Callable[[], None] | None = None

    # -- running ---------------------------------------------------------------------------

    def start(self, scheduler: AsyncIOScheduler) -> None:
        """Deliver on ``scheduler``'s ticks until :meth:`stop`: at once when this process
        queues a message (the committed ``message.queued`` event), when a delayed send
        comes due, and every ``poll_seconds`` for sends queued by other processes."""

        async def on_event(event: Event) -> None:
            if event.kind == "message.queued":
                self.pump.wake()

        self._unsubscribe = subscribe(on_event)
        self.pump.start(scheduler)

    async def stop(self, grace: float = 10.0) -> None:
        """Let the sends in flight finish (up to ``grace`` seconds), then stop.

        Cancelled sends keep their leases, which expire: nothing is lost.
        """
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self.pump.stop(grace)

    async def run_once(self) -> int:
        """Claim the due sends and deliver them; returns how many rows were claimed."""
        return await self.queue.work(self._deliver)

    async def _deliver(self, row: Outbox) -> Outcome:
        """Send one row, unless it is no longer wanted or cannot start within its lease."""
        message: Message = row.message
        channel = message.channel
        chat_id: str = message.dialog.chat_id
        if reason := await unwanted(row, message):
            return Dropped(reason)
        transport = self._transports[channel.kind]
        lease_end = row.next_attempt_at
        assert lease_end is not None, "a claimed row is pending until its lease ends"
        limits = transport.limits(channel, chat_id)
        wait = await self._pace(limits, lease_end, self._timeouts.of(message))
        if wait is not None:
            return Retry(
                "waiting for the rate limit", at=_now() + timedelta(seconds=wait), counts=False
            )
        credentials = self._vault.open(channel.credentials)
        return await transport.send(channel, credentials, chat_id, message)

    async def _pace(self, limits: list[Limit], lease_end: datetime, seconds: float) -> float | None:
        """Take a token from each bucket, sleeping while the lease lasts; the seconds to
        put the send off when it cannot start in time (None: go ahead)."""
        for limit in limits:
            while True:
                wait = await self._buckets.acquire(limit.key, limit.rate, limit.burst)
                if not _in_time(lease_end, wait, seconds):
                    return wait
                if not wait:
                    break
                await asyncio.sleep(wait)
        return None


def outbox_queue(policy: Policy = POLICIES["outbox"]) -> Queue[Outbox]:
    """The outbox as its workers and the parked list (``bot.parked``) see it: a paused
    channel's rows wait, and a parked send put back in the queue is queued again."""
    return Queue(
        Outbox, policy, where={"message__channel__is_active": True},
        related=("message__dialog", "message__channel"), columns=_state, on_settle=_record,
        on_requeue=_send_again,
    )  # fmt: skip


async def _send_again(batch: EventBatch, row: Outbox) -> None:
    await send_again(batch, message_id=row.message_id)


def _state(outcome: Outcome) -> dict[str, Any]:
    """The row's state after ``outcome``."""
    match outcome:
        case Done():
            return {"state": OutboxState.DONE}
        case Dropped() | Park():
            return {"state": OutboxState.FAILED}
    return {"state": OutboxState.PENDING}


async def _record(batch: EventBatch, row: Outbox, outcome: Outcome) -> None:
    """The message's delivery after its row settled, in the transaction that settles it:
    sent under the platform's id, failed with the reason, or still queued with the
    reason it waits (a server error, a rate limit, Redis or the database away)."""
    message: Message = row.message
    match outcome:
        case Done(result=external_id):
            await set_delivery(
                batch, message=message, status=DeliveryStatus.SENT, external_id=external_id
            )
        case Park(reason=reason, exhausted=True):
            error = f"gave up after {row.attempts} attempts: {reason}"
            await set_delivery(batch, message=message, status=DeliveryStatus.FAILED, error=error)
        case Dropped(reason=reason) | Park(reason=reason):
            await set_delivery(batch, message=message, status=DeliveryStatus.FAILED, error=reason)
        case Retry(reason=reason):
            await note_waiting(batch, message=message, reason=reason)


def _now() -> datetime:
    return datetime.now(UTC)


def _in_time(lease_end: datetime, wait: float, seconds: float) -> bool:
    """Whether a send starting in ``wait`` seconds and taking up to ``seconds`` ends
    before the lease does."""
    return _now() + timedelta(seconds=wait + seconds + CLAIM_MARGIN) < lease_end
