"""Database helpers, on both databases."""

from datetime import UTC, datetime

from core.db import insert_all, insert_new, update_all
from core.models import Event, User
from tests.conftest import Backend


async def test_insert_all_gives_every_row_its_own_id_in_order(db: Backend) -> None:
    """Across statements (three rows a statement here), ids follow the list, defaults and
    ``auto_now_add`` are filled in as by ``save()``, and what is read back is what was
    given."""
    before = datetime.now(UTC)
    rows = [Event(kind="test.item", data={"n": n, "text": "é\u2603"}) for n in range(7)]
    await insert_all(rows, rows_per_statement=3)
    ids = [row.id for row in rows]
    assert ids == sorted(ids) and len(set(ids)) == 7
    stored = {row.id: row for row in await Event.filter(id__in=ids)}
    for n, row in enumerate(rows):
        assert stored[row.id].data == {"n": n, "text": "é\u2603"}
        assert stored[row.id].attempts == 0 and row.attempts == 0
        assert row.created_at >= before and stored[row.id].created_at == row.created_at
    assert all(row._saved_in_db for row in rows)


async def test_insert_all_of_nothing_writes_nothing(db: Backend) -> None:
    await insert_all([])
    assert await Event.all().count() == 0


async def test_insert_new_skips_rows_whose_unique_key_is_taken(db: Backend) -> None:
    """Stored keys and a key repeated within the batch are skipped, not raised; the
    rest go in, in one go, and the count says how many."""
    await User.create(email="taken@example.com", name="Taken", role="operator", password_hash="x")
    emails = ["a@example.com", "taken@example.com", "b@example.com", "a@example.com"]
    rows = [
        User(email=email, name=f"User {n}", role="operator", password_hash="x")
        for n, email in enumerate(emails)
    ]
    assert await insert_new(rows, rows_per_statement=3) == 2
    stored = {user.email: user.name for user in await User.all()}
    assert stored == {
        "taken@example.com": "Taken",
        "a@example.com": "User 0",
        "b@example.com": "User 2",
    }


async def test_insert_new_of_nothing_writes_nothing(db: Backend) -> None:
    assert await insert_new([]) == 0


async def test_update_all_writes_each_rows_own_values_and_leaves_the_rest(db: Backend) -> None:
    """Values that differ per row, one shared by all, and None, as ``save()`` of each
    would write them; a row not given is untouched."""
    rows = [Event(kind="test.item", data={"n": n}, attempts=0) for n in range(4)]
    await insert_all(rows)
    due = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    given = rows[:3]
    for n, row in enumerate(given):
        row.data, row.attempts, row.next_attempt_at = {"n": n, "seen": True}, n + 1, due
    given[1].last_error = "timeout"
    await update_all(given, ["data", "attempts", "next_attempt_at", "last_error"])
    stored = {row.id: row for row in await Event.all()}
    for n, row in enumerate(given):
        got = stored[row.id]
        assert (got.data, got.attempts, got.next_attempt_at) == ({"n": n, "seen": True}, n + 1, due)
    assert [stored[row.id].last_error for row in given] == [None, "timeout", None]
    untouched = stored[rows[3].id]
    assert (untouched.data, untouched.attempts) == ({"n": 3}, 0)


async def test_update_all_of_nothing_writes_nothing(db: Backend) -> None:
    await update_all([], ["data"])
    assert await Event.all().count() == 0
