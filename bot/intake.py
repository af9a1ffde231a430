"""Webhook intake: accept a delivery in one INSERT, answer, then process it durably.

The webhook view only verifies the request and stores each item it carries (a
Telegram update; a WhatsApp message or status) keyed by its platform id; a
redelivery collides with the stored key and is dropped right there. The
:class:`Intake` pump then turns the stored items into contacts, dialogs, messages and
deals, in arrival order. Nothing is lost if the process dies at any point: an
unprocessed row is claimed again when its lease runs out, and processing is
idempotent (see ``bot.inbound``).
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiogram import Dispatcher
from pydantic import TypeAdapter, ValidationError

from altegio_sync.connections import get_connection
from altegio_sync.models import AltegioConnection
from altegio_sync.upsert import apply_webhook
from bot import telegram
from bot.inbound import apply_status, receive, receive_all
from bot.models import DeliveryKind, InboundDelivery
from bot.whatsapp import Routed, StatusUpdate, Unreadable, kept_raw
from core.crypto import Vault
from core.errors import DomainError, NotFound, ValidationFailed
from core.queue import POLICIES, Done, Dropped, Outcome, Park, Pump, Queue, soonest
from core.rounds import SharedInsert
from funnels.intake import intake_of
from funnels.models import DealIntake
from inbox.dialogs import Inbound
from inbox.models import Channel

log = logging.getLogger(__name__)
INBOUND = TypeAdapter(Inbound)
STATUS = TypeAdapter(StatusUpdate)


@dataclass
class Item:
    """One accepted unit of work."""

    kind: DeliveryKind
    key: str
    payload: dict[str, Any]
    #: Why it cannot be processed: stored parked, for a person (see ``bot.parked``).
    unreadable: str | None = None


def telegram_items(data: Any) -> list[Item]:
    """A Telegram webhook body is one update; its update_id is the dedupe key. A body
    that is not an update is kept parked: its sender knew the channel's secret."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return [
            unreadable_item(
                DeliveryKind.TELEGRAM_UPDATE, kept_raw(data, "not a Telegram update: no update_id")
            )
        ]
    return [Item(DeliveryKind.TELEGRAM_UPDATE, f"update:{data['update_id']}", data)]


def unreadable_item(kind: DeliveryKind, item: Unreadable) -> Item:
    """An item we cannot read, stored as it came (JSON text) with the reason."""
    return Item(kind, item.key, {"raw": item.raw}, unreadable=item.reason)


def whatsapp_items(routed: Routed) -> list[Item]:
    """A WhatsApp change carries messages (keyed by wamid) and statuses (id and status),
    and perhaps items we cannot read, kept parked."""
    messages = [
        Item(
            DeliveryKind.WHATSAPP_MESSAGE,
            f"message:{m.external_id}",
            INBOUND.dump_python(m, mode="json"),
        )
        for m in routed.messages
    ]
    statuses = [
        Item(DeliveryKind.WHATSAPP_STATUS, s.key, STATUS.dump_python(s, mode="json"))
        for s in routed.statuses
    ]
    bad = [unreadable_item(DeliveryKind.WHATSAPP_MESSAGE, u) for u in routed.unreadable]
    return messages + statuses + bad


def altegio_items(data: Any, *, company_id: int) -> list[Item]:
    """An Altegio webhook body is one event (or, defensively, a list of them); record
    events are kept, keyed by record id, change time and status, others ignored."""
    events = data if isinstance(data, list) else [data]
    items = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise ValidationFailed("an Altegio event must be an object", field=f"{index}")
        if str(event.get("company_id")) != str(company_id):
            raise ValidationFailed(
                f"event for company {event.get('company_id')!r}, not {company_id}",
                field="company_id",
            )
        if event.get("resource") != "record":
            continue
        record = event.get("data")
        changed = record.get("last_change_date") if isinstance(record, dict) else ""
        key = f"record:{event.get('resource_id')}:{changed}:{event.get('status')}"[:160]
        items.append(Item(DeliveryKind.ALTEGIO_RECORD, key, event))
    return items


def _delivery(source: Channel | AltegioConnection, item: Item, now: datetime) -> InboundDelivery:
    """The row an accepted item is stored as: due now, or parked with its reason."""
    origin = {"channel": source} if isinstance(source, Channel) else {"altegio": source}
    parked = item.unreadable is not None
    return InboundDelivery(
        **origin, kind=item.kind, key=item.key, payload=item.payload,
        thread=_thread(source.id, item.kind, item.key, item.payload),
        next_attempt_at=None if parked else now, parked_at=now if parked else None,
        last_error=item.unreadable,
    )  # fmt: skip


def _thread(source_id: int, kind: DeliveryKind, key: str, payload: dict[str, Any]) -> str:
    """The conversation (or Altegio record) an item belongs to: its items must be
    processed in order."""
    if kind == DeliveryKind.ALTEGIO_RECORD:
        return f"altegio:{source_id}:{payload.get('resource_id')}"
    if kind == DeliveryKind.WHATSAPP_MESSAGE:
        return f"{source_id}:{payload.get('chat_id')}"
    if kind == DeliveryKind.TELEGRAM_UPDATE:
        for event_kind in ("message", "edited_message", "callback_query"):
            event = payload.get(event_kind)
            event = event.get("message", event) if isinstance(event, dict) else None
            chat = event.get("chat") if isinstance(event, dict) else None
            if isinstance(chat, dict) and isinstance(chat.get("id"), int | str):
                return f"{source_id}:{chat['id']}"
    return f"{source_id}:{key}"


#: Steps in flight at once: a claim with items stored one by one (a changed sender, a
#: status) takes longer, and what comes in meanwhile is taken by another step. Measured
#: with bench/ingest.py at 200 deliveries/s, one run each, when new customers were still
#: stored one by one: time to stored at p99 4.9 s with 1 step, 4.5 s with 2, 2.3 s with
#: 4, 5.4 s with 8. On SQLite, one writer at a time, one step (``web.app``).
STEPS = 4


#: How long a step that took less than a full claim waits before its next one (``Pump``):
#: at 200 deliveries/s this halves the claims, for at most 20 ms more to stored.
LINGER = 0.02


class Intake:
    """Processes accepted deliveries; :attr:`pump` runs it in the background."""

    def __init__(
        self, *, vault: Vault, bots: telegram.Bots, dispatcher: Dispatcher, steps: int = STEPS
    ) -> None:
        self.vault = vault
        self.bots = bots
        self.dispatcher = dispatcher
        self.queue = Queue(InboundDelivery, POLICIES["intake"])
        self.pump = Pump(
            self.step, name="intake", next_due=partial(soonest, InboundDelivery), parallel=steps,
            gather=self.queue.policy.batch, linger=LINGER,
        )  # fmt: skip
        self.inserts = SharedInsert()

    async def accept(self, *batches: tuple[Channel | AltegioConnection, list[Item]]) -> None:
        """Store the items not seen before, each batch's for its source, then wake the
        pump to process them.

        A redelivery hits the unique key and is skipped by the database without touching
        anything else; an unreadable item is stored parked, with its reason. Concurrent
        webhooks share a statement (``core.rounds``): each returns once its own rows are
        committed, so the platform is answered only for what is stored. A webhook gives
        all its batches in one call (a WhatsApp body may serve several numbers), so it
        waits for one round, not one per batch.
        """
        now = datetime.now(UTC)
        rows = [_delivery(source, item, now) for source, items in batches for item in items]
        if not rows:
            return
        await self.inserts.insert_new(rows)
        self.pump.wake()

    async def step(self, limit: int | None = None) -> int:
        """Process one batch of due deliveries; returns how many were taken.

        WhatsApp messages are stored together (:func:`_ahead`); other items one by
        one, different conversations concurrently (the database waits
        overlap), each conversation's items strictly in arrival order, also across
        steps and intake workers (``core.queue.Queue.claim`` by thread). A failing item
        backs off and is parked after the policy's attempts, with its error.
        """
        lookups = _Lookups()
        return await self.queue.work(
            partial(self._handle, lookups), limit=limit, ahead=partial(_ahead, lookups)
        )

    async def _handle(self, lookups: "_Lookups", row: InboundDelivery) -> Outcome:
        if row.kind == DeliveryKind.ALTEGIO_RECORD:
            return await _altegio(row)
        channel = await lookups.channel(row.channel_id or 0)
        if row.kind in (DeliveryKind.WHATSAPP_MESSAGE, DeliveryKind.WHATSAPP_STATUS):
            try:
                item = INBOUND if row.kind == DeliveryKind.WHATSAPP_MESSAGE else STATUS
                parsed = lookups.messages.get(row.pk) or item.validate_python(row.payload)
            except ValidationError as exc:  # kept as it came: retrying will not read it
                return Park(f"unreadable WhatsApp item: {exc.errors()[0]['msg']}")
            if isinstance(parsed, StatusUpdate):
                await apply_status(channel=channel, update=parsed)
            else:
                routing = await lookups.routing(channel.id)
                await receive(channel=channel, message=parsed, routing=routing)
        else:
            token = self.vault.open(channel.credentials)["token"]
            bot = self.bots.get(channel, token)
            try:
                await telegram.process_update(self.dispatcher, bot, channel, row.payload)
            except telegram.UnreadableUpdate as exc:  # retrying will not make it readable
                return Park(f"unreadable Telegram update: {exc}")
        return Done()


async def _ahead(lookups: "_Lookups", rows: list[InboundDelivery]) -> set[int]:
    """A claim's WhatsApp messages stored together, per channel, those of known senders
    with nothing new about them and of senders nobody knows yet
    (``bot.inbound.receive_all``): nearly every message of a burst. Returns the ids of
    the rows done. A conversation with any other item in the claim is left whole to
    the one-by-one way, which keeps it in order."""
    messages: defaultdict[int, list[tuple[InboundDelivery, Inbound]]] = defaultdict(list)
    others: set[str | int] = set()
    for row in rows:
        if (message := _message(row)) is None:
            others.add(row.thread or row.pk)
        else:
            messages[row.channel_id or 0].append((row, message))
            lookups.messages[row.pk] = message  # the one-by-one way reads no row twice
    done: set[int] = set()
    for channel_id, items in messages.items():
        items = [(row, m) for row, m in items if (row.thread or row.pk) not in others]
        if items:
            channel = await lookups.channel(channel_id)
            routing = await lookups.routing(channel_id)
            left = await receive_all(
                channel=channel, messages=[m for _, m in items], routing=routing
            )
            kept = {id(m) for m in left}  # the very objects given: identity, not equality
            done |= {row.pk for row, m in items if id(m) not in kept}
    return done


def _message(row: InboundDelivery) -> Inbound | None:
    """The customer message a row holds, or None (not one, or not readable)."""
    if row.kind != DeliveryKind.WHATSAPP_MESSAGE:
        return None
    try:
        return INBOUND.validate_python(row.payload)
    except ValidationError:
        return None


@dataclass
class _Lookups:
    """What a batch's deliveries would each read again: their channel and its deal
    routing, read once per batch (a change to either applies from the next batch), and
    the messages :func:`_ahead` parsed, by row id."""

    channels: dict[int, Channel] = field(default_factory=dict)
    routings: dict[int, DealIntake] = field(default_factory=dict)
    messages: dict[int, Inbound] = field(default_factory=dict)

    async def channel(self, channel_id: int) -> Channel:
        if channel_id not in self.channels:
            self.channels[channel_id] = await Channel.get(id=channel_id)
        return self.channels[channel_id]

    async def routing(self, channel_id: int) -> DealIntake:
        if channel_id not in self.routings:
            self.routings[channel_id] = await intake_of(channel_id=channel_id)
        return self.routings[channel_id]


async def _altegio(row: InboundDelivery) -> Outcome:
    """An Altegio record event: applied as a pulled record would be; one that cannot be
    read is parked (the periodic pull reads the record again from the API)."""
    try:
        connection = await get_connection(connection_id=row.altegio_id or 0)
    except NotFound:
        return Dropped("the Altegio connection is gone")
    if not connection.enabled:
        return Dropped("the Altegio connection is disabled")
    try:
        return Done(str(await apply_webhook(connection, row.payload)))
    except DomainError as exc:
        return Park(f"unreadable Altegio event: {exc.message}")
