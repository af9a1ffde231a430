"""Booking reminders on WhatsApp: past the 24-hour window the trigger's approved template
goes out instead of free text, its parameters filled from the deal."""

from datetime import UTC, datetime, timedelta

from aiohttp import ClientSession

from bot.inbound import receive
from bot.outbox import OutboxWorker
from bot.ratelimit import MemoryBuckets
from bot.telegram import Bots
from core.crypto import Vault
from core.models import Event
from funnels.models import Deal
from inbox.dialogs import Inbound, Sender
from inbox.models import Author, Channel, DeliveryStatus, Dialog, Message
from tests.conftest import SECRET_KEY, Api
from tests.fakes.whatsapp import FakeGraph
from tests.triggers.test_triggers import add_trigger, move
from web.keys import FILES

WA_ID = "16505550777"


async def _quiet_whatsapp_deal(channel: dict, inbox_stage: dict) -> int:
    """A WhatsApp deal whose customer last wrote two days ago."""
    inbound = Inbound(
        sender=Sender(external_id=WA_ID, name="Maria", phone="+" + WA_ID),
        chat_id=WA_ID, external_id="wamid.IN1", text="hello",
    )  # fmt: skip
    await receive(channel=await Channel.get(id=channel["id"]), message=inbound)
    await Dialog.all().update(last_inbound_at=datetime.now(UTC) - timedelta(days=2))
    return (await Deal.get(pipeline_id=inbox_stage["pipeline_id"])).id


async def test_closed_window_sends_the_approved_template(
    api: Api, whatsapp_channel: dict, inbox_stage: dict, fake_graph: FakeGraph
) -> None:
    fake_graph.add_template("visit_reminder", language="en_US")
    stages = {s.name: s.id for s in inbox_stage["stages"]}
    config = {
        "template": "See you soon, {{ contact.name }}!",
        "whatsapp_template": {
            "name": "visit_reminder", "language": "en_US",
            "parameters": ["{{ contact.name }}", "{{ stage.name }}"],
        },
    }  # fmt: skip
    await add_trigger(api, stages["Won"], "auto_message", config)
    deal_id = await _quiet_whatsapp_deal(whatsapp_channel, inbox_stage)
    await move(api, deal_id, stages["Won"])
    sent = await Message.get(author=Author.BOT)
    assert (sent.kind, sent.text) == ("template", "visit_reminder")
    assert sent.payload["template"]["parameters"] == ["Maria", "Won"]
    bots, session = Bots(), ClientSession()
    try:
        vault = Vault(SECRET_KEY.get_secret_value())
        await OutboxWorker(
            vault, bots, session, MemoryBuckets(), files=api.client.server.app[FILES]
        ).run_once()
    finally:
        await bots.close()
        await session.close()
    [(_, request)] = fake_graph.sent.items()
    assert request["type"] == "template" and request["template"]["name"] == "visit_reminder"
    assert (await Message.get(id=sent.id)).status == DeliveryStatus.SENT


async def test_closed_window_without_a_template_is_reported_not_sent(
    api: Api, whatsapp_channel: dict, inbox_stage: dict
) -> None:
    stages = {s.name: s.id for s in inbox_stage["stages"]}
    await add_trigger(api, stages["Won"], "auto_message", {"template": "Hi {{ contact.name }}"})
    deal_id = await _quiet_whatsapp_deal(whatsapp_channel, inbox_stage)
    await move(api, deal_id, stages["Won"])
    assert not await Message.filter(author=Author.BOT).exists()
    failed = await Event.get(kind="trigger.failed", deal_id=deal_id)
    assert "24-hour window" in failed.data["error"]


async def test_template_parameters_are_checked_when_saved(api: Api, inbox_stage: dict) -> None:
    stage = inbox_stage["stages"][0].id
    config = {"template": "x", "whatsapp_template": {"name": "r", "parameters": ["{% if %}"]}}
    status, body = await api.post(
        f"/api/v1/stages/{stage}/triggers", {"kind": "auto_message", "config": config}
    )
    assert status == 422
    assert body["error"]["field"] == "config.whatsapp_template.parameters.0"
