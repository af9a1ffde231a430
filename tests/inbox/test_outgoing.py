"""Saying something to a customer is the inbox's: the message, its send and its event,
queued in one transaction with no sender in the process."""

import pytest

from core.errors import Conflict, ValidationFailed
from core.models import Event, User
from inbox.models import Outbox
from inbox.outgoing import send_template, send_text
from tests.bot.test_outbox import open_chat


async def test_a_reply_is_queued_with_its_event(admin: User, telegram_channel: dict) -> None:
    dialog = await open_chat(telegram_channel, "5001")
    message = await send_text(actor=admin, dialog_id=dialog.id, text="On its way")
    assert (message.status, message.author, message.text) == ("queued", "operator", "On its way")
    row = await Outbox.get(message_id=message.id)
    assert (row.state, row.dialog_id, row.attempts) == ("pending", dialog.id, 0)
    event = await Event.get(kind="message.queued")
    assert event.data["message_id"] == message.id and event.actor_id == admin.id


async def test_whatsapp_rules_are_checked_before_anything_is_queued(
    admin: User, telegram_channel: dict, whatsapp_channel: dict
) -> None:
    closed = await open_chat(whatsapp_channel, "16505551234", inbound_hours_ago=25)
    with pytest.raises(Conflict):
        await send_text(actor=admin, dialog_id=closed.id, text="hi")
    telegram = await open_chat(telegram_channel, "5001")
    with pytest.raises(ValidationFailed):
        await send_template(
            actor=admin, dialog_id=telegram.id, name="order_ready", language="en_US", parameters=[]
        )
    assert await Outbox.all().count() == 0
    sent = await send_template(
        actor=admin, dialog_id=closed.id, name="order_ready", language="en_US", parameters=["A"]
    )
    assert sent.payload == {
        "template": {"name": "order_ready", "language": "en_US", "parameters": ["A"]}
    }
    assert await Outbox.filter(message_id=sent.id, state="pending").exists()
