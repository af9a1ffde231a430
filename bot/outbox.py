"""Delivering the outbound queue: every send is recorded before it is attempted.

Operator replies, templates, bot answers and trigger auto-messages all land in the queue
as an outbound ``Message`` plus an ``Outbox`` row in the caller's transaction
(``inbox.dialogs.queue``); the :class:`OutboxWorker` delivers them, so a crash or
restart loses nothing.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import ClientSession
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot.channels import get_channel
from bot.graph import GraphClient, Template
from bot.ratelimit import TokenBucket
from bot.senders import (
    SEND_TIMEOUT,
    BotSource,
    Limit,
    Outcome,
    Permanent,
    RetryLater,
    Sent,
    TelegramTransport,
    Transport,
    WhatsAppTransport,
)
from core.crypto import Vault
from core.errors import ValidationFailed
from core.events import change, subscribe
from core.models import Event, User
from core.queue import Pump, backoff, soonest
from funnels.models import Booking, BookingStatus, Deal
from inbox.dialogs import check_service_window, get_dialog, queue, set_delivery
from inbox.models import Author, Channel, ChannelKind, DeliveryStatus, Message, Outbox, OutboxState

log = logging.getLogger(__name__)

#: The first retry comes after about 2 s, then twice as long each time, at most 10 min.
#: A send still failing temporarily after this many attempts (about 40 min) is failed.
MAX_ATTEMPTS = 12
#: A send is started only while the claim has this much time left besides its timeout.
CLAIM_MARGIN = 2.0


async def send_text(*, actor: User, dialog_id: int, text: str) -> Message:
    """An operator's reply. WhatsApp refuses free text outside the 24-hour window."""
    dialog = await get_dialog(dialog_id=dialog_id)
    channel = await Channel.get(id=dialog.channel_id)  # type: ignore[attr-defined]
    if channel.kind == ChannelKind.WHATSAPP:
        check_service_window(dialog)
    async with change(actor) as batch:
        return await queue(
            batch, dialog=dialog, author=Author.OPERATOR, author_user=actor, text=text
        )


async def send_template(
    *, actor: User, dialog_id: int, name: str, language: str, parameters: list[str]
) -> Message:
    """An approved WhatsApp template: the way to write first or after the 24-hour window.

    The message's text is the template's name (Meta renders the body); ``payload``
    holds ``{"template": {name, language, parameters}}``. Whether the template exists
    is Meta's answer: an unknown one fails the message with code 132001.
    """
    dialog = await get_dialog(dialog_id=dialog_id)
    channel = await Channel.get(id=dialog.channel_id)  # type: ignore[attr-defined]
    if channel.kind != ChannelKind.WHATSAPP:
        raise ValidationFailed("message templates are a WhatsApp feature", field="name")
    template = {"name": name, "language": language, "parameters": list(parameters)}
    async with change(actor) as batch:
        return await queue(
            batch,
            dialog=dialog,
            author=Author.OPERATOR,
            author_user=actor,
            text=name,
            kind="template",
            payload={"template": template},
        )


class TemplateCache:
    """Each channel's templates for ``ttl`` seconds: they change rarely (approval takes
    minutes to days) and Meta rate-limits the business account's API calls."""

    def __init__(self, ttl: float = 300.0) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, list[Template]]] = {}

    async def get(
        self, key: str, load: Callable[[], Awaitable[list[Template]]], *, refresh: bool = False
    ) -> list[Template]:
        """The cached list under ``key``, loaded when missing, stale or ``refresh``."""
        now = asyncio.get_running_loop().time()
        entry = self._entries.get(key)
        if refresh or entry is None or entry[0] <= now:
            entry = (now + self._ttl, await load())
            self._entries[key] = entry
        return entry[1]


async def list_templates(
    *,
    vault: Vault,
    http: ClientSession,
    cache: TemplateCache,
    channel_id: int,
    refresh: bool = False,
) -> list[Template]:
    """A WhatsApp channel's message templates (every status), cached; ``refresh`` asks
    Meta again. Raises :class:`bot.graph.GraphError` when Meta refuses."""
    channel = await get_channel(channel_id=channel_id)
    if channel.kind != ChannelKind.WHATSAPP:
        raise ValidationFailed("message templates are a WhatsApp feature", field="channel_id")
    credentials = vault.open(channel.credentials)
    client = GraphClient(http, channel.api_base_url, credentials["access_token"])
    waba_id = credentials["waba_id"]
    return await cache.get(
        f"{channel.id}:{waba_id}", lambda: client.list_templates(waba_id), refresh=refresh
    )


LEFT_STAGE = "cancelled: the deal left the stage before the message was due"
BOOKING_MOVED = "cancelled: the booking moved or went before the reminder was due"


async def _unwanted(message: Message) -> str | None:
    """Why a stage trigger's message is no longer wanted (its deal moved on to another
    stage, its booking moved), or None to send it."""
    payload = message.payload or {}
    deal_id = payload.get("deal_id")
    if deal_id is None:
        return None
    stage_id = payload.get("only_in_stage")
    if stage_id is not None and not await Deal.filter(id=deal_id, stage_id=stage_id).exists():
        return LEFT_STAGE
    starts_at = payload.get("booking_starts_at")
    if (
        starts_at is not None
        and not await Booking.filter(deal_id=deal_id, starts_at=datetime.fromisoformat(starts_at))
        .exclude(status=BookingStatus.CANCELLED)
        .exists()
    ):
        return BOOKING_MOVED
    return None


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxWorker:
    """Delivers the outbox: claims due rows, sends them, records what the platform said.

    A round (:meth:`run_once`) claims up to ``batch`` due rows by setting
    ``claimed_until`` (the claim) in one short transaction; on PostgreSQL the rows are
    read ``FOR UPDATE SKIP LOCKED``, so concurrent workers claim disjoint rows (SQLite
    serialises writers anyway). Rows of different dialogs are sent concurrently, each
    dialog's in order, every send paced by the token buckets. No transaction is open
    while a platform is called. Right after the answer, one transaction marks the row
    done and stores the platform's message id with status SENT (or schedules a retry, or
    fails the message with the platform's reason).

    A worker that dies leaves its claims to expire after ``claim_seconds``; other
    workers then claim those rows again. A send starts only while its claim has more
    than the send timeout left, so a live worker is never overtaken.

    The one window that cannot be closed: if the process dies after the platform
    accepted a message and before that transaction commits, the row is still pending,
    and once its claim expires it is sent again, so the customer gets it twice. Neither
    Telegram nor the Cloud API accepts an idempotency key, so the window is kept as short
    as it can be (reading one answer and one small commit).

    Ordering within a dialog is kept in a round: when a row is put off, the dialog's
    later rows in the round wait as long. A message queued while an earlier one waits
    for a retry may overtake it.
    """

    def __init__(
        self,
        vault: Vault,
        bots: BotSource,
        http_session: ClientSession,
        buckets: TokenBucket,
        *,
        batch: int = 50,
        claim_seconds: float = 30,
        max_attempts: int = MAX_ATTEMPTS,
        poll_seconds: float = 1.0,
    ) -> None:
        if claim_seconds <= SEND_TIMEOUT + CLAIM_MARGIN:
            raise ValueError(f"claim_seconds must exceed {SEND_TIMEOUT + CLAIM_MARGIN}")
        self._vault = vault
        self._buckets = buckets
        self._batch = batch
        self._claim_seconds = claim_seconds
        self._max_attempts = max_attempts
        self._poll_seconds = poll_seconds
        self._transports: dict[ChannelKind, Transport] = {
            ChannelKind.TELEGRAM: TelegramTransport(bots),
            ChannelKind.WHATSAPP: WhatsAppTransport(http_session),
        }
        self.pump = Pump(self.run_once, name="outbox", poll=poll_seconds, next_due=_next_due)
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

        Cancelled sends keep their claims, which expire: nothing is lost.
        """
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self.pump.stop(grace)

    async def run_once(self) -> int:
        """Claim the due sends and deliver them; returns how many rows were claimed."""
        ids, claim = await self._claim()
        if not ids:
            return 0
        rows = (
            await Outbox.filter(id__in=ids)
            .select_related("message__dialog", "message__channel")
            .order_by("id")
        )
        by_dialog: defaultdict[int, list[Outbox]] = defaultdict(list)
        for row in rows:
            by_dialog[row.message.dialog_id].append(row)
        async with asyncio.TaskGroup() as group:
            for dialog_rows in by_dialog.values():
                group.create_task(self._deliver_dialog(dialog_rows, claim))
        return len(ids)

    # -- one round -------------------------------------------------------------------------

    async def _claim(self) -> tuple[list[int], datetime]:
        """Claim due rows no live worker holds (unclaimed, or the claim expired)."""
        now = _now()
        claim = now + timedelta(seconds=self._claim_seconds)
        async with in_transaction():
            due = (
                await Outbox.filter(
                    state=OutboxState.PENDING,
                    next_attempt_at__lte=now,
                    message__channel__is_active=True,
                )
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
                .order_by("next_attempt_at", "id")
                .limit(self._batch)
                .select_for_update(skip_locked=True, of=("outbox",))
                .only("id")
            )
            ids = [row.id for row in due]
            if ids:
                await Outbox.filter(id__in=ids).update(claimed_until=claim)
        return ids, claim

    async def _deliver_dialog(self, rows: list[Outbox], claim: datetime) -> None:
        """One dialog's rows in order; once one is put off, the later ones wait as long."""
        for index, row in enumerate(rows):
            delay = await self._deliver(row, claim)
            if delay is not None:
                await self._put_off(rows[index + 1 :], claim, delay)
                return

    async def _deliver(self, row: Outbox, claim: datetime) -> float | None:
        """Send one row; the seconds until it is tried again, or None once it is final."""
        message: Message = row.message
        channel: Channel = message.channel
        chat_id: str = message.dialog.chat_id
        if reason := await _unwanted(message):
            return await self._record(row, claim, Permanent(reason))
        transport = self._transports[channel.kind]
        wait = await self._pace(transport.limits(channel, chat_id), claim)
        if wait is not None:
            await self._put_off([row], claim, wait)
            return wait
        outcome: Outcome
        try:
            credentials = self._vault.open(channel.credentials)
            outcome = await transport.send(channel, credentials, chat_id, message)
        except Exception as exc:  # one broken row must not stop the others
            log.exception("sending outbox row %s failed", row.id)
            outcome = RetryLater(None, f"could not send: {exc!r}")
        return await self._record(row, claim, outcome)

    async def _pace(self, limits: list[Limit], claim: datetime) -> float | None:
        """Take a token from each bucket, sleeping while the claim lasts; the seconds to
        put the send off when it cannot start in time (None: go ahead)."""
        for limit in limits:
            while True:
                wait = await self._buckets.acquire(limit.key, limit.rate, limit.burst)
                if not _in_time(claim, wait):
                    return wait
                if not wait:
                    break
                await asyncio.sleep(wait)
        return None

    async def _put_off(self, rows: list[Outbox], claim: datetime, delay: float) -> None:
        """Release rows for later without counting an attempt (only while still ours)."""
        if rows:
            await Outbox.filter(
                id__in=[row.id for row in rows], state=OutboxState.PENDING, claimed_until=claim
            ).update(next_attempt_at=_now() + timedelta(seconds=delay), claimed_until=None)

    async def _record(self, row: Outbox, claim: datetime, outcome: Outcome) -> float | None:
        """Store the platform's answer in one transaction; the retry delay, if any.

        A ``Sent`` is stored whoever holds the claim now (the platform has the message);
        other outcomes only while the claim is still ours, else its new holder decides.
        """
        async with change(None) as batch:
            current = await Outbox.filter(id=row.id).select_for_update().first()
            if current is None or current.state != OutboxState.PENDING:
                if isinstance(outcome, Sent):
                    log.warning("outbox row %s was sent again as %s", row.id, outcome.external_id)
                return None
            if not isinstance(outcome, Sent) and current.claimed_until != claim:
                return None
            current.attempts += 1
            current.claimed_until = None
            delay = None
            if isinstance(outcome, Sent):
                current.state, current.last_error = OutboxState.DONE, None
                await set_delivery(
                    batch,
                    message=row.message,
                    status=DeliveryStatus.SENT,
                    external_id=outcome.external_id,
                )
            elif isinstance(outcome, Permanent) or current.attempts >= self._max_attempts:
                reason = outcome.reason
                if isinstance(outcome, RetryLater):
                    reason = f"gave up after {current.attempts} attempts: {reason}"
                current.state, current.last_error = OutboxState.FAILED, reason
                await set_delivery(
                    batch, message=row.message, status=DeliveryStatus.FAILED, error=reason
                )
            else:
                delay = outcome.after_seconds
                if delay is None:
                    delay = backoff(current.attempts).total_seconds()
                current.next_attempt_at = _now() + timedelta(seconds=delay)
                current.last_error = outcome.reason
            await current.save(
                update_fields=[
                    "state",
                    "attempts",
                    "next_attempt_at",
                    "claimed_until",
                    "last_error",
                ]
            )
        return delay


async def _next_due() -> datetime | None:
    """When the soonest delayed or retried send comes due."""
    return await soonest(Outbox, state=OutboxState.PENDING)


def _in_time(claim: datetime, wait: float) -> bool:
    """Whether a send starting in ``wait`` seconds ends before the claim does."""
    return _now() + timedelta(seconds=wait + SEND_TIMEOUT + CLAIM_MARGIN) < claim
