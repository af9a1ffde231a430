"""Unread counts: per user, customer messages since they last opened the dialog."""

from core.models import Event, Role, User
from inbox import outgoing
from inbox.unread import TOTAL_CAP, unread_counts, unread_total
from tests.conftest import Api, make_user
from tests.inbox.test_assignment import customer_writes


async def unread(api: Api) -> dict[int, int]:
    status, body = await api.get("/api/v1/dialogs")
    assert status == 200, body
    return {d["id"]: d["unread"] for d in body["items"]}


async def total(api: Api) -> int:
    status, body = await api.get("/api/v1/unread")
    assert status == 200, body
    return body["total"]


async def test_opening_a_dialog_clears_its_count_for_that_user_only(
    api: Api, admin: User, operator: User, telegram_channel: dict
) -> None:
    first = await customer_writes(telegram_channel, "801", "Hi", "Are you there?", "Hello?")
    second = await customer_writes(telegram_channel, "802", "Hi")
    await outgoing.send_text(actor=admin, dialog_id=second.id, text="Hello!")  # ours: not unread
    as_operator = await api.as_user(operator)
    assert await unread(as_operator) == {first.id: 3, second.id: 1}
    assert await total(as_operator) == 4

    status, body = await as_operator.post(f"/api/v1/dialogs/{first.id}/read")
    assert (status, body) == (200, {"total": 1})
    assert await unread(as_operator) == {first.id: 0, second.id: 1}
    assert await total(api) == 4  # the admin has read nothing yet
    event = await Event.get(kind="dialog.read")
    assert event.actor_id == operator.id  # type: ignore[attr-defined]
    assert event.data["dialog_id"] == first.id

    await as_operator.post(f"/api/v1/dialogs/{first.id}/read")  # nothing new: no event
    assert await Event.filter(kind="dialog.read").count() == 1
    await customer_writes(telegram_channel, "801", "One more thing")
    assert await unread(as_operator) == {first.id: 1, second.id: 1}
    status, body = await as_operator.post("/api/v1/dialogs/99999/read")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_the_total_stops_at_the_cap(telegram_channel: dict) -> None:
    reader = await make_user(Role.OPERATOR, "reader@example.com")
    dialog = await customer_writes(telegram_channel, "803", *["hi"] * (TOTAL_CAP + 2))
    assert await unread_total(reader=reader) == TOTAL_CAP
    assert await unread_counts(reader=reader, dialog_ids=[dialog.id]) == {dialog.id: TOTAL_CAP + 2}
    assert await unread_counts(reader=reader, dialog_ids=[]) == {}
