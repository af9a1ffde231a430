"""Private notes: stored in the dialog with their author and event, never queued or sent."""

from core.models import Event, User
from inbox.models import Message, Outbox
from inbox.notes import add_note
from inbox.previews import last_messages
from tests.bot.test_outbox import WA_ID, MakeWorker, open_chat, reply
from tests.conftest import Api
from tests.fakes.telegram import FakeTelegram
from tests.fakes.whatsapp import FakeGraph


async def test_a_note_is_kept_in_the_dialog_and_never_reaches_a_messenger(
    api: Api,
    anon: Api,
    operator: User,
    telegram_channel: dict,
    whatsapp_channel: dict,
    fake_telegram: FakeTelegram,
    fake_graph: FakeGraph,
    make_worker: MakeWorker,
) -> None:
    telegram = await open_chat(telegram_channel, "5001")
    closed = await open_chat(whatsapp_channel, WA_ID, inbound_hours_ago=30)  # window shut
    as_operator = await anon.as_user(operator)
    for dialog in (telegram, closed):
        status, note = await as_operator.post(
            f"/api/v1/dialogs/{dialog.id}/notes", {"text": "VIP: offer the morning slot"}
        )
        assert status == 201, note
        assert (note["direction"], note["author"], note["author_user_id"]) == (
            "note", "operator", operator.id,
        )  # fmt: skip
        assert (note["text"], note["dialog_id"], note["external_id"]) == (
            "VIP: offer the morning slot", dialog.id, None,
        )  # fmt: skip
    assert await Outbox.all().count() == 0
    assert await make_worker().run_once() == 0
    assert fake_telegram.calls_to("sendMessage") == [] and fake_graph.sent == {}

    events = await Event.filter(kind="note.added").order_by("id")
    assert [e.data["dialog_id"] for e in events] == [telegram.id, closed.id]
    assert all(e.actor_id == operator.id for e in events)  # type: ignore[attr-defined]
    _, listed = await api.get(f"/api/v1/dialogs/{telegram.id}/messages")
    assert [m["direction"] for m in listed] == ["note"]


async def test_a_note_is_not_the_dialogs_last_message(
    api: Api, admin: User, telegram_channel: dict
) -> None:
    dialog = await open_chat(telegram_channel, "5001")
    sent = await reply(api, dialog, "See you at ten")
    await add_note(actor=admin, dialog_id=dialog.id, text="She prefers Anna")
    previews = await last_messages(dialog_ids=[dialog.id])
    assert previews[dialog.id].id == sent["id"]
    await dialog.refresh_from_db()
    last = await Message.filter(dialog_id=dialog.id).order_by("-id").first()
    assert last is not None and dialog.last_message_at is not None
    assert dialog.last_message_at < last.created_at  # the note did not move the dialog up


async def test_note_input_is_checked(api: Api, telegram_channel: dict) -> None:
    dialog = await open_chat(telegram_channel, "5001")
    status, body = await api.post(f"/api/v1/dialogs/{dialog.id}/notes", {"text": ""})
    assert status == 422 and body["error"]["field"] == "text"
    status, body = await api.post("/api/v1/dialogs/999999/notes", {"text": "x"})
    assert status == 404 and body["error"]["field"] == "dialog_id"
    status, body = await api.as_token(None).post(
        f"/api/v1/dialogs/{dialog.id}/notes", {"text": "x"}
    )
    assert status == 401
