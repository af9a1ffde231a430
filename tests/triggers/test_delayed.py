"""Delayed auto-messages: held until due, moved into business hours, and dropped when
the deal has left the stage by then; sent through the real outbox to the fake Bot API."""

from datetime import UTC, datetime, timedelta

from aiohttp import ClientSession

from bot.inbound import receive
from bot.outbox import OutboxWorker
from bot.ratelimit import MemoryBuckets
from bot.telegram import Bots
from core.crypto import Vault
from core.files import FileStore
from funnels.models import Deal
from inbox.dialogs import Inbound, Sender
from inbox.models import Author, Channel, DeliveryStatus, Message, Outbox
from tests.conftest import SECRET_KEY, Api
from tests.fakes.telegram import FakeTelegram
from tests.triggers.test_triggers import add_trigger, move
from web.keys import FILES


async def _won_with(api: Api, channel: dict, inbox_stage: dict, config: dict) -> dict[str, int]:
    """An auto-message trigger on Won, a deal with a Telegram dialog, moved to Won."""
    stages = {s.name: s.id for s in inbox_stage["stages"]}
    await add_trigger(api, stages["Won"], "auto_message", config)
    inbound = Inbound(
        sender=Sender(external_id="4242", name="Ann"), chat_id="4242", external_id="1", text="hi"
    )
    await receive(channel=await Channel.get(id=channel["id"]), message=inbound)
    deal_id = (await Deal.get(pipeline_id=inbox_stage["pipeline_id"])).id
    await move(api, deal_id, stages["Won"])
    return {"deal": deal_id, **stages}


async def _send_due(fake: FakeTelegram, files: FileStore) -> None:
    bots, session = Bots(), ClientSession()
    try:
        worker = OutboxWorker(
            Vault(SECRET_KEY.get_secret_value()), bots, session, MemoryBuckets(), files=files
        )
        await worker.run_once()
    finally:
        await bots.close()
        await session.close()


async def test_a_delayed_message_waits_then_goes_out(
    api: Api,
    telegram_channel: dict,
    inbox_stage: dict,
    fake_telegram: FakeTelegram,
) -> None:
    config = {"template": "How was it?", "delay_minutes": 120}
    await _won_with(api, telegram_channel, inbox_stage, config)
    message = await Message.get(author=Author.BOT, text="How was it?")
    row = await Outbox.get(message_id=message.id)
    late = row.next_attempt_at - datetime.now(UTC)
    assert timedelta(minutes=119) < late <= timedelta(minutes=120)
    await _send_due(fake_telegram, api.client.server.app[FILES])
    assert fake_telegram.calls_to("sendMessage") == []
    await Outbox.filter(id=row.id).update(next_attempt_at=datetime.now(UTC))
    await _send_due(fake_telegram, api.client.server.app[FILES])
    assert [c.params["text"] for c in fake_telegram.calls_to("sendMessage")] == ["How was it?"]
    assert (await Message.get(id=message.id)).status == DeliveryStatus.SENT


async def test_a_message_due_after_the_deal_moved_on_is_dropped(
    api: Api,
    telegram_channel: dict,
    inbox_stage: dict,
    fake_telegram: FakeTelegram,
) -> None:
    config = {"template": "Review us!", "delay_minutes": 60}
    ids = await _won_with(api, telegram_channel, inbox_stage, config)
    await move(api, ids["deal"], ids["Lost"])
    await Outbox.all().update(next_attempt_at=datetime.now(UTC))
    await _send_due(fake_telegram, api.client.server.app[FILES])
    assert fake_telegram.calls_to("sendMessage") == []
    dropped = await Message.get(author=Author.BOT, text="Review us!")
    assert dropped.status == DeliveryStatus.FAILED
    assert "left the stage" in dropped.error


async def test_business_hours_hold_a_night_message_until_morning(
    api: Api,
    telegram_channel: dict,
    inbox_stage: dict,
) -> None:
    hours = {"start": "09:00", "end": "09:01", "timezone": "UTC"}  # open one minute a day
    config = {"template": "Good morning", "business_hours": hours}
    ids = await _won_with(api, telegram_channel, inbox_stage, config)
    message = await Message.get(author=Author.BOT, text="Good morning")
    due = (await Outbox.get(message_id=message.id)).next_attempt_at
    assert (due.hour, due.minute) == (9, 0)
    assert timedelta(0) <= due - datetime.now(UTC) <= timedelta(days=1)
    status, body = await api.post(
        f"/api/v1/stages/{ids['Won']}/triggers",
        {"kind": "auto_message",
         "config": {"template": "x", "business_hours": {"timezone": "Mars/Base"}}},
    )  # fmt: skip
    assert status == 422 and "business_hours" in body["error"]["field"]
