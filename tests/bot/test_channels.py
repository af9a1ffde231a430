"""The channel API: one object in and out, though its routing into deals is the funnels'
``deal_intake`` row and the rest is the inbox's channel."""

from bot.inbound import receive
from core.models import Event, User
from funnels import pipelines
from funnels.models import Deal, DealIntake
from inbox.dialogs import Inbound, Sender
from inbox.models import Channel, Dialog, Message
from tests.asserts import assert_error
from tests.bot.test_telegram_inbound import ALICE, deliver
from tests.conftest import Api
from tests.fakes.telegram import FakeTelegram


async def test_a_channel_reads_back_with_its_routing(
    api: Api, admin: User, telegram_channel: dict, inbox_stage: dict
) -> None:
    expected = {
        "id": telegram_channel["id"],
        "kind": "telegram",
        "name": "Shop bot",
        "external_id": "123456789",
        "api_base_url": telegram_channel["api_base_url"],
        "pipeline_id": inbox_stage["pipeline_id"],
        "stage_id": inbox_stage["stage_id"],
        "owner_id": admin.id,
        "settings": {"greeting": "Hi! How can we help?"},
        "is_active": True,
        "webhook_path": f"/webhooks/telegram/{telegram_channel['id']}",
    }
    assert telegram_channel == expected
    assert await api.get(f"/api/v1/channels/{telegram_channel['id']}") == (200, expected)
    assert await api.get("/api/v1/channels") == (200, [expected])
    kinds = [e.kind for e in await Event.filter(kind__startswith="channel").order_by("id")]
    assert kinds == ["channel.created"]
    assert await Event.filter(kind="deal_intake.created").count() == 1


async def test_rerouting_sends_later_dialogs_elsewhere(
    api: Api, admin: User, telegram_channel: dict, inbox_stage: dict
) -> None:
    other = await pipelines.create_pipeline(actor=admin, name="Support", initial_stage="Asked")
    stage = (await pipelines.list_stages(pipeline_id=other.id))[0]
    path = f"/api/v1/channels/{telegram_channel['id']}"

    status, body = await api.patch(path, {"pipeline_id": other.id})
    assert status == 422 and body["error"]["field"] == "stage_id", body
    status, body = await api.patch(path, {"pipeline_id": other.id, "stage_id": stage.id})
    assert status == 200, body
    assert (body["pipeline_id"], body["stage_id"], body["name"]) == (other.id, stage.id, "Shop bot")
    status, body = await api.patch(path, {"name": "Renamed", "is_active": False})
    assert (body["name"], body["is_active"], body["stage_id"]) == ("Renamed", False, stage.id)

    inbound = Inbound(
        sender=Sender(external_id="77", name="Ann"), chat_id="77", external_id="1", text="hi"
    )
    await receive(channel=await Channel.get(id=telegram_channel["id"]), message=inbound)
    deal = await Deal.get()
    assert (deal.pipeline_id, deal.stage_id, deal.owner_id) == (other.id, stage.id, admin.id)
    updates = await Event.filter(kind__in=["channel.updated", "deal_intake.updated"]).order_by("id")
    assert [e.kind for e in updates] == ["deal_intake.updated", "channel.updated"]
    assert updates[0].data["changes"]["stage_id"] == {
        "from": inbox_stage["stage_id"],
        "to": stage.id,
    }


async def test_disconnecting_keeps_the_history_and_routing(
    api: Api, anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    url = f"/api/v1/channels/{telegram_channel['id']}"
    await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, "Hi!"))
    status, _ = await api.delete(url)
    assert status == 204
    status, body = await api.get(url)
    assert (status, body["is_active"]) == (200, False)
    assert await Message.all().count() == 1 and await Dialog.all().count() == 1
    assert await DealIntake.all().count() == 1
    answer, _ = await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, "More"))
    assert answer == 404 and await Message.all().count() == 1  # a disconnected bot is deaf
    assert (await api.patch(url, {"is_active": True}))[0] == 200  # and can be reconnected
    assert (await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, "Back")))[
        0
    ] == 200
    assert await Message.all().count() == 2


async def test_destroying_the_history_is_a_separate_confirmed_action(
    api: Api, anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    url = f"/api/v1/channels/{telegram_channel['id']}"
    await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, "Hi!"))
    status, body = await api.post(f"{url}/destroy", {"confirm": telegram_channel["name"]})
    assert_error(status, body, 409, "conflict", "channel_id")  # still connected
    await api.delete(url)
    status, body = await api.post(f"{url}/destroy", {"confirm": "shop bot"})
    assert_error(status, body, 422, "validation_failed", "confirm")
    assert await Message.all().count() == 1
    status, _ = await api.post(f"{url}/destroy", {"confirm": telegram_channel["name"]})
    assert status == 204
    assert (await api.get(url))[0] == 404
    assert await Message.all().count() == 0 and await DealIntake.all().count() == 0
    destroyed = await Event.get(kind="channel.destroyed")
    assert destroyed.data["dialogs"] == 1
