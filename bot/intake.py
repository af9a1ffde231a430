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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Dispatcher
from pydantic import TypeAdapter

from bot import telegram
from bot.inbound import apply_status, receive
from bot.models import Channel, DeliveryKind, InboundDelivery
from bot.whatsapp import Routed, StatusUpdate
from core.crypto import Vault
from core.errors import ValidationFailed
from core.queue import Pump, backoff, claim
from inbox.dialogs import Inbound

log = logging.getLogger(__name__)
INBOUND = TypeAdapter(Inbound)
STATUS = TypeAdapter(StatusUpdate)
#: After this many failed attempts a delivery is parked (kept, with its error, for a human).
MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=60)


@dataclass
class Item:
    """One accepted unit of work."""

    kind: DeliveryKind
    key: str
    payload: dict[str, Any]


def telegram_items(data: Any) -> list[Item]:
    """A Telegram webhook body is one update; its update_id is the dedupe key."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise ValidationFailed("not a Telegram update: no update_id", field="update_id")
    return [Item(DeliveryKind.TELEGRAM_UPDATE, f"update:{data['update_id']}", data)]


def whatsapp_items(routed: Routed) -> list[Item]:
    """A WhatsApp change carries messages (keyed by wamid) and statuses (id and status)."""
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
    return messages + statuses


async def accept(channel: Channel, items: list[Item]) -> None:
    """Store items not seen before, in one statement (redeliveries are ignored by key)."""
    if not items:
        return
    now = datetime.now(UTC)
    rows = [
        InboundDelivery(
            channel=channel, kind=i.kind, key=i.key, payload=i.payload, next_attempt_at=now
        )
        for i in items
    ]
    await InboundDelivery.bulk_create(rows, ignore_conflicts=True)


class Intake:
    """Processes accepted deliveries; :attr:`pump` runs it in the background."""

    def __init__(self, *, vault: Vault, bots: telegram.Bots, dispatcher: Dispatcher) -> None:
        self.vault = vault
        self.bots = bots
        self.dispatcher = dispatcher
        self.pump = Pump(self.step, name="intake")

    async def step(self, limit: int = 100) -> int:
        """Process one batch of due deliveries; returns how many were taken."""
        rows = await claim(InboundDelivery, limit=limit, lease=LEASE)
        channels = {c.id: c for c in await Channel.filter(id__in={r.channel_id for r in rows})}  # type: ignore[attr-defined]
        for row in rows:
            await self._process(row, channels[row.channel_id])  # type: ignore[attr-defined]
        return len(rows)

    async def _process(self, row: InboundDelivery, channel: Channel) -> None:
        try:
            await self._handle(row, channel)
        except Exception as exc:
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            parked = row.attempts >= MAX_ATTEMPTS
            row.next_attempt_at = None if parked else datetime.now(UTC) + backoff(row.attempts)
            log.exception(
                "delivery %s (%s) failed, attempt %s%s",
                row.id, row.kind, row.attempts, ", parked" if parked else "",
            )  # fmt: skip
            await row.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            return
        row.processed_at, row.next_attempt_at = datetime.now(UTC), None
        await row.save(update_fields=["processed_at", "next_attempt_at"])

    async def _handle(self, row: InboundDelivery, channel: Channel) -> None:
        if row.kind == DeliveryKind.WHATSAPP_MESSAGE:
            await receive(channel=channel, message=INBOUND.validate_python(row.payload))
        elif row.kind == DeliveryKind.WHATSAPP_STATUS:
            await apply_status(channel=channel, update=STATUS.validate_python(row.payload))
        else:
            token = self.vault.open(channel.credentials)["token"]
            bot = self.bots.get(channel, token)
            await telegram.process_update(self.dispatcher, bot, channel, row.payload)
