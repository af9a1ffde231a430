"""What happens when a customer writes: stored once, in a dialog, with an open deal.

The intake (``bot.intake``) translates accepted webhook deliveries into
:class:`inbox.dialogs.Inbound` and calls :func:`receive_all` for a batch (the messages
of known customers and of customers nobody knows yet, stored together) and
:func:`receive` for the rest: one transaction per message.
Every function here is idempotent, so a delivery processed twice (after a crash
between processing and marking it done) changes nothing the second time.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.exceptions import IntegrityError

from bot.whatsapp import StatusUpdate
from core.events import EventBatch, change
from funnels.deals import deal_for_dialog, deals_for_dialogs
from funnels.intake import intake_of
from funnels.models import DealIntake
from inbox.dialogs import (
    Inbound,
    add_inbound,
    add_inbound_all,
    edit_inbound,
    find_message,
    first_contacts,
    identify,
    known_dialogs,
    open_dialog,
    queue,
    set_delivery,
)
from inbox.models import Author, Channel, Dialog

log = logging.getLogger(__name__)


@dataclass
class Answer:
    """A bot answer queued in the same transaction as the message it answers."""

    text: str
    payload: dict[str, Any] = field(default_factory=dict)


async def receive(
    *,
    channel: Channel,
    message: Inbound,
    answer: Answer | None = None,
    routing: DealIntake | None = None,
) -> None:
    """Store a customer message exactly once and make sure its dialog has an open deal.

    The message's external id is unique per channel, so processing a delivery again
    (after a crash) finds it stored and does nothing, answer included. Two concurrent
    messages of a new customer race on unique keys: the loser's transaction rolls back
    and its retry finds the contact. ``routing`` is the channel's deal intake when the
    caller has it at hand (the webhook intake reads it once per batch), else it is read.
    """
    try:
        await _receive_once(channel, message, answer, routing)
    except IntegrityError:
        log.info("concurrent delivery on channel %s, retrying", channel.id)
        await _receive_once(channel, message, answer, routing)


async def _receive_once(
    channel: Channel, message: Inbound, answer: Answer | None, routing: DealIntake | None
) -> None:
    async with change(None) as batch:
        dialog = await _dialog(batch, channel, message)
        if await add_inbound(batch, dialog=dialog, message=message) is None:
            return
        intake = routing or await intake_of(channel_id=channel.id)
        await deal_for_dialog(
            actor=None,
            dialog=dialog,
            pipeline_id=intake.pipeline_id,
            stage_id=intake.stage_id,
            owner_id=intake.owner_id,
        )
        if answer is not None:
            await queue(
                batch, dialog=dialog, author=Author.BOT, text=answer.text, payload=answer.payload
            )


async def receive_all(
    *, channel: Channel, messages: Sequence[Inbound], routing: DealIntake | None = None
) -> list[Inbound]:
    """Store a batch of a channel's customer messages at once: what :func:`receive`
    would do one by one, in a handful of statements for the batch. It takes the
    messages of known senders with nothing new about them and, unless the channel
    assigns new dialogs in turn, of senders nobody knows yet, and opens a deal for each
    dialog that has none open.

    Returns the messages left for :func:`receive`: every message of a chat that has one
    of a sender whose identity changed, or whose phone another contact has, so each
    chat is stored in order.
    """
    async with change(None) as batch:
        dialogs = await known_dialogs(
            channel_id=channel.id, senders=[message.sender for message in messages]
        )
        if channel.settings.get("round_robin") is not True:
            unknown = [m for m in messages if m.sender.external_id not in dialogs]
            dialogs |= await first_contacts(batch, channel_id=channel.id, messages=unknown)
        ready, left = _ready(messages, dialogs)
        stored = await add_inbound_all(batch, messages=ready)
        intake = routing or await intake_of(channel_id=channel.id)
        written = {row.dialog_id for row in stored}
        await deals_for_dialogs(
            actor=None, dialogs=[d for d, _ in ready if d.id in written],
            pipeline_id=intake.pipeline_id, stage_id=intake.stage_id, owner_id=intake.owner_id,
        )  # fmt: skip
    return left


def _ready(
    messages: Sequence[Inbound], dialogs: dict[str, Dialog]
) -> tuple[list[tuple[Dialog, Inbound]], list[Inbound]]:
    """The messages of the chats whose every sender has a dialog, each with its dialog,
    and the rest (whole chats)."""
    chats: defaultdict[str, list[Inbound]] = defaultdict(list)
    for message in messages:
        chats[message.chat_id].append(message)
    ready: list[tuple[Dialog, Inbound]] = []
    left: list[Inbound] = []
    for chat in chats.values():
        if all(message.sender.external_id in dialogs for message in chat):
            ready += [(dialogs[message.sender.external_id], message) for message in chat]
        else:
            left += chat
    return ready, left


async def _dialog(batch: EventBatch, channel: Channel, message: Inbound) -> Dialog:
    contact = await identify(batch, channel_id=channel.id, sender=message.sender)
    return await open_dialog(
        batch,
        channel_id=channel.id,
        contact=contact,
        chat_id=message.chat_id,
        round_robin=channel.settings.get("round_robin") is True,
    )


async def receive_edit(*, channel: Channel, external_id: str, text: str) -> None:
    """Apply a customer's edit (again is harmless: the text is already the new one)."""
    async with change(None) as batch:
        await edit_inbound(batch, channel_id=channel.id, external_id=external_id, text=text)


class UnknownMessage(LookupError):
    """A status for a wamid we have not recorded (yet)."""


async def apply_status(*, channel: Channel, update: StatusUpdate) -> None:
    """Record a delivery status of one of our messages; statuses only move forward.

    Meta can report "sent" before the outbox has committed the wamid it got back, so an
    unknown wamid raises: the intake retries the status with backoff, then parks it.
    """
    async with change(None) as batch:
        message = await find_message(channel_id=channel.id, external_id=update.wamid)
        if message is None:
            raise UnknownMessage(f"no outbound message {update.wamid} (yet)")
        await set_delivery(batch, message=message, status=update.status, error=update.error)
