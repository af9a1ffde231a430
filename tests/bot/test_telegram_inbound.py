"""Telegram updates arrive by webhook, through aiogram, into the inbox and a deal."""

import json

from bot.models import InboundDelivery
from core.models import Event
from funnels.models import Deal
from inbox.models import Contact, Dialog, Message, Outbox
from tests.asserts import assert_error
from tests.bot.conftest import drain
from tests.conftest import Api
from tests.fakes.telegram import FakeTelegram, TelegramUser

ALICE = TelegramUser(id=5001, first_name="Alice", last_name="Smith")


async def deliver(anon: Api, channel: dict, update: dict, secret: str | None = None):
    """POST an update the way Telegram does, with the channel's secret token."""
    from core.crypto import Vault
    from inbox.models import Channel
    from tests.conftest import SECRET_KEY

    if secret is None:
        stored = await Channel.get(id=channel["id"])
        secret = Vault(SECRET_KEY.get_secret_value()).open(stored.credentials)["webhook_secret"]
    answer = await anon.call(
        "POST",
        channel["webhook_path"],
        data=json.dumps(update),
        headers={"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"},
    )
    await drain(anon)
    return answer


async def test_first_message_creates_contact_dialog_message_and_deal(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram, inbox_stage: dict
) -> None:
    status, body = await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, "Hi!"))
    assert status == 200, body
    contact = await Contact.get()
    assert contact.name == "Alice Smith"
    dialog = await Dialog.get()
    assert dialog.chat_id == str(ALICE.id) and dialog.contact_id == contact.id
    message = await Message.get()
    assert (message.text, message.direction, message.author) == ("Hi!", "in", "customer")
    deal = await Deal.get()
    assert deal.title == "Alice Smith"
    assert deal.stage_id == inbox_stage["stage_id"] and deal.dialog_id == dialog.id
    kinds = [e.kind for e in await Event.filter(deal_id=deal.id).order_by("id")]
    assert kinds == ["deal.created", "deal.contact_added"]


async def test_a_new_dialog_is_announced_once(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    for text in ("Hi!", "Still there?"):
        await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, text))
    dialog, contact = await Dialog.get(), await Contact.get()
    inbox_kinds = ("contact.created", "dialog.created", "message.received")
    events = await Event.filter(kind__in=inbox_kinds).order_by("id")
    assert [e.kind for e in events] == [*inbox_kinds, "message.received"]
    assert events[1].data == {
        "dialog_id": dialog.id, "channel_id": telegram_channel["id"], "contact_id": contact.id
    }  # fmt: skip


async def test_redelivery_stores_nothing_twice(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.text_update(ALICE, "Hi!")
    for _ in range(3):
        assert (await deliver(anon, telegram_channel, update))[0] == 200
    assert await Message.all().count() == 1
    assert await Deal.all().count() == 1
    same_message_new_update = {**update, "update_id": update["update_id"] + 1000}
    assert (await deliver(anon, telegram_channel, same_message_new_update))[0] == 200
    assert await Message.all().count() == 1


async def test_later_messages_join_the_open_deal_and_a_closed_deal_opens_a_new_one(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram, inbox_stage: dict
) -> None:
    await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, "one"))
    await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, "two"))
    assert await Deal.all().count() == 1
    won = next(s for s in inbox_stage["stages"] if s.kind == "won")
    await Deal.all().update(stage_id=won.id)
    await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, "three"))
    assert await Deal.all().count() == 2
    assert await Message.all().count() == 3 and await Dialog.all().count() == 1


async def test_wrong_or_missing_secret_is_401_and_stores_nothing(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.text_update(ALICE, "Hi!")
    status, body = await deliver(anon, telegram_channel, update, secret="nope")
    assert status == 401
    assert body["error"]["field"] == "X-Telegram-Bot-Api-Secret-Token"
    status, _ = await deliver(anon, telegram_channel, update, secret="")
    assert status == 401
    assert await Message.all().count() == 0


async def test_malformed_json_with_the_secret_is_kept_parked_and_unknown_channel_404(
    anon: Api, telegram_channel: dict
) -> None:
    from core.crypto import Vault
    from inbox.models import Channel
    from tests.conftest import SECRET_KEY

    stored = await Channel.get(id=telegram_channel["id"])
    secret = Vault(SECRET_KEY.get_secret_value()).open(stored.credentials)["webhook_secret"]
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
    status, _ = await anon.call(
        "POST", telegram_channel["webhook_path"], data=b"{not json", headers=headers
    )
    assert status == 200, "Telegram would resend a refused body for a day"
    [parked] = await InboundDelivery.all()
    assert parked.parked_at is not None and parked.payload == {"raw": '"{not json"'}
    assert "malformed JSON" in (parked.last_error or "")
    status, _ = await anon.call("POST", "/webhooks/telegram/9999", data=b"{}", headers=headers)
    assert status == 404
    assert await Message.all().count() == 0


async def test_unknown_update_types_are_acknowledged(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    poll = {"update_id": 42, "poll": {"id": "1", "question": "?", "options": [],
            "total_voter_count": 0, "is_closed": False, "is_anonymous": True,
            "type": "regular", "allows_multiple_answers": False}}  # fmt: skip
    future = {"update_id": 43, "managed_bot_upgrade": {"id": 1}}
    for update in (poll, future):
        status, _ = await deliver(anon, telegram_channel, update)
        assert status == 200
    status, _ = await deliver(anon, telegram_channel, {"message": {}})
    assert status == 200, "with the channel's secret: kept parked, not refused"
    parked = await InboundDelivery.get(key__startswith="unreadable:")
    assert parked.parked_at is not None
    assert parked.last_error == "not a Telegram update: no update_id"
    assert await Message.all().count() == 0


async def test_start_greets_and_offers_phone_sharing(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.start_update(ALICE)
    await deliver(anon, telegram_channel, update)
    await deliver(anon, telegram_channel, update)
    replies = await Message.filter(direction="out")
    assert [m.text for m in replies] == ["Hi! How can we help?"]
    keyboard = replies[0].payload["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_contact"] is True
    assert await Outbox.filter(message_id=replies[0].id).count() == 1


async def test_shared_phone_fills_the_contact(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, "hello"))
    await deliver(anon, telegram_channel, fake_telegram.contact_update(ALICE, "447911123456"))
    contact = await Contact.get()
    assert contact.phone == "+447911123456"
    changed = await Event.get(kind="contact.updated")
    assert changed.data["changes"]["phone"] == {"from": None, "to": "+447911123456"}


async def test_media_are_stored_with_their_file_ids(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    photo = fake_telegram.photo_update(ALICE, caption="my nails")
    document = fake_telegram.document_update(ALICE, file_name="brief.pdf")
    voice = fake_telegram.voice_update(ALICE)
    for update in (photo, document, voice):
        assert (await deliver(anon, telegram_channel, update))[0] == 200
    stored = {m.kind: m for m in await Message.all()}
    assert stored["image"].text == "my nails"
    assert stored["image"].payload["file_id"] == photo["message"]["photo"][-1]["file_id"]
    assert stored["document"].payload["file_name"] == "brief.pdf"
    assert stored["voice"].payload["file_id"] == voice["message"]["voice"]["file_id"]


async def test_edits_change_the_text_and_keep_history(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    original = fake_telegram.text_update(ALICE, "at 5pm")
    await deliver(anon, telegram_channel, original)
    await deliver(
        anon, telegram_channel, fake_telegram.edited_update(original["message"], "at 6pm")
    )
    message = await Message.get()
    assert message.text == "at 6pm" and message.edited_at is not None
    edit = await Event.get(kind="message.edited")
    assert edit.data["changes"]["text"] == {"from": "at 5pm", "to": "at 6pm"}


async def test_attachments_are_fetched_on_demand(
    anon: Api, api: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    document = fake_telegram.document_update(ALICE, b"%PDF-1.4 the brief", file_name="brief.pdf")
    await deliver(anon, telegram_channel, document)
    message = await Message.get()
    status, body = await api.get(f"/api/v1/messages/{message.id}/media")
    assert status == 200 and body == "%PDF-1.4 the brief"
    assert fake_telegram.calls_to("getFile")[0].params["file_id"] == message.payload["file_id"]
    await deliver(anon, telegram_channel, fake_telegram.text_update(ALICE, "no file"))
    text = await Message.filter(kind="text").first()
    assert (await api.get(f"/api/v1/messages/{text.id}/media"))[0] == 404


async def test_media_from_a_telegram_that_fails_is_an_error_shape_never_a_500(
    anon: Api, api: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    """Telegram refusing the file is a 404, answering garbage or being down a 502; each is
    the JSON error shape naming the message."""
    await deliver(anon, telegram_channel, fake_telegram.photo_update(ALICE, b"\xff\xd8 jpeg"))
    media = f"/api/v1/messages/{(await Message.get()).id}/media"
    fake_telegram.fail_next("getFile", status=400, description="Bad Request: wrong file_id")
    status, body = await api.get(media)
    assert_error(status, body, 404, "not_found", "message_id")
    assert "wrong file_id" in body["error"]["message"]
    fake_telegram.fail_next("getFile", status=500, description="Internal Server Error")
    assert_error(*await api.get(media), 502, "upstream_unavailable", "message_id")
    fake_telegram.garble("getFile")
    assert_error(*await api.get(media), 502, "upstream_unavailable", "message_id")
    await fake_telegram.close()  # down: nothing listens on its port any more
    assert_error(*await api.get(media), 502, "upstream_unavailable", "message_id")


async def test_an_update_aiogram_cannot_read_is_parked_with_its_reason_not_dropped(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.text_update(ALICE, "Hi!")
    update["message"]["date"] = "not a date"
    status, _ = await deliver(anon, telegram_channel, update)
    assert status == 200  # stored: Telegram must not resend it forever
    [parked] = await InboundDelivery.all()
    assert parked.next_attempt_at is None and parked.attempts == 1
    assert "unreadable Telegram update: message.date" in (parked.last_error or "")
    assert parked.payload["message"]["text"] == "Hi!"  # kept as it came, for a person
    assert await Message.all().count() == 0
