"""The webhook intake: stored before the answer, processed after, never lost or doubled."""

import asyncio
from datetime import UTC, datetime, timedelta

from bot.models import InboundDelivery
from core.queue import POLICIES
from funnels.models import Deal
from inbox.models import Message
from tests.bot.conftest import APP_SECRET, drain
from tests.conftest import Api
from tests.fakes.whatsapp import FakeGraph, signed
from web.app import create_app
from web.keys import INTAKE

WA_ID = "16505550001"


async def post(client: Api, payload: dict) -> int:
    body, headers = signed(payload, APP_SECRET)
    status, _ = await client.call("POST", "/webhooks/whatsapp", data=body, headers=headers)
    return status


async def test_a_delivery_is_stored_before_the_answer_and_processed_after(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    payload = fake_graph.webhooks.text(WA_ID, "hello")
    assert await post(anon, payload) == 200
    assert await post(anon, payload) == 200, "a redelivery is acknowledged"
    assert await InboundDelivery.all().count() == 1
    assert await Message.all().count() == 0
    assert await drain(anon) == 1
    assert await Message.all().count() == 1 and await Deal.all().count() == 1
    row = await InboundDelivery.get()
    assert row.processed_at is not None and row.next_attempt_at is None
    assert await drain(anon) == 0


async def test_deliveries_left_by_a_dead_process_are_taken_up_by_the_next(
    anon: Api, db, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    for i in range(3):
        await post(anon, fake_graph.webhooks.text(WA_ID, f"message {i}"))
    await post(anon, fake_graph.webhooks.text("15550001111", "another chat"))
    # the first process claimed one row and died: its lease is still running
    first = await InboundDelivery.all().order_by("id").first()
    await InboundDelivery.filter(id=first.id).update(
        next_attempt_at=datetime.now(UTC) + timedelta(seconds=60)
    )
    # the same chat's later messages wait for it; another chat does not
    assert await drain(anon) == 1
    assert [m.text for m in await Message.all()] == ["another chat"]
    # the lease runs out: the chat is processed, in order, each message exactly once
    await InboundDelivery.filter(id=first.id).update(next_attempt_at=datetime.now(UTC))
    assert await drain(anon) == 3
    texts = [m.text for m in await Message.all().order_by("id")]
    assert texts == ["another chat", "message 0", "message 1", "message 2"]


async def test_processing_twice_changes_nothing(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    await post(anon, fake_graph.webhooks.text(WA_ID, "once"))
    await drain(anon)
    # a crash after processing but before the row was marked done
    await InboundDelivery.all().update(processed_at=None, next_attempt_at=datetime.now(UTC))
    assert await drain(anon) == 1
    assert await Message.all().count() == 1 and await Deal.all().count() == 1


MAX_ATTEMPTS = POLICIES["intake"].max_attempts


async def test_an_unreadable_item_parks_at_once_and_failures_back_off_then_park(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    payload = fake_graph.webhooks.text(WA_ID, "hi")
    await post(anon, payload)
    await InboundDelivery.all().update(payload={"broken": True})
    assert await drain(anon) == 1
    row = await InboundDelivery.get()
    assert row.attempts == 1 and row.processed_at is None and row.next_attempt_at is None
    assert row.parked_at is not None and "unreadable WhatsApp item" in (row.last_error or "")
    # a status for a message we do not know (yet) is retried, counted, then parked
    await post(anon, fake_graph.webhooks.status("wamid.NEVER", "delivered", WA_ID))
    assert await drain(anon) == 1
    status = await InboundDelivery.get(key__startswith="status:")
    assert status.attempts == 1 and status.next_attempt_at > datetime.now(UTC)
    await InboundDelivery.filter(id=status.id).update(
        attempts=MAX_ATTEMPTS - 1, next_attempt_at=datetime.now(UTC)
    )
    await drain(anon)
    parked = await InboundDelivery.get(id=status.id)
    assert parked.attempts == MAX_ATTEMPTS and parked.next_attempt_at is None
    assert parked.parked_at is not None
    assert await Message.all().count() == 0


async def test_the_background_pump_processes_without_being_asked(
    db, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    app = create_app(db.settings(intake_worker=True), own_database=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert await post(Api(client), fake_graph.webhooks.text(WA_ID, "live")) == 200
        async with asyncio.timeout(5):
            while not await Message.exists():
                await asyncio.sleep(0.02)
        assert app[INTAKE].pump is not None
    assert (await Message.get()).text == "live"


async def test_a_status_that_overtakes_its_message_is_retried(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    from core.events import change
    from inbox.dialogs import queue, set_delivery
    from inbox.models import Author, DeliveryStatus, Dialog

    await post(anon, fake_graph.webhooks.text(WA_ID, "hi"))
    await drain(anon)
    await post(anon, fake_graph.webhooks.status("wamid.EARLY", "delivered", WA_ID))
    await drain(anon)
    early = await InboundDelivery.get(key__startswith="status:")
    assert early.attempts == 1 and "wamid.EARLY" in early.last_error
    async with change(None) as batch:
        sent = await queue(batch, dialog=await Dialog.get(), author=Author.BOT, text="x")
        await set_delivery(
            batch, message=sent, status=DeliveryStatus.SENT, external_id="wamid.EARLY"
        )
    await InboundDelivery.filter(id=early.id).update(next_attempt_at=datetime.now(UTC))
    await drain(anon)
    assert (await Message.get(id=sent.id)).status == DeliveryStatus.DELIVERED


async def test_a_batch_of_known_and_new_customers_is_stored_as_one_by_one(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    """Known customers' messages are stored together (one statement per table), a new
    customer's one by one; either way each chat is in order, every dialog's last inbound
    message is its latest, and every message has its ``message.received`` event."""
    from core.models import Event
    from inbox.models import Dialog

    known, other, new = WA_ID, "16505550002", "16505550003"
    for chat in (known, other):
        await post(anon, fake_graph.webhooks.text(chat, f"{chat} first"))
    await drain(anon)
    sent = [(known, "k1"), (new, "n1"), (other, "o1"), (known, "k2"), (new, "n2"), (known, "k3")]
    for chat, text in sent:
        await post(anon, fake_graph.webhooks.text(chat, text))
    assert await drain(anon) == len(sent)
    dialogs = {d.chat_id: d for d in await Dialog.all()}
    assert set(dialogs) == {known, other, new} and await Deal.all().count() == 3
    for chat, texts in ((known, ["k1", "k2", "k3"]), (other, ["o1"]), (new, ["n1", "n2"])):
        messages = await Message.filter(dialog=dialogs[chat]).order_by("id")
        assert [m.text for m in messages][-len(texts) :] == texts
        assert dialogs[chat].last_inbound_id == messages[-1].id
        assert dialogs[chat].last_message_at is not None
    received = await Event.filter(kind="message.received").order_by("id")
    by_message = {e.data["message_id"]: e.data for e in received}
    messages = await Message.all()
    assert len(received) == len(messages) == len(sent) + 2
    contacts = {d.id: d.contact_id for d in dialogs.values()}  # type: ignore[attr-defined]
    for m in messages:
        dialog_id = m.dialog_id  # type: ignore[attr-defined]
        assert by_message[m.id] == {
            "dialog_id": dialog_id,
            "message_id": m.id,
            "contact_id": contacts[dialog_id],
            "kind": "text",
        }


async def test_webhooks_are_verified_against_channels_read_once_in_a_while(
    api: Api, anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    """The channels a signature is checked against are not read for every delivery: a
    change this process makes applies at once, one made elsewhere within the TTL."""
    from bot.channels import Signers
    from inbox.models import Channel
    from tests.bot.conftest import VAULT

    signers = Signers(VAULT, ttl=0.2)
    [(channel, secret)] = await signers.channels()
    assert (channel.id, secret) == (whatsapp_channel["id"], APP_SECRET)
    await Channel.filter(id=channel.id).update(is_active=False)  # another process's change
    assert len(await signers.channels()) == 1, "read again only once the TTL is over"
    await asyncio.sleep(0.25)
    assert await signers.channels() == []
    # through the API: the webhook refuses a disconnected number's deliveries at once
    await Channel.filter(id=channel.id).update(is_active=True)
    assert await post(anon, fake_graph.webhooks.text(WA_ID, "before")) == 200
    assert (await api.delete(f"/api/v1/channels/{channel.id}"))[0] == 204
    assert await post(anon, fake_graph.webhooks.text(WA_ID, "after")) == 401


async def test_the_intake_steps_in_parallel_only_where_writers_can_be(db) -> None:
    """SQLite takes one writer at a time: parallel steps would only queue for its lock."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.intake import STEPS

    app = create_app(db.settings(), own_database=False)
    async with TestClient(TestServer(app, host="127.0.0.1")):
        assert app[INTAKE].pump.parallel == (1 if db.name == "sqlite" else STEPS)
