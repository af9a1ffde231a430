"""End to end: an Altegio record of a customer who writes on Telegram becomes a deal in
Confirmed on their dialog, and the stage's "1 day before the booking" reminder reaches
them at the fake Bot API when it is due."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.inbound import receive
from funnels.models import Deal, Stage
from inbox.dialogs import Inbound, Sender
from inbox.models import Author, Channel, Dialog, Message, Outbox
from inbox.service import update_contact
from tests.altegio_sync.conftest import client, sync
from tests.conftest import Api
from tests.fakes.altegio import FakeAltegio
from tests.fakes.telegram import FakeTelegram
from tests.triggers.test_delayed import _send_due
from tests.triggers.test_triggers import add_trigger
from web.keys import FILES

DAY = 24 * 60


async def test_a_confirmed_booking_gets_its_reminder_in_telegram_a_day_before(
    api: Api,
    telegram_channel: dict,
    connection: dict,
    fake_altegio: FakeAltegio,
    fake_telegram: FakeTelegram,
) -> None:
    inbound = Inbound(
        sender=Sender(external_id="4242", name="Ann"), chat_id="4242", external_id="1", text="hi"
    )
    await receive(channel=await Channel.get(id=telegram_channel["id"]), message=inbound)
    dialog = await Dialog.get(chat_id="4242")
    await update_contact(actor=None, contact_id=dialog.contact_id, phone="+381641234567")
    confirmed = await Stage.get(name="Confirmed")
    await add_trigger(
        api,
        confirmed.id,
        "auto_message",
        {"template": "See you {{ booking.date }} at {{ booking.time }}!",
         "before_booking_minutes": DAY},
    )  # fmt: skip
    zone = ZoneInfo("Europe/Belgrade")
    local = (datetime.now(zone) + timedelta(days=3)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    record = fake_altegio.record(
        1, attendance=2, date=local.strftime("%Y-%m-%d %H:%M:%S"),
        client=client(900, phone="+381 64 123 4567"),
    )  # fmt: skip
    fake_altegio.put(record)
    await sync(api, connection)

    deal = await Deal.get(stage_id=confirmed.id)
    assert deal.dialog_id == dialog.id
    message = await Message.get(author=Author.BOT)
    assert message.dialog_id == dialog.id
    assert message.text == f"See you {local:%Y-%m-%d} at 10:00!"
    row = await Outbox.get(message_id=message.id)
    assert row.next_attempt_at == local.astimezone(UTC) - timedelta(days=1)
    await _send_due(fake_telegram, api.client.server.app[FILES])
    assert fake_telegram.calls_to("sendMessage") == [], "not due for two days"
    await Outbox.filter(id=row.id).update(next_attempt_at=datetime.now(UTC))
    await _send_due(fake_telegram, api.client.server.app[FILES])
    sent = fake_telegram.calls_to("sendMessage")
    assert [(c.params["chat_id"], c.params["text"]) for c in sent] == [(4242, message.text)]
