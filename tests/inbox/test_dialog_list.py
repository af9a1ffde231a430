"""The inbox list through the API: newest activity first in keyset pages, and search."""

from datetime import UTC, datetime, timedelta

from bot.inbound import receive
from inbox.dialogs import Inbound, Sender
from inbox.models import Channel, Dialog
from tests.bot.test_outbox import open_chat
from tests.conftest import Api

CUSTOMERS = [  # name, phone, what they wrote
    ("Mila Kowalski", "+48512345678", ["Is there a slot tomorrow?"]),
    ("Ravi Shah", "+447911123456", ["What does a beard trim cost?", "Thanks!"]),
    ("Sofia Martínez", None, ["Can I move my appointment to Wednesday?"]),
    ("Tom Becker", "+4915112345678", ["Do you sell gift cards?"]),
    ("Aiko Tanaka", None, ["Is parking available near the salon?"]),
]


async def _dialogs(channel: dict) -> list[Dialog]:
    """One dialog per customer, the first customer's activity the oldest."""
    stored = await Channel.get(id=channel["id"])
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    found = []
    for number, (name, phone, texts) in enumerate(CUSTOMERS):
        sender = Sender(external_id=f"70{number}", name=name, phone=phone)
        for index, text in enumerate(texts):
            inbound = Inbound(sender, chat_id=f"70{number}", external_id=f"70{number}:{index}")
            inbound.text = text
            await receive(channel=stored, message=inbound)
        dialog = await Dialog.get(chat_id=f"70{number}")
        # the last two share a moment: the id breaks the tie
        at = start + timedelta(minutes=min(number, 3))
        await Dialog.filter(id=dialog.id).update(last_message_at=at)
        found.append(dialog)
    return found


async def _walk(api: Api, query: str, limit: int) -> list[int]:
    """Every dialog id the list hands out, page by page."""
    ids, cursor, pages = [], None, 0
    while True:
        params = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        status, body = await api.get(f"/api/v1/dialogs?{query}", params=params)
        assert status == 200, body
        assert len(body["items"]) <= limit
        ids += [d["id"] for d in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
        assert pages < 20, "the cursor must move on"


async def test_pages_walk_every_dialog_newest_activity_first(
    api: Api, telegram_channel: dict
) -> None:
    mila, ravi, sofia, tom, aiko = await _dialogs(telegram_channel)
    quiet = await open_chat(telegram_channel, "799", inbound_hours_ago=None)  # no message yet
    expected = [aiko.id, tom.id, sofia.id, ravi.id, mila.id, quiet.id]
    for limit in (1, 2, 4, 50):
        assert await _walk(api, "", limit) == expected
    _, body = await api.get("/api/v1/dialogs", params={"limit": "2"})
    assert [d["contact"]["name"] for d in body["items"]] == ["Aiko Tanaka", "Tom Becker"]


async def test_search_by_name_phone_or_message_text(api: Api, telegram_channel: dict) -> None:
    mila, ravi, sofia, tom, aiko = await _dialogs(telegram_channel)
    assert await _walk(api, "q=kowal", 1) == [mila.id]  # part of a name, any case
    assert await _walk(api, "q=%2B48%20512%20345", 1) == [mila.id]  # a phone, spaced
    assert await _walk(api, "q=7911", 1) == [ravi.id]
    assert await _walk(api, "q=BEARD", 1) == [ravi.id]  # any message, not just the last
    assert await _walk(api, "q=is%20", 1) == [aiko.id, mila.id]  # two, newest first
    assert await _walk(api, "q=a", 2) == [aiko.id, tom.id, sofia.id, ravi.id, mila.id]
    assert await _walk(api, "q=nobody", 5) == []


async def test_a_cursor_we_did_not_make_is_bad_input(api: Api, telegram_channel: dict) -> None:
    await _dialogs(telegram_channel)
    naive = "WyIyMDI2LTAzLTAxVDA5OjAwOjAwIiwgMV0"  # ["2026-03-01T09:00:00", 1]
    for cursor in ("nonsense", "WzEsIDJd", "WyJub3QgYSBkYXRlIiwgMV0", naive):
        status, body = await api.get("/api/v1/dialogs", params={"cursor": cursor})
        assert status == 422, (cursor, body)
        assert body["error"]["field"] == "cursor"
