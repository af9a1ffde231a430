"""The fakes speak the real wire format: Telegram's through the real aiogram client, the
Graph API's through plain HTTP, over 127.0.0.1. No database is involved."""

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from tests.fakes.telegram import FakeTelegram, TelegramUser
from tests.fakes.whatsapp import (
    DEFAULT_ACCESS_TOKEN,
    ERRORS,
    FakeGraph,
    WhatsAppWebhooks,
    ctwa_referral,
    sign,
    signed,
)

ALICE = TelegramUser(id=5001, first_name="Alice", username="alice")
BOB = TelegramUser(id=5002, first_name="Bob", last_name="Stone", username=None)


# -- Telegram ---------------------------------------------------------------------------------


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(long_poll_cap=0.5) as fake:
        yield fake


def connect(fake: FakeTelegram, token: str | None = None) -> Bot:
    api = TelegramAPIServer.from_base(fake.url)
    return Bot(token or fake.token, session=AiohttpSession(api=api))


@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[Bot]:
    bot = connect(telegram)
    yield bot
    await bot.session.close()


async def test_get_me_is_the_bot_of_the_token(telegram: FakeTelegram, bot: Bot):
    me = await bot.get_me()
    assert me.id == 123456789
    assert me.is_bot
    assert me.username == "funnelbox_123456789_bot"
    assert telegram.calls[-1].method == "getMe"
    assert telegram.calls[-1].token == telegram.token


async def test_send_message_numbers_messages_per_chat_and_records_params(
    telegram: FakeTelegram, bot: Bot
):
    telegram.push_update(telegram.text_update(ALICE, "hi"))  # Alice's message is number 1
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="yes")]]
    )
    first = await bot.send_message(ALICE.id, "Hello, Alice", reply_markup=keyboard)
    second = await bot.send_message(ALICE.id, "42")
    other = await bot.send_message(BOB.id, "Hello, Bob")

    assert (first.message_id, second.message_id, other.message_id) == (2, 3, 1)
    assert first.from_user is not None
    assert first.from_user.id == 123456789
    assert first.chat.first_name == "Alice"
    assert first.date.timestamp() > 0
    assert first.reply_markup is not None
    assert first.reply_markup.inline_keyboard[0][0].callback_data == "yes"
    params = telegram.calls_to("sendMessage")[0].params
    assert params["chat_id"] == ALICE.id
    assert params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"
    assert telegram.calls_to("sendMessage")[1].params["text"] == "42"


async def test_form_and_json_bodies_give_the_same_params(telegram: FakeTelegram, bot: Bot):
    await bot.send_message(ALICE.id, "via form")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{telegram.url}/bot{telegram.token}/sendMessage",
            json={"chat_id": ALICE.id, "text": "via json"},
        ) as response,
    ):
        body = await response.json()
    assert body["ok"] is True
    assert body["result"]["text"] == "via json"
    form, raw = telegram.calls_to("sendMessage")
    assert form.params == {"chat_id": ALICE.id, "text": "via form"}
    assert raw.params == {"chat_id": ALICE.id, "text": "via json"}


async def test_edit_message_text(telegram: FakeTelegram, bot: Bot):
    sent = await bot.send_message(ALICE.id, "draft")
    edited = await bot.edit_message_text(text="final", chat_id=ALICE.id, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "final"
    assert edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(text="final", chat_id=ALICE.id, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=ALICE.id, message_id=999)


async def test_send_photo_and_document_by_file_id_then_get_and_download(
    telegram: FakeTelegram, bot: Bot
):
    pdf = telegram.add_file(b"%PDF-1.7 body", name="offer.pdf", mime_type="application/pdf")
    photo = telegram.add_file(b"\xff\xd8 jpeg", kind="photos", mime_type="image/jpeg")

    document_message = await bot.send_document(ALICE.id, pdf.file_id, caption="Our offer")
    photo_message = await bot.send_photo(ALICE.id, photo.file_id)

    assert document_message.document is not None
    assert document_message.document.file_id == pdf.file_id
    assert document_message.caption == "Our offer"
    assert photo_message.photo is not None
    assert photo_message.photo[-1].file_id == photo.file_id
    file = await bot.get_file(pdf.file_id)
    assert file.file_path == pdf.file_path
    assert file.file_size == len(b"%PDF-1.7 body")
    downloaded = await bot.download(pdf.file_id)
    assert downloaded is not None
    assert downloaded.read() == b"%PDF-1.7 body"
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(ALICE.id, "no-such-file-id")
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("no-such-file-id")


async def test_uploaded_file_is_stored(telegram: FakeTelegram, bot: Bot):
    upload = BufferedInputFile(b"col1,col2\n", filename="export.csv")
    message = await bot.send_document(ALICE.id, upload)
    assert message.document is not None
    assert message.document.file_name is not None
    assert message.document.file_name.endswith(".csv")
    assert telegram.files[message.document.file_id].content == b"col1,col2\n"


async def test_429_surfaces_as_retry_after_then_the_call_succeeds(telegram: FakeTelegram, bot: Bot):
    telegram.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ALICE.id, "hi")
    assert caught.value.retry_after == 3
    assert "Too Many Requests: retry after 3" in str(caught.value)
    assert (await bot.send_message(ALICE.id, "hi")).text == "hi"
    assert len(telegram.calls_to("sendMessage")) == 2


async def test_error_envelope_on_the_wire(telegram: FakeTelegram):
    telegram.fail_next("sendMessage", status=429, retry_after=3)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{telegram.url}/bot{telegram.token}/sendMessage", data={"chat_id": "1", "text": "x"}
        ) as response,
    ):
        assert response.status == 429
        assert await response.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        }


async def test_blocked_user_and_server_errors(telegram: FakeTelegram, bot: Bot):
    telegram.fail_next("sendMessage", status=403)
    telegram.fail_next("sendPhoto", status=500, times=2)
    telegram.fail_next("getMe", status=502)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ALICE.id, "hi")
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_photo(ALICE.id, "any")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.get_me()


async def test_unknown_token_and_unknown_method(telegram: FakeTelegram):
    stranger = connect(telegram, "999:NotATokenTheFakeKnows")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await stranger.session.close()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{telegram.url}/bot{telegram.token}/launchRocket") as response,
    ):
        assert response.status == 404
        assert (await response.json())["description"] == "Not Found"


async def test_webhook_lifecycle(telegram: FakeTelegram, bot: Bot):
    assert (await bot.get_webhook_info()).url == ""
    url = "https://crm.example.com/telegram/webhook"
    await bot.set_webhook(url, secret_token="s3cret", allowed_updates=["message"])
    info = await bot.get_webhook_info()
    assert info.url == url
    assert info.allowed_updates == ["message"]
    assert telegram.bots[telegram.token].webhook == {
        "url": url,
        "secret_token": "s3cret",
        "allowed_updates": ["message"],
    }
    with pytest.raises(TelegramConflictError):
        await bot.get_updates()
    with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
        await bot.set_webhook("http://insecure.example.com/hook")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""


async def test_get_updates_honours_offset_and_long_polls(telegram: FakeTelegram, bot: Bot):
    telegram.push_update(telegram.text_update(ALICE, "one"))
    telegram.push_update(telegram.text_update(ALICE, "two"))
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["one", "two"]
    last = updates[-1].update_id
    assert await bot.get_updates(offset=last + 1) == []
    assert (await bot.get_webhook_info()).pending_update_count == 0

    poll = asyncio.create_task(bot.get_updates(offset=last + 1, timeout=30))
    await asyncio.sleep(0.05)
    telegram.push_update(telegram.text_update(BOB, "three"))
    [update] = await asyncio.wait_for(poll, timeout=2)
    assert update.message is not None
    assert update.message.text == "three"
    assert await bot.get_updates(offset=update.update_id + 1, timeout=30) == []  # capped wait


async def test_update_builders_parse_as_aiogram_updates(telegram: FakeTelegram, bot: Bot):
    await bot.send_message(ALICE.id, "Pick one", reply_markup=None)
    greeting = telegram.text_update(ALICE, "Hello")
    built = [
        greeting,
        telegram.start_update(ALICE, "ad42"),
        telegram.edited_update(greeting["message"], "Hello!"),
        telegram.photo_update(ALICE, caption="look"),
        telegram.document_update(BOB, b"%PDF", file_name="cv.pdf"),
        telegram.voice_update(BOB, duration=7),
        telegram.contact_update(BOB, "+15551234567"),
        telegram.callback_update(ALICE, "yes"),
    ]
    for update in built:
        telegram.push_update(update)

    text, start, edited, photo, document, voice, contact, callback = await bot.get_updates()

    ids = [update["update_id"] for update in built]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert text.message and text.message.text == "Hello"
    assert start.message and start.message.text == "/start ad42"
    assert start.message.entities and start.message.entities[0].type == "bot_command"
    assert start.message.entities[0].length == len("/start")
    assert edited.edited_message and edited.edited_message.edit_date
    assert edited.edited_message.message_id == text.message.message_id
    assert photo.message and photo.message.photo and photo.message.caption == "look"
    photo_file = await bot.get_file(photo.message.photo[-1].file_id)
    assert photo_file.file_path and photo_file.file_path.startswith("photos/")
    assert document.message and document.message.document
    assert document.message.document.file_name == "cv.pdf"
    assert document.message.chat.last_name == "Stone"
    assert voice.message and voice.message.voice and voice.message.voice.duration == 7
    downloaded = await bot.download(voice.message.voice.file_id)
    assert downloaded is not None
    assert downloaded.read() == b"OggS fake voice"
    assert contact.message and contact.message.contact
    assert contact.message.contact.user_id == BOB.id
    assert contact.message.contact.phone_number == "+15551234567"
    query = callback.callback_query
    assert query and query.data == "yes"
    assert query.message and query.message.text == "Pick one"
    assert query.from_user.id == ALICE.id
    assert await bot.answer_callback_query(query.id, text="Noted")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)


async def test_inbound_and_outbound_share_a_chats_message_ids(telegram: FakeTelegram, bot: Bot):
    inbound = telegram.text_update(BOB, "hi")["message"]["message_id"]
    reply = await bot.send_message(BOB.id, "hello")
    assert reply.message_id == inbound + 1


# -- WhatsApp Cloud API / Graph API -----------------------------------------------------------


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Graph:
    """Plain HTTP calls to the fake, as a channel implementation would make them."""

    def __init__(self, fake: FakeGraph, http: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.http = http

    async def call(
        self, method: str, url: str, token: str | None = DEFAULT_ACCESS_TOKEN, **kwargs: Any
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if not url.startswith("http"):
            url = self.fake.url + url
        async with self.http.request(method, url, headers=headers, **kwargs) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.read()

    async def send(self, message: dict[str, Any], **kwargs: Any) -> tuple[int, Any]:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", **message}
        path = f"/v23.0/{self.fake.phone_number_id}/messages"
        return await self.call("POST", path, json=body, **kwargs)


@pytest.fixture
def api(graph: FakeGraph, http: aiohttp.ClientSession) -> Graph:
    return Graph(graph, http)


async def test_send_text_returns_contacts_and_a_unique_wamid(graph: FakeGraph, api: Graph):
    status, first = await api.send(
        {"to": "+1 650-555-1234", "type": "text", "text": {"body": "Hi"}}
    )
    _, second = await api.send({"to": "16505551234", "type": "text", "text": {"body": "Again"}})

    assert status == 200
    assert first["messaging_product"] == "whatsapp"
    assert first["contacts"] == [{"input": "+1 650-555-1234", "wa_id": "16505551234"}]
    wamid = first["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert wamid != second["messages"][0]["id"]
    assert graph.sent[wamid]["text"] == {"body": "Hi"}
    call = graph.calls_to("messages")[0]
    assert (call.method, call.path) == ("POST", f"/v23.0/{graph.phone_number_id}/messages")
    assert call.body["to"] == "+1 650-555-1234"
    delivered = value_of(graph.webhooks.status(wamid, "delivered", "16505551234"))
    assert delivered["metadata"]["phone_number_id"] == graph.phone_number_id
    assert delivered["statuses"][0]["id"] == wamid


async def test_send_template_media_reaction_and_mark_read(graph: FakeGraph, api: Graph):
    template = {
        "name": "order_ready",
        "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Alice"}]}],
    }
    status, body = await api.send({"to": "16505551234", "type": "template", "template": template})
    assert status == 400
    assert body["error"]["code"] == 132001
    assert "template name (order_ready) does not exist in en_US" in json.dumps(body)

    graph.add_template("order_ready")
    status, body = await api.send({"to": "16505551234", "type": "template", "template": template})
    assert status == 200
    assert body["messages"][0]["message_status"] == "accepted"
    sent = graph.sent[body["messages"][0]["id"]]["template"]
    assert sent["components"][0]["parameters"][0]["text"] == "Alice"

    media_id = graph.add_media(b"jpeg", "image/jpeg")
    for message in (
        {"type": "image", "image": {"id": media_id, "caption": "Catalogue"}},
        {"type": "document", "document": {"link": "https://example.com/a.pdf", "filename": "a"}},
        {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "\U0001f44d"}},
        {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": ""}},
    ):
        status, _ = await api.send({"to": "16505551234", **message})
        assert status == 200, message
    status, body = await api.send({"status": "read", "message_id": "wamid.X"})
    assert (status, body) == (200, {"success": True})


@pytest.mark.parametrize(
    ("message", "missing"),
    [
        ({"to": "1", "type": "text", "text": {}}, "text['body']"),
        ({"to": "1", "type": "image", "image": {"caption": "x"}}, "image['id'] or image['link']"),
        ({"type": "text", "text": {"body": "x"}}, "to"),
        ({"to": "1", "type": "reaction", "reaction": {"message_id": "m"}}, "reaction['emoji']"),
    ],
)
async def test_invalid_messages_are_rejected_with_code_100(api: Graph, message, missing):
    status, body = await api.send(message)
    assert status == 400
    assert body["error"]["code"] == 100
    assert body["error"]["message"] == f"(#100) The parameter {missing} is required."


async def test_bad_token_and_unknown_phone_number(graph: FakeGraph, api: Graph):
    text = {"to": "1", "type": "text", "text": {"body": "x"}}
    status, body = await api.send(text, token="EAAwrong")
    assert status == 401
    assert body["error"]["code"] == 190
    assert body["error"]["type"] == "OAuthException"
    assert body["error"]["fbtrace_id"]
    assert len(graph.calls) == 1  # rejected calls are recorded too

    status, body = await api.call("POST", "/v23.0/999/messages", json=text)
    assert status == 400
    assert body["error"]["type"] == "GraphMethodException"
    assert body["error"]["error_subcode"] == 33


@pytest.mark.parametrize("code", [130429, 131056, 80007, 131026, 131047, 131000, 190])
async def test_scripted_errors_use_the_graph_envelope(graph: FakeGraph, api: Graph, code):
    graph.fail_next(code)
    status, body = await api.send({"to": "1", "type": "text", "text": {"body": "x"}})
    error = ERRORS[code]
    assert status == error.http_status
    assert body["error"]["code"] == code
    assert body["error"]["message"] == error.message
    assert body["error"]["type"] == "OAuthException"
    if error.details:
        assert body["error"]["error_data"] == {
            "messaging_product": "whatsapp",
            "details": error.details,
        }
    status, _ = await api.send({"to": "1", "type": "text", "text": {"body": "x"}})
    assert status == 200  # only the next call fails


async def test_scripted_error_overrides_and_other_endpoints(graph: FakeGraph, api: Graph):
    graph.fail_next(131047, details="24h window closed", subcode=2494010, times=2)
    graph.fail_next(80007, endpoint="templates")
    for _ in range(2):
        _, body = await api.send({"to": "1", "type": "text", "text": {"body": "x"}})
        assert body["error"]["error_data"]["details"] == "24h window closed"
        assert body["error"]["error_subcode"] == 2494010
    status, body = await api.call("GET", f"/v23.0/{graph.waba_id}/message_templates")
    assert (status, body["error"]["code"]) == (400, 80007)
    with pytest.raises(ValueError, match="no endpoint"):
        graph.fail_next(100, endpoint="message")


async def test_templates_are_listed_in_pages(graph: FakeGraph, api: Graph):
    for name in ("welcome", "order_ready", "payment_due"):
        graph.add_template(name, category="MARKETING" if name == "welcome" else "UTILITY")
    status, page = await api.call(
        "GET", f"/v23.0/{graph.waba_id}/message_templates", params={"limit": "2"}
    )
    assert status == 200
    assert [t["name"] for t in page["data"]] == ["welcome", "order_ready"]
    first = page["data"][0]
    assert (first["status"], first["category"], first["language"]) == (
        "APPROVED",
        "MARKETING",
        "en_US",
    )
    assert first["components"][0]["type"] == "BODY"
    assert set(page["paging"]["cursors"]) == {"before", "after"}

    _, rest = await api.call("GET", page["paging"]["next"])
    assert [t["name"] for t in rest["data"]] == ["payment_due"]
    assert "next" not in rest["paging"]


async def test_media_url_and_download(graph: FakeGraph, api: Graph):
    media_id = graph.add_media(b"\x89PNG image", "image/png")
    status, meta = await api.call("GET", f"/v23.0/{media_id}")
    assert status == 200
    assert meta["messaging_product"] == "whatsapp"
    assert (meta["id"], meta["mime_type"], meta["file_size"]) == (media_id, "image/png", 10)
    assert meta["sha256"] == hashlib.sha256(b"\x89PNG image").hexdigest()
    assert await api.call("GET", meta["url"]) == (200, b"\x89PNG image")
    status, body = await api.call("GET", meta["url"], token=None)
    assert (status, body["error"]["code"]) == (401, 190)
    status, body = await api.call("GET", "/v23.0/404404")
    assert (status, body["error"]["error_subcode"]) == (400, 33)


async def test_conversions_api_records_events(graph: FakeGraph, api: Graph):
    event = {
        "event_name": "Purchase",
        "event_time": 1_760_000_000,
        "action_source": "business_messaging",
        "messaging_channel": "whatsapp",
        "user_data": {"whatsapp_business_account_id": graph.waba_id, "ctwa_clid": "ARAk"},
        "custom_data": {"currency": "USD", "value": 25},
    }
    status, body = await api.call(
        "POST", "/v23.0/1234567890/events", json={"data": [event], "test_event_code": "TEST42"}
    )
    assert status == 200
    assert body["events_received"] == 1
    assert body["messages"] == []
    assert body["fbtrace_id"]
    [batch] = graph.conversions
    assert (batch.pixel_id, batch.data, batch.test_event_code) == ("1234567890", [event], "TEST42")

    form = {"data": json.dumps([event]), "access_token": DEFAULT_ACCESS_TOKEN}
    status, body = await api.call("POST", "/v23.0/1234567890/events", token=None, data=form)
    assert (status, body["events_received"]) == (200, 1)
    assert graph.conversions[-1].test_event_code is None

    status, body = await api.call("POST", "/v23.0/1234567890/events", json={"data": [{}]})
    assert (status, body["error"]["code"]) == (400, 100)


# -- WhatsApp webhook payloads ----------------------------------------------------------------


def value_of(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["object"] == "whatsapp_business_account"
    [entry] = payload["entry"]
    [change] = entry["changes"]
    assert change["field"] == "messages"
    return change["value"]


def test_inbound_message_payloads_follow_metas_samples():
    hooks = WhatsAppWebhooks(waba_id="7", phone_number_id="8", display_phone_number="15550001")
    text = hooks.text("16505551234", "Does it come in another color?", name="Sheena Nelson")

    assert text["entry"][0]["id"] == "7"
    value = value_of(text)
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"] == {"display_phone_number": "15550001", "phone_number_id": "8"}
    assert value["contacts"] == [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}]
    [message] = value["messages"]
    assert message["from"] == "16505551234"
    assert message["id"].startswith("wamid.")
    assert message["timestamp"].isdigit()
    assert (message["type"], message["text"]) == (
        "text",
        {"body": "Does it come in another color?"},
    )

    kinds = {
        "image": hooks.image("1", "111", caption="front"),
        "document": hooks.document("1", "222", filename="cv.pdf"),
        "audio": hooks.audio("1", "333"),
        "video": hooks.video("1", "444"),
        "location": hooks.location("1", 38.9, -77.0, name="Office", address="1 Main St"),
        "interactive": hooks.button_reply("1", "yes", "Yes", context_id="wamid.Q"),
        "button": hooks.button("1", "Stop promotions", "STOP", context_id="wamid.T"),
        "reaction": hooks.reaction("1", "wamid.R", "\U0001f44d"),
    }
    for kind, payload in kinds.items():
        [message] = value_of(payload)["messages"]
        assert message["type"] == kind
        assert kind in message
    assert value_of(kinds["image"])["messages"][0]["image"]["id"] == "111"
    assert value_of(kinds["image"])["messages"][0]["image"]["caption"] == "front"
    assert value_of(kinds["document"])["messages"][0]["document"]["filename"] == "cv.pdf"
    audio = value_of(kinds["audio"])["messages"][0]["audio"]
    assert (audio["voice"], audio["mime_type"]) == (True, "audio/ogg; codecs=opus")
    assert len(audio["sha256"]) == 64
    reply = value_of(kinds["interactive"])["messages"][0]
    assert reply["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "yes", "title": "Yes"},
    }
    assert reply["context"] == {"from": "15550001", "id": "wamid.Q"}
    listed = value_of(hooks.list_reply("1", "r2", "Tuesday", description="10-12", context_id="L"))
    assert listed["messages"][0]["interactive"]["list_reply"] == {
        "id": "r2",
        "title": "Tuesday",
        "description": "10-12",
    }
    quick = value_of(kinds["button"])["messages"][0]
    assert quick["button"] == {"payload": "STOP", "text": "Stop promotions"}
    assert value_of(kinds["reaction"])["messages"][0]["reaction"] == {
        "message_id": "wamid.R",
        "emoji": "\U0001f44d",
    }


def test_referral_and_business_scoped_user_id():
    hooks = WhatsAppWebhooks()
    payload = hooks.text(
        "16505551234",
        "I saw your ad",
        user_id="US.13491208655302741918",
        referral=ctwa_referral("ctwa-click-1"),
    )
    value = value_of(payload)
    assert value["contacts"][0]["user_id"] == "US.13491208655302741918"
    message = value["messages"][0]
    assert message["from_user_id"] == "US.13491208655302741918"
    referral = message["referral"]
    assert referral["ctwa_clid"] == "ctwa-click-1"
    assert referral["source_type"] == "ad"
    assert {"source_url", "source_id", "headline", "body", "media_type"} <= set(referral)


def test_status_payloads():
    hooks = WhatsAppWebhooks()
    for state in ("sent", "delivered", "read"):
        [status] = value_of(hooks.status("wamid.A", state, "16505551234"))["statuses"]
        assert (status["id"], status["status"], status["recipient_id"]) == (
            "wamid.A",
            state,
            "16505551234",
        )
        assert status["pricing"]["category"] == "service"
        assert status["pricing"]["billable"] is False
        assert "errors" not in status

    failed = hooks.status("wamid.B", "failed", "1", error_code=131047, user_id="US.1")
    [status] = value_of(failed)["statuses"]
    assert status["recipient_user_id"] == "US.1"
    assert "pricing" not in status
    [error] = status["errors"]
    assert error["code"] == 131047
    assert error["title"] == "Re-engagement message"
    assert "24 hours" in error["error_data"]["details"]
    assert error["href"].startswith("https://developers.facebook.com/")

    marketing = value_of(hooks.status("wamid.C", "delivered", "1", category="marketing"))
    assert marketing["statuses"][0]["pricing"]["billable"] is True


def test_sign_matches_hmac_sha256_reference_vector():
    body = b"The quick brown fox jumps over the lazy dog"
    assert sign(body, "key") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
    raw, headers = signed({"object": "whatsapp_business_account"}, "app-secret")
    expected = hmac.new(b"app-secret", raw, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert json.loads(raw) == {"object": "whatsapp_business_account"}
