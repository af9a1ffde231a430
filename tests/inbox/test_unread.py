"""Unread counts: per user, customer messages since they last opened the dialog."""

from core.models import Event, Role, User
from inbox import outgoing
from inbox.unread import TOTAL_CAP, count_from_start, unread_counts, unread_total
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
    assert event.next_attempt_at is None  # undispatched: the event dispatcher never takes it

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


async def test_a_new_user_counts_only_what_came_after_they_joined(
    api: Api, telegram_channel: dict
) -> None:
    """Not "99+" on the first day: the history from before the user existed is not theirs
    to read. What arrives after counts as for everyone."""
    old = await customer_writes(telegram_channel, "811", *["before you came"] * (TOTAL_CAP + 5))
    newcomer = await make_user(Role.OPERATOR, "new@example.com")
    as_newcomer = await api.as_user(newcomer)
    assert await total(as_newcomer) == 0
    assert await unread(as_newcomer) == {old.id: 0}
    assert await total(api) == TOTAL_CAP  # the admin was there: the history is theirs
    await customer_writes(telegram_channel, "811", "and one after")
    fresh = await customer_writes(telegram_channel, "812", "Hello", "Anyone?")
    assert await unread(as_newcomer) == {old.id: 1, fresh.id: 2}
    assert await total(as_newcomer) == 3
    status, body = await as_newcomer.post(f"/api/v1/dialogs/{old.id}/read")
    assert (status, body) == (200, {"total": 2})


async def test_messages_between_joining_and_the_first_look_count(
    api: Api, telegram_channel: dict
) -> None:
    """The baseline is the user's creation, not their first visit."""
    await customer_writes(telegram_channel, "813", "before")
    newcomer = await make_user(Role.OPERATOR, "new@example.com")
    dialog = await customer_writes(telegram_channel, "813", "after", "also after")
    assert await unread(await api.as_user(newcomer)) == {dialog.id: 2}


async def test_a_team_that_was_there_all_along_counts_from_the_start(
    telegram_channel: dict,
) -> None:
    dialog = await customer_writes(telegram_channel, "814", "one", "two")
    member = await make_user(Role.OPERATOR, "member@example.com")
    assert await unread_total(reader=member) == 0
    await count_from_start(reader=member)
    assert await unread_counts(reader=member, dialog_ids=[dialog.id]) == {dialog.id: 2}
