"""What happens when a customer writes: stored once, in a dialog, with an open deal.

Both channel adapters (Telegram, WhatsApp) translate their payloads into
:class:`inbox.dialogs.Inbound` and call :func:`receive`; the whole thing is one
transaction, committed before the webhook is answered, so a crash loses nothing and
a redelivery finds the update or message already stored.
"""

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tortoise.exceptions import IntegrityError

from bot.models import Channel, ProcessedUpdate
from bot.outbox import queue
from bot.whatsapp import StatusUpdate
from core.events import EventBatch, change
from funnels.deals import deal_for_dialog
from inbox.dialogs import (
    Inbound,
    add_inbound,
    edit_inbound,
    find_message,
    identify,
    open_dialog,
    set_delivery,
)
from inbox.models import Author, Dialog

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What became of a delivery."""

    STORED = "stored"
    DUPLICATE = "duplicate"


async def _first_time(channel: Channel, key: str | None) -> bool:
    """Remember a webhook delivery; False when it was handled before."""
    if key is None:
        return True
    if await ProcessedUpdate.filter(channel=channel, key=key).exists():
        return False
    await ProcessedUpdate.create(channel=channel, key=key)
    return True


@dataclass
class Answer:
    """A bot answer queued in the same transaction as the message it answers."""

    text: str
    payload: dict[str, Any] = field(default_factory=dict)


async def receive(
    *, channel: Channel, message: Inbound, key: str | None = None, answer: Answer | None = None
) -> Outcome:
    """Store a customer message exactly once and make sure its dialog has an open deal.

    ``key`` identifies the webhook delivery (Telegram's update_id); the message's own
    external id is checked as well. Two concurrent deliveries of one message race on
    unique keys: the loser's transaction rolls back and the retry sees a duplicate.
    """
    for attempt in (1, 2):
        try:
            return await _receive_once(channel, message, key, answer)
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("concurrent delivery on channel %s, retrying", channel.id)
    raise AssertionError("unreachable")


async def _receive_once(
    channel: Channel, message: Inbound, key: str | None, answer: Answer | None
) -> Outcome:
    async with change(None) as batch:
        if not await _first_time(channel, key):
            return Outcome.DUPLICATE
        dialog = await _dialog(batch, channel, message)
        if await add_inbound(batch, dialog=dialog, message=message) is None:
            return Outcome.DUPLICATE
        await deal_for_dialog(
            actor=None,
            dialog=dialog,
            pipeline_id=channel.pipeline_id,  # type: ignore[attr-defined]
            stage_id=channel.stage_id,  # type: ignore[attr-defined]
            owner_id=channel.owner_id,  # type: ignore[attr-defined]
        )
        if answer is not None:
            await queue(
                batch, dialog=dialog, author=Author.BOT, text=answer.text, payload=answer.payload
            )
    return Outcome.STORED


async def _dialog(batch: EventBatch, channel: Channel, message: Inbound) -> Dialog:
    contact = await identify(batch, channel_id=channel.id, sender=message.sender)
    return await open_dialog(channel_id=channel.id, contact=contact, chat_id=message.chat_id)


async def receive_edit(
    *, channel: Channel, external_id: str, text: str, key: str | None = None
) -> Outcome:
    """Apply a customer's edit once."""
    async with change(None) as batch:
        if not await _first_time(channel, key):
            return Outcome.DUPLICATE
        await edit_inbound(batch, channel_id=channel.id, external_id=external_id, text=text)
    return Outcome.STORED


async def apply_status(*, channel: Channel, update: StatusUpdate) -> Outcome:
    """Record a delivery status of one of our messages, once and only forward."""
    async with change(None) as batch:
        if not await _first_time(channel, update.key):
            return Outcome.DUPLICATE
        message = await find_message(channel_id=channel.id, external_id=update.wamid)
        if message is not None:
            await set_delivery(batch, message=message, status=update.status, error=update.error)
    return Outcome.STORED
