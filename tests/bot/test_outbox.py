"""The outbox: replies and templates reach the (fake) messengers once, over real HTTP.

Workers are driven by hand (``run_once``) so every test decides when a send happens;
time is moved by editing ``next_attempt_at`` (a leased row's is when its lease ends).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.graph import GraphError
from bot.outbox import OutboxWorker
from bot.senders import classify
from core.events import change, subscribe
from core.models import Event, User
from core.queue import Park, Retry, backoff
from inbox.dialogs import Sender, identify, open_dialog, queue
from inbox.models import Author, Dialog, Message, Outbox, OutboxState
from inbox.outgoing import register_check, send_text
from tests.bot.conftest import MakeWorker
from tests.conftest import Api, Backend
from tests.fakes.telegram import FakeTelegram
from tests.fakes.whatsapp import FakeGraph
from web.app import create_app

CHAT = 5001
WA_ID = "16505551234"


async def open_chat(channel: dict, chat_id: str, *, inbound_hours_ago: float | None = 0) -> Dialog:
    """A dialog as a customer's first message leaves it (window open ``hours_ago``)."""
    async with change(None) as batch:
        contact = await identify(
            batch,
            channel_id=channel["id"],
            sender=Sender(external_id=chat_id, name=f"Customer {chat_id}"),
        )
        dialog = await open_dialog(
            batch, channel_id=channel["id"], contact=contact, chat_id=chat_id
        )
    if inbound_hours_ago is not None:
        dialog.last_inbound_at = datetime.now(UTC) - timedelta(hours=inbound_hours_ago)
        await dialog.save(update_fields=["last_inbound_at"])
    return dialog


async def reply(api: Api, dialog: Dialog, text: str) -> dict:
    status, body = await api.post(f"/api/v1/dialogs/{dialog.id}/messages", {"text": text})
    assert status == 201, body
    return body


@contextlib.asynccontextmanager
async def expect_sent() -> AsyncIterator[None]:
    """The block queues a message; then wait (up to 5 s) for the commit saying it went out."""
    sent = asyncio.Event()

    async def on_event(event: Event) -> None:
        if event.kind == "message.status" and event.data["status"] == "sent":
            sent.set()

    unsubscribe = subscribe(on_event)
    try:
        yield
        async with asyncio.timeout(5):
            await sent.wait()
    finally:
        unsubscribe()


async def make_due() -> None:
    """Move the clock past every scheduled retry."""
    await Outbox.filter(state=OutboxState.PENDING).update(
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
    )


# -- delivery -------------------------------------------------------------------------------


async def test_operator_reply_reaches_telegram(
    api: Api, telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    queued = await reply(api, dialog, "Your order ships today")
    assert queued["status"] == "queued" and queued["external_id"] is None
    assert await worker.run_once() == 1
    [call] = fake_telegram.calls_to("sendMessage")
    assert call.params["chat_id"] == CHAT and call.params["text"] == "Your order ships today"
    [(chat, message_id)] = fake_telegram.messages
    message = await Message.get(id=queued["id"])
    assert (message.status, message.external_id) == ("sent", f"{chat}:{message_id}")
    row = await Outbox.get(message_id=message.id)
    assert (row.state, row.attempts, row.next_attempt_at) == ("done", 1, None)
    event = await Event.get(kind="message.status")
    assert event.data["message_id"] == message.id and event.data["status"] == "sent"
    _, listed = await api.get(f"/api/v1/dialogs/{dialog.id}/messages")
    assert listed[-1]["status"] == "sent"
    assert await worker.run_once() == 0
    assert len(fake_telegram.calls_to("sendMessage")) == 1


async def test_bot_answer_keeps_its_keyboard(
    telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    keyboard = {"keyboard": [[{"text": "Share my phone", "request_contact": True}]]}
    async with change(None) as batch:
        await queue(
            batch,
            dialog=dialog,
            author=Author.BOT,
            text="Hi!",
            payload={"reply_markup": keyboard},
        )
    await worker.run_once()
    [call] = fake_telegram.calls_to("sendMessage")
    assert call.params["reply_markup"]["keyboard"] == keyboard["keyboard"]


async def test_operator_reply_reaches_whatsapp(
    api: Api, whatsapp_channel: dict, fake_graph: FakeGraph, worker: OutboxWorker
) -> None:
    dialog = await open_chat(whatsapp_channel, WA_ID)
    queued = await reply(api, dialog, "See you on Friday")
    assert await worker.run_once() == 1
    [(wamid, body)] = fake_graph.sent.items()
    assert body["to"] == WA_ID and body["type"] == "text"
    assert body["text"]["body"] == "See you on Friday"
    message = await Message.get(id=queued["id"])
    assert (message.status, message.external_id) == ("sent", wamid)
    assert (await Outbox.get(message_id=message.id)).state == "done"


async def test_sends_to_one_chat_are_paced_and_in_order(
    telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    """Telegram allows one message a second per chat: the second waits for its token."""
    dialog = await open_chat(telegram_channel, str(CHAT))
    async with change(None) as batch:
        for text in ("first", "second"):
            await queue(batch, dialog=dialog, author=Author.BOT, text=text)
    started = asyncio.get_running_loop().time()
    assert await worker.run_once() == 2
    assert asyncio.get_running_loop().time() - started >= 0.9
    assert [c.params["text"] for c in fake_telegram.calls_to("sendMessage")] == [
        "first",
        "second",
    ]


async def test_a_later_message_never_overtakes_one_waiting_for_a_retry(
    telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    async with change(None) as batch:
        await queue(batch, dialog=dialog, author=Author.BOT, text="first")
    fake_telegram.fail_next("sendMessage", status=500)
    assert await worker.run_once() == 1
    async with change(None) as batch:
        await queue(batch, dialog=dialog, author=Author.BOT, text="second")
    assert await worker.run_once() == 0, "the second waits behind the first's retry"
    await make_due()
    assert await worker.run_once() == 2
    texts = [c.params["text"] for c in fake_telegram.calls_to("sendMessage")]
    assert texts == ["first", "first", "second"]


async def test_the_purpose_of_a_send_decides_whether_it_still_goes(
    telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    """The sender asks the check registered for the row's purpose and knows no rules."""
    dialog = await open_chat(telegram_channel, str(CHAT))

    async def check(message: Message) -> str | None:
        return "cancelled: test says no" if message.text == "unwanted" else None

    async with change(None) as batch:
        for text in ("unwanted", "wanted"):
            await queue(batch, dialog=dialog, author=Author.BOT, text=text, purpose="test")
        await queue(batch, dialog=dialog, author=Author.BOT, text="unknown", purpose="nobody")
    unregister = register_check("test", check)
    try:
        assert await worker.run_once() == 3
    finally:
        unregister()
    assert [c.params["text"] for c in fake_telegram.calls_to("sendMessage")] == ["wanted"]
    dropped = await Message.get(text="unwanted")
    assert (dropped.status, dropped.error) == ("failed", "cancelled: test says no")
    assert (await Outbox.get(message_id=dropped.id)).state == "failed"
    unchecked = await Outbox.get(message__text="unknown")
    assert unchecked.state == "pending" and "LookupError" in unchecked.last_error


async def test_paused_channel_holds_its_sends(
    api: Api, telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    await reply(api, dialog, "hello")
    await api.patch(f"/api/v1/channels/{telegram_channel['id']}", {"is_active": False})
    assert await worker.run_once() == 0
    await api.patch(f"/api/v1/channels/{telegram_channel['id']}", {"is_active": True})
    assert await worker.run_once() == 1
    assert len(fake_telegram.calls_to("sendMessage")) == 1


# -- retries --------------------------------------------------------------------------------


async def test_telegram_flood_wait_is_honoured(
    api: Api, telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    queued = await reply(api, dialog, "hello")
    fake_telegram.fail_next("sendMessage", status=429, retry_after=7)
    before = datetime.now(UTC)
    assert await worker.run_once() == 1
    row = await Outbox.get(message_id=queued["id"])
    assert (row.state, row.attempts) == ("pending", 1)
    assert before + timedelta(seconds=7) <= row.next_attempt_at <= before + timedelta(seconds=9)
    assert "retry after 7" in row.last_error
    assert (await Message.get(id=queued["id"])).status == "queued"
    assert await worker.run_once() == 0  # not due yet
    assert len(fake_telegram.calls_to("sendMessage")) == 1
    await make_due()
    assert await worker.run_once() == 1
    assert len(fake_telegram.calls_to("sendMessage")) == 2
    message = await Message.get(id=queued["id"])
    assert message.status == "sent" and message.external_id
    assert (await Outbox.get(message_id=message.id)).attempts == 2


async def test_server_errors_back_off_exponentially(
    api: Api, telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    queued = await reply(api, dialog, "hello")
    fake_telegram.fail_next("sendMessage", status=500)
    before = datetime.now(UTC)
    await worker.run_once()
    row = await Outbox.get(message_id=queued["id"])
    assert before + timedelta(seconds=1) <= row.next_attempt_at <= before + timedelta(seconds=3)
    assert "Internal Server Error" in row.last_error
    assert all(1 <= backoff(1).total_seconds() <= 2 for _ in range(50))
    assert all(16 <= backoff(5).total_seconds() <= 32 for _ in range(50))
    assert all(300 <= backoff(20).total_seconds() <= 600 for _ in range(50))


async def test_whatsapp_rate_limits_are_retried(
    api: Api, whatsapp_channel: dict, fake_graph: FakeGraph, worker: OutboxWorker
) -> None:
    dialog = await open_chat(whatsapp_channel, WA_ID)
    queued = await reply(api, dialog, "hello")
    fake_graph.fail_next(130429)
    await worker.run_once()
    row = await Outbox.get(message_id=queued["id"])
    assert row.state == "pending" and row.last_error.startswith("130429: (#130429) Rate limit hit")
    fake_graph.fail_next(131056)
    await make_due()
    before = datetime.now(UTC)
    await worker.run_once()
    row = await Outbox.get(message_id=queued["id"])
    assert row.next_attempt_at >= before + timedelta(seconds=6)  # the pair limit's pace
    await make_due()
    assert await worker.run_once() == 1
    message = await Message.get(id=queued["id"])
    assert message.status == "sent" and message.external_id in fake_graph.sent
    assert len(fake_graph.calls_to("messages")) == 3


async def test_temporary_failures_give_up_after_max_attempts(
    api: Api, telegram_channel: dict, fake_telegram: FakeTelegram, make_worker: MakeWorker
) -> None:
    worker = make_worker(max_attempts=2)
    dialog = await open_chat(telegram_channel, str(CHAT))
    queued = await reply(api, dialog, "hello")
    fake_telegram.fail_next("sendMessage", status=502, times=2)
    await worker.run_once()
    await make_due()
    await worker.run_once()
    message = await Message.get(id=queued["id"])
    assert message.status == "failed"
    assert message.error == "gave up after 2 attempts: Telegram server says - Bad Gateway"
    assert (await Outbox.get(message_id=message.id)).state == "failed"


# -- permanent failures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [(403, "Forbidden: bot was blocked by the user"), (400, "Bad Request: chat not found")],
)
async def test_telegram_refusals_fail_the_message(
    api: Api,
    telegram_channel: dict,
    fake_telegram: FakeTelegram,
    worker: OutboxWorker,
    status: int,
    reason: str,
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    queued = await reply(api, dialog, "hello")
    fake_telegram.fail_next("sendMessage", status=status)
    await worker.run_once()
    message = await Message.get(id=queued["id"])
    assert (message.status, message.error) == ("failed", reason)
    row = await Outbox.get(message_id=message.id)
    assert (row.state, row.attempts, row.last_error) == ("failed", 1, reason)
    await make_due()
    assert await worker.run_once() == 0
    assert len(fake_telegram.calls_to("sendMessage")) == 1
    event = await Event.get(kind="message.status")
    assert event.data == {
        "dialog_id": dialog.id,
        "message_id": message.id,
        "status": "failed",
        "error": reason,
    }


async def test_undeliverable_whatsapp_message_fails(
    api: Api, whatsapp_channel: dict, fake_graph: FakeGraph, worker: OutboxWorker
) -> None:
    dialog = await open_chat(whatsapp_channel, WA_ID)
    queued = await reply(api, dialog, "hello")
    fake_graph.fail_next(131026)
    await worker.run_once()
    message = await Message.get(id=queued["id"])
    assert message.status == "failed"
    assert message.error == "131026: (#131026) Message undeliverable (Message Undeliverable.)"
    await make_due()
    assert await worker.run_once() == 0
    assert len(fake_graph.calls_to("messages")) == 1


@pytest.mark.parametrize(
    ("code", "status", "retry"),
    [
        (130429, 400, True),
        (131056, 400, True),
        (80007, 400, True),
        (131000, 500, True),
        (None, 502, True),
        (131026, 400, False),
        (131047, 400, False),
        (132001, 400, False),
        (190, 401, False),
        (100, 400, False),
    ],
)
def test_whatsapp_errors_are_classified_by_code(code: int | None, status: int, retry: bool) -> None:
    outcome = classify(GraphError(status, code, "message"))
    assert isinstance(outcome, Retry if retry else Park)


# -- the 24-hour window and templates -------------------------------------------------------


async def test_outside_the_window_only_templates_go(
    api: Api, whatsapp_channel: dict, fake_graph: FakeGraph, worker: OutboxWorker
) -> None:
    fake_graph.add_template("order_ready", language="en_US")
    dialog = await open_chat(whatsapp_channel, WA_ID, inbound_hours_ago=25)
    status, body = await api.post(f"/api/v1/dialogs/{dialog.id}/messages", {"text": "hi"})
    assert status == 409 and body["error"]["code"] == "window_closed"
    template = {"name": "order_ready", "language": "en_US", "parameters": ["Alice"]}
    status, sent = await api.post(f"/api/v1/dialogs/{dialog.id}/templates", template)
    assert status == 201, sent
    assert (sent["kind"], sent["text"], sent["status"]) == ("template", "order_ready", "queued")
    assert sent["payload"] == {"template": template}
    assert await worker.run_once() == 1
    [(wamid, request)] = fake_graph.sent.items()
    assert request["type"] == "template" and request["to"] == WA_ID
    assert request["template"] == {
        "name": "order_ready",
        "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Alice"}]}],
    }
    message = await Message.get(id=sent["id"])
    assert (message.status, message.external_id) == ("sent", wamid)


async def test_unknown_template_fails_with_metas_reason(
    api: Api, whatsapp_channel: dict, fake_graph: FakeGraph, worker: OutboxWorker
) -> None:
    dialog = await open_chat(whatsapp_channel, WA_ID, inbound_hours_ago=None)
    body = {"name": "no_such_template", "language": "en_US"}
    status, sent = await api.post(f"/api/v1/dialogs/{dialog.id}/templates", body)
    assert status == 201
    await worker.run_once()
    message = await Message.get(id=sent["id"])
    assert message.status == "failed" and message.error.startswith("132001: ")


async def test_template_input_is_checked(
    api: Api, telegram_channel: dict, whatsapp_channel: dict, operator: User
) -> None:
    telegram = await open_chat(telegram_channel, str(CHAT))
    body = {"name": "order_ready", "language": "en_US", "parameters": []}
    status, error = await api.post(f"/api/v1/dialogs/{telegram.id}/templates", body)
    assert status == 422 and error["error"]["field"] == "name"
    whatsapp = await open_chat(whatsapp_channel, WA_ID)
    path = f"/api/v1/dialogs/{whatsapp.id}/templates"
    for bad in ({**body, "name": "Order Ready"}, {**body, "language": "english"}, {**body, "x": 1}):
        assert (await api.post(path, bad))[0] == 422
    assert (await api.post(path, {**body, "parameters": [""]}))[0] == 422
    as_operator = await api.as_user(operator)
    assert (await as_operator.post(path, body))[0] == 201
    assert (await api.post("/api/v1/dialogs/999/templates", body))[0] == 404


async def test_templates_are_listed_across_pages_and_cached(
    api: Api, whatsapp_channel: dict, fake_graph: FakeGraph, operator: User
) -> None:
    for number in range(130):
        fake_graph.add_template(f"template_{number:03}")
    path = f"/api/v1/channels/{whatsapp_channel['id']}/templates"
    status, listed = await api.get(path)
    assert status == 200, listed
    assert [t["name"] for t in listed] == [f"template_{n:03}" for n in range(130)]
    assert listed[0] == {
        "id": fake_graph.templates[0]["id"],
        "name": "template_000",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "components": fake_graph.templates[0]["components"],
    }
    pages = len(fake_graph.calls_to("templates"))
    assert pages == 2
    assert (await api.get(path))[1] == listed
    assert len(fake_graph.calls_to("templates")) == pages  # served from the cache
    fake_graph.add_template("brand_new")
    status, fresh = await api.get(path, params={"refresh": "true"})
    assert fresh[-1]["name"] == "brand_new"
    assert len(fake_graph.calls_to("templates")) == 2 * pages
    assert (await (await api.as_user(operator)).get(path))[0] == 403


async def test_template_listing_errors(
    api: Api, whatsapp_channel: dict, telegram_channel: dict, fake_graph: FakeGraph
) -> None:
    fake_graph.fail_next(190, endpoint="templates")
    status, body = await api.get(f"/api/v1/channels/{whatsapp_channel['id']}/templates")
    assert status == 502 and body["error"]["code"] == "platform_error"
    assert "190: Invalid OAuth access token" in body["error"]["message"]
    status, body = await api.get(f"/api/v1/channels/{telegram_channel['id']}/templates")
    assert status == 422 and body["error"]["field"] == "channel_id"


# -- crashes and concurrency ----------------------------------------------------------------


async def test_a_restart_sends_each_pending_message_exactly_once(
    api: Api, telegram_channel: dict, fake_telegram: FakeTelegram, make_worker: MakeWorker
) -> None:
    first = make_worker()
    dialogs = [await open_chat(telegram_channel, str(CHAT + n)) for n in range(3)]
    await reply(api, dialogs[0], "before the crash")
    assert await first.run_once() == 1
    for dialog in dialogs:
        await reply(api, dialog, f"pending for {dialog.chat_id}")
    claimed = [row.id for row in await first.queue.claim()]  # it claims, then its process dies
    assert len(claimed) == 3
    del first

    restarted = make_worker()
    assert await restarted.run_once() == 0  # the dead worker's claims have not expired yet
    await Outbox.filter(id__in=claimed).update(
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await restarted.run_once() == 3
    assert await restarted.run_once() == 0
    texts = sorted(call.params["text"] for call in fake_telegram.calls_to("sendMessage"))
    assert texts == sorted(["before the crash"] + [f"pending for {CHAT + n}" for n in range(3)])
    assert await Message.filter(direction="out", status="sent").count() == 4


async def test_concurrent_workers_never_send_a_row_twice(
    telegram_channel: dict, fake_telegram: FakeTelegram, make_worker: MakeWorker
) -> None:
    for n in range(24):
        dialog = await open_chat(telegram_channel, str(CHAT + n))
        async with change(None) as batch:
            await queue(batch, dialog=dialog, author=Author.BOT, text=f"message {n}")

    async def drain(worker: OutboxWorker) -> int:
        total = 0
        while claimed := await worker.run_once():
            total += claimed
        return total

    counts = await asyncio.gather(*(drain(make_worker(batch=4)) for _ in range(3)))
    assert sum(counts) == 24
    texts = [call.params["text"] for call in fake_telegram.calls_to("sendMessage")]
    assert sorted(texts) == sorted(f"message {n}" for n in range(24))
    assert await Outbox.filter(state="done").count() == 24


# -- running in the background --------------------------------------------------------------


async def test_worker_wakes_when_a_message_is_queued(
    admin: User, telegram_channel: dict, fake_telegram: FakeTelegram, make_worker: MakeWorker
) -> None:
    worker = make_worker(poll_seconds=60)
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.start()
    worker.start(scheduler)
    try:
        await worker.pump.settled()  # its first rounds found nothing; now it sleeps
        dialog = await open_chat(telegram_channel, str(CHAT))
        async with expect_sent():
            await send_text(actor=admin, dialog_id=dialog.id, text="right away")
    finally:
        await worker.stop()
        scheduler.shutdown(wait=False)
    assert len(fake_telegram.calls_to("sendMessage")) == 1


async def test_the_app_runs_a_worker_unless_told_not_to(
    db: Backend, admin: User, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    app = create_app(db.settings(outbox_worker=True), own_database=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        api = await Api(client).as_user(admin)
        async with expect_sent():
            await reply(api, dialog, "from the app")
    assert [c.params["text"] for c in fake_telegram.calls_to("sendMessage")] == ["from the app"]
