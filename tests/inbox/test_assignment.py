"""Who answers a dialog: assign, take, let go, the list's filters and round-robin."""

from bot.inbound import receive
from core.models import Event, Role, User
from inbox.dialogs import Inbound, Sender
from inbox.models import Channel, Dialog
from tests.conftest import Api, make_user


async def customer_writes(channel: dict, user_id: str, *texts: str) -> Dialog:
    """Customer messages taken the way the Telegram intake takes them."""
    found = await Channel.get(id=channel["id"])
    for text in texts:
        number = await Event.filter(kind="message.received").count()
        sender = Sender(external_id=user_id, name=f"Customer {user_id}")
        await receive(
            channel=found,
            message=Inbound(sender=sender, chat_id=user_id, external_id=f"m{number}", text=text),
        )
    return await Dialog.get(chat_id=user_id)


async def ids(api: Api, shown: str) -> list[int]:
    status, body = await api.get("/api/v1/dialogs", params={"filter": shown})
    assert status == 200, body
    return [d["id"] for d in body["items"]]


async def test_an_operator_takes_a_dialog_and_lets_it_go(
    api: Api, operator: User, telegram_channel: dict
) -> None:
    first = await customer_writes(telegram_channel, "701", "Hi")
    second = await customer_writes(telegram_channel, "702", "Hello")
    as_operator = await api.as_user(operator)

    status, body = await as_operator.put(
        f"/api/v1/dialogs/{first.id}/assignee", {"user_id": operator.id}
    )
    assert status == 200, body
    assert body["assignee_id"] == operator.id
    assert await ids(as_operator, "mine") == [first.id]
    assert await ids(as_operator, "unassigned") == [second.id]
    assert await ids(as_operator, "all") == [second.id, first.id]
    assert await ids(api, "mine") == []  # the admin's own: none

    status, body = await as_operator.put(f"/api/v1/dialogs/{first.id}/assignee", {"user_id": None})
    assert (status, body["assignee_id"]) == (200, None)
    events = await Event.filter(kind="dialog.assigned").order_by("id")
    assert [(e.data["from"], e.data["to"], e.actor_id) for e in events] == [  # type: ignore[attr-defined]
        (None, operator.id, operator.id),
        (operator.id, None, operator.id),
    ]
    assert all(e.data["dialog_id"] == first.id for e in events)
    # the same assignment again changes nothing and records nothing
    await as_operator.put(f"/api/v1/dialogs/{first.id}/assignee", {"user_id": None})
    assert await Event.filter(kind="dialog.assigned").count() == 2


async def test_an_operator_cannot_assign_someone_else(
    api: Api, admin: User, operator: User, telegram_channel: dict
) -> None:
    dialog = await customer_writes(telegram_channel, "703", "Hi")
    colleague = await make_user(Role.OPERATOR, "colleague@example.com")
    as_operator = await api.as_user(operator)
    path = f"/api/v1/dialogs/{dialog.id}/assignee"

    status, body = await as_operator.put(path, {"user_id": colleague.id})
    assert status == 403
    assert body["error"]["code"] == "forbidden" and body["error"]["field"] == "user_id"

    status, body = await api.put(path, {"user_id": colleague.id})  # an admin may
    assert (status, body["assignee_id"]) == (200, colleague.id)
    for wanted in (operator.id, None):  # the colleague's dialog: neither taken nor dropped
        status, body = await as_operator.put(path, {"user_id": wanted})
        assert status == 403, body
    assert (await Dialog.get(id=dialog.id)).assignee_id == colleague.id  # type: ignore[attr-defined]

    status, body = await api.put(path, {"user_id": None})
    assert (status, body["assignee_id"]) == (200, None)
    status, body = await api.put(path, {"user_id": 99999})
    assert (status, body["error"]["field"]) == (404, "user_id")
    status, body = await api.put("/api/v1/dialogs/99999/assignee", {"user_id": admin.id})
    assert status == 404


async def test_a_round_robin_channel_gives_new_dialogs_in_turn(
    api: Api, telegram_channel: dict
) -> None:
    first = await make_user(Role.OPERATOR, "first@example.com")
    gone = await make_user(Role.OPERATOR, "gone@example.com")
    gone.is_active = False
    await gone.save()
    second = await make_user(Role.OPERATOR, "second@example.com")
    before = await customer_writes(telegram_channel, "710", "before the setting")
    status, body = await api.patch(
        f"/api/v1/channels/{telegram_channel['id']}", {"settings": {"round_robin": True}}
    )
    assert status == 200, body

    dialogs = [await customer_writes(telegram_channel, f"71{n}", "Hi", "again") for n in (1, 2, 3)]
    assert before.assignee_id is None  # type: ignore[attr-defined]
    assert [d.assignee_id for d in dialogs] == [first.id, second.id, first.id]  # type: ignore[attr-defined]
    events = await Event.filter(kind="dialog.assigned").order_by("id")
    assert [(e.data["from"], e.data["to"], e.actor_id) for e in events] == [  # type: ignore[attr-defined]
        (None, first.id, None),
        (None, second.id, None),
        (None, first.id, None),
    ]
