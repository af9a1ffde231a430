"""Staff link their Telegram chat with a signed /start code; auto-tasks that ask for it
are announced there once, through the real aiogram Bot and the fake Bot API."""

from datetime import UTC, datetime, timedelta

from bot.models import StaffChat
from bot.staff import BAD_LINK, LINKED, link_code, read_link_code
from core.crypto import Vault
from core.models import Event, User
from funnels.models import Deal
from inbox.models import Contact, Dialog
from tests.bot.test_telegram_inbound import deliver
from tests.conftest import SECRET_KEY, Api
from tests.fakes.telegram import FakeTelegram, TelegramUser
from triggers.models import Task
from web.keys import EVENTS

STAFF = TelegramUser(id=7001, first_name="Olga")
VAULT = Vault(SECRET_KEY.get_secret_value())


async def link(api: Api, anon: Api, channel: dict, fake: FakeTelegram) -> None:
    status, body = await api.post("/api/v1/users/me/telegram-link")
    assert status == 201, body
    assert body["start_command"] == f"/start {body['code']}"
    await deliver(anon, channel, fake.start_update(STAFF, body["code"]))


def test_codes_are_signed_and_expire() -> None:
    user = User(id=42)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    code, expires = link_code(VAULT, user=user, now=now)
    assert len(code) <= 64 and expires == now + timedelta(hours=1)
    assert read_link_code(VAULT, code, now=now) == 42
    assert read_link_code(VAULT, code, now=now + timedelta(minutes=61)) is None
    forged = code.replace("link_42_", "link_43_")
    assert read_link_code(VAULT, forged, now=now) is None
    other_key = Vault("another secret key, 32 characters long")
    assert read_link_code(other_key, code, now=now) is None
    assert read_link_code(VAULT, "link_garbage", now=now) is None


async def test_a_start_code_links_the_chat_and_makes_no_customer(
    api: Api, anon: Api, admin: User, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    before = (await api.get("/api/v1/users/me/telegram"))[1]
    assert before == {"linked": False, "channel_id": None}
    await link(api, anon, telegram_channel, fake_telegram)
    staff_chat = await StaffChat.get()
    assert staff_chat.user_id == admin.id
    assert staff_chat.chat_id == str(STAFF.id)
    replies = fake_telegram.calls_to("sendMessage")
    assert [(c.params["chat_id"], c.params["text"]) for c in replies] == [(STAFF.id, LINKED)]
    assert await Contact.all().count() == 0 and await Dialog.all().count() == 0
    linked = (await api.get("/api/v1/users/me/telegram"))[1]
    assert linked == {"linked": True, "channel_id": telegram_channel["id"]}
    assert await Event.filter(kind="user.telegram_linked").count() == 1

    assert (await api.delete("/api/v1/users/me/telegram"))[0] == 204
    assert await StaffChat.all().count() == 0


async def test_a_bad_code_is_refused(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    await deliver(anon, telegram_channel, fake_telegram.start_update(STAFF, "link_1_1999999999_"
                                                                        + "A" * 22))  # fmt: skip
    assert await StaffChat.all().count() == 0
    assert [c.params["text"] for c in fake_telegram.calls_to("sendMessage")] == [BAD_LINK]


async def test_an_auto_task_is_announced_once(
    api: Api,
    anon: Api,
    admin: User,
    telegram_channel: dict,
    fake_telegram: FakeTelegram,
    inbox_stage: dict,
) -> None:
    await link(api, anon, telegram_channel, fake_telegram)
    stages = {s.name: s.id for s in inbox_stage["stages"]}
    for notify, title in ((True, "Call {{ contact.name }}"), (False, "Quietly")):
        status, body = await api.post(
            f"/api/v1/stages/{stages['Won']}/triggers",
            {"kind": "auto_task",
             "config": {"title": title, "notify_assignee": notify, "due_in_minutes": 60}},
        )  # fmt: skip
        assert status == 201, body
    contact = (await api.post("/api/v1/contacts", {"name": "Ann Lee"}))[1]
    status, deal = await api.post(
        "/api/v1/deals",
        {"contact_ids": [contact["id"]], "pipeline_id": inbox_stage["pipeline_id"],
         "title": "Sofa"},
    )  # fmt: skip
    assert status == 201
    await api.post(f"/api/v1/deals/{deal['id']}/move", {"stage_id": stages["Won"]})
    dispatcher = api.client.server.app[EVENTS]
    await dispatcher.pump.drain()

    notes = [c for c in fake_telegram.calls_to("sendMessage") if c.params["text"] != LINKED]
    assert len(notes) == 1
    assert notes[0].params["chat_id"] == STAFF.id
    text = notes[0].params["text"]
    assert text.startswith("New task: Call Ann Lee\nDue ") and "Deal: Sofa" in text
    announced = await Task.get(title="Call Ann Lee")
    assert announced.notified_at is not None
    assert (await Task.get(title="Quietly")).notified_at is None

    # the task.created event dispatched again (a crash before it was marked done)
    await Event.filter(kind="task.created").update(next_attempt_at=datetime.now(UTC))
    await dispatcher.pump.drain()
    assert len([c for c in fake_telegram.calls_to("sendMessage")
                if c.params["text"].startswith("New task")]) == 1  # fmt: skip
    assert await Deal.all().count() == 1
