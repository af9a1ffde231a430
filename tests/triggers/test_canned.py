"""Canned replies: admins keep them, anyone fills one in for a dialog's contact and deal."""

from bot.inbound import receive
from core.models import Event, User
from inbox.dialogs import Inbound, Sender
from inbox.models import Channel, Dialog, Outbox
from tests.bot.test_outbox import open_chat
from tests.conftest import Api


async def customer_writes(channel: dict, name: str) -> Dialog:
    """A first message through the intake: the dialog and its open deal."""
    sender = Sender(external_id="7001", name=name)
    message = Inbound(sender=sender, chat_id="7001", external_id="7001:1", text="Hi")
    await receive(channel=await Channel.get(id=channel["id"]), message=message)
    return await Dialog.get(contact__name=name)


async def test_admins_keep_canned_replies(api: Api, anon: Api, operator: User) -> None:
    status, made = await api.post(
        "/api/v1/canned-replies",
        {"shortcut": "hours", "title": "Opening hours", "text": "We open at 9, {{ contact.name }}"},
    )
    assert status == 201, made
    assert (made["shortcut"], made["title"]) == ("hours", "Opening hours")
    status, body = await api.post(
        "/api/v1/canned-replies", {"shortcut": "hours", "title": "Again", "text": "x"}
    )
    assert status == 409 and body["error"]["field"] == "shortcut"
    for wrong, field in (
        ({"shortcut": "Has space", "title": "t", "text": "x"}, "shortcut"),
        ({"shortcut": "a", "title": " ", "text": "x"}, "title"),
        ({"shortcut": "b", "title": "t", "text": "{% if %}"}, "text"),
    ):
        status, body = await api.post("/api/v1/canned-replies", wrong)
        assert (status, body["error"]["field"]) == (422, field), body
    assert "line 1" in body["error"]["message"]

    status, changed = await api.patch(
        f"/api/v1/canned-replies/{made['id']}", {"title": "Hours", "shortcut": "open"}
    )
    assert status == 200 and (changed["title"], changed["shortcut"]) == ("Hours", "open")
    as_operator = await anon.as_user(operator)
    status, listed = await as_operator.get("/api/v1/canned-replies")
    assert status == 200 and [r["shortcut"] for r in listed] == ["open"]
    for call in (
        as_operator.post("/api/v1/canned-replies", {"shortcut": "x", "title": "t", "text": "x"}),
        as_operator.patch(f"/api/v1/canned-replies/{made['id']}", {"title": "Mine"}),
        as_operator.delete(f"/api/v1/canned-replies/{made['id']}"),
    ):
        status, body = await call
        assert status == 403, body
    status, _ = await api.delete(f"/api/v1/canned-replies/{made['id']}")
    assert status == 204
    status, body = await api.delete(f"/api/v1/canned-replies/{made['id']}")
    assert status == 404 and body["error"]["field"] == "reply_id"
    kinds = [e.kind for e in await Event.filter(kind__startswith="canned_reply.").order_by("id")]
    assert kinds == ["canned_reply.created", "canned_reply.updated", "canned_reply.deleted"]


async def test_a_canned_reply_is_filled_for_the_dialog_and_not_sent(
    api: Api, anon: Api, operator: User, telegram_channel: dict
) -> None:
    dialog = await customer_writes(telegram_channel, "Mila Kowalski")
    _, reply = await api.post(
        "/api/v1/canned-replies",
        {
            "shortcut": "welcome",
            "title": "Welcome",
            "text": "Hello {{ contact.name }}, about {{ deal.title }} in {{ stage.name }}",
        },
    )
    as_operator = await anon.as_user(operator)
    status, body = await as_operator.post(
        f"/api/v1/dialogs/{dialog.id}/canned-replies/{reply['id']}/render"
    )
    assert status == 200, body
    assert body == {"text": "Hello Mila Kowalski, about Mila Kowalski in New chat"}
    assert await Outbox.all().count() == 0

    # a dialog without a deal knows its contact, and says which field it lacks
    bare = await open_chat(telegram_channel, "7002")
    status, body = await as_operator.post(
        f"/api/v1/dialogs/{bare.id}/canned-replies/{reply['id']}/render"
    )
    assert status == 422 and body["error"]["field"] == "text"
    assert "deal" in body["error"]["message"]
    _, short = await api.post(
        "/api/v1/canned-replies",
        {"shortcut": "hi", "title": "Hi", "text": "Hi {{ contact.name }}!"},
    )
    status, body = await as_operator.post(
        f"/api/v1/dialogs/{bare.id}/canned-replies/{short['id']}/render"
    )
    assert (status, body) == (200, {"text": "Hi Customer 7002!"})
    status, body = await as_operator.post(
        f"/api/v1/dialogs/999999/canned-replies/{short['id']}/render"
    )
    assert status == 404 and body["error"]["field"] == "dialog_id"
