"""Migrations upgrade a database that already holds data, not only an empty one."""

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from tortoise import Tortoise
from tortoise.migrations.api import migrate as tortoise_migrate

from core.db import tortoise_config

T = TypeVar("T")
NOW = "2026-01-01 00:00:00+00:00"


async def upgrade(
    tmp_path: Path, since: str, fill: Callable[[sqlite3.Connection], T]
) -> tuple[Path, T]:
    """A SQLite database migrated to ``funnelbox.<since>``, given rows by ``fill`` (through
    sqlite3, which does not enforce foreign keys here), then migrated to the newest; returns
    its path and what ``fill`` returned."""
    path = tmp_path / "old.sqlite3"
    config = tortoise_config(f"sqlite://{path}")
    await tortoise_migrate(config=config, target=f"funnelbox.{since}")
    await Tortoise.close_connections()
    with sqlite3.connect(path) as conn:
        filled = fill(conn)
    await tortoise_migrate(config=config)
    await Tortoise.close_connections()
    return path, filled


def insert(*statements: str) -> Callable[[sqlite3.Connection], None]:
    """A ``fill`` running each statement, with :data:`NOW` for its placeholders."""

    def fill(conn: sqlite3.Connection) -> None:
        for sql in statements:
            conn.execute(sql, (NOW,) if "?" in sql else ())

    return fill


async def test_upgrading_a_database_with_rows(tmp_path: Path) -> None:
    path, _ = await upgrade(
        tmp_path,
        "0001_initial",
        insert(
            "INSERT INTO pipeline (name, color, position, created_at) "
            "VALUES ('Sales', '#112233', 0, ?)"
        ),
    )
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT name, auto_messages_enabled, auto_tasks_enabled FROM pipeline"
        ).fetchone()
    assert row == ("Sales", 1, 1)


def _sends(conn: sqlite3.Connection) -> None:
    for message_id, dialog_id, author, payload in [
        (1, 7, "bot", '{"trigger_id": 3, "event_id": 9}'),
        (2, 7, "operator", "{}"),
        (3, 8, "bot", '{"trigger_id": 3, "event_id": 10}'),
    ]:
        conn.execute(
            "INSERT INTO message (id, channel_id, dialog_id, direction, author, kind, text,"
            " payload, status, created_at) VALUES (?, 1, ?, 'out', ?, 'text', 'x', ?,"
            " 'queued', ?)",
            (message_id, dialog_id, author, payload, NOW),
        )
    for message_id, state in [(1, "pending"), (2, "pending"), (3, "done")]:
        conn.execute(
            "INSERT INTO outbox (message_id, state, attempts, next_attempt_at) VALUES (?, ?, 0, ?)",
            (message_id, state, NOW),
        )


async def test_pending_sends_join_the_shared_queue(tmp_path: Path) -> None:
    """0011: each send knows its dialog (claimed in order), finished ones leave the queue,
    and a pending stage-trigger message keeps being checked when it comes due."""
    path, _ = await upgrade(tmp_path, "0010_intake_thread", _sends)
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT message_id, dialog_id, purpose, next_attempt_at IS NULL FROM outbox"
            " ORDER BY message_id"
        ).fetchall()
    assert rows == [(1, 7, "stage_trigger", 0), (2, 7, None, 0), (3, 8, None, 1)]


USER = (
    "INSERT INTO user (id, email, name, role, password_hash, is_active, created_at) "
    "VALUES (7, 'a@example.com', 'Ann', 'admin', 'x', 1, ?)"
)
PIPELINE = (
    "INSERT INTO pipeline (id, name, color, position, created_at) "
    "VALUES (3, 'Sales', '#112233', 0, ?)"
)
STAGE = (
    "INSERT INTO stage (id, pipeline_id, name, probability, kind, position) "
    "VALUES (5, 3, 'New', 10, 'open', 0)"
)
CHANNEL_AT_0010 = (
    "INSERT INTO channel (id, kind, name, api_base_url, external_id, credentials, settings, "
    "pipeline_id, stage_id, owner_id, is_active, created_at) "
    "VALUES (11, 'telegram', 'Bot', 'http://x', '42', 'sealed', '{}', 3, 5, 7, 1, ?)"
)
#: A channel since 0012, where its routing moved to deal_intake.
CHANNEL = (
    "INSERT INTO channel (id, kind, name, api_base_url, external_id, credentials, "
    "settings, is_active, created_at) "
    "VALUES (11, 'telegram', 'Bot', 'http://x', '42', 'sealed', '{}', 1, ?)"
)
CONTACT = "INSERT INTO contact (id, name, created_at, updated_at) VALUES (2, 'Bo', ?1, ?1)"
DIALOG = (
    "INSERT INTO dialog (id, channel_id, contact_id, chat_id, created_at) "
    "VALUES (9, 11, 2, '42', ?)"
)


async def test_channels_keep_their_routing_and_dialogs(tmp_path: Path) -> None:
    """0012 moves a channel's pipeline, stage and owner to deal_intake: the rows keep
    their routing, and the channel keeps its id, unique key, index and dialogs."""
    path, _ = await upgrade(
        tmp_path,
        "0010_intake_thread",
        insert(USER, PIPELINE, STAGE, CHANNEL_AT_0010, CONTACT, DIALOG),
    )
    with sqlite3.connect(path) as conn:
        intake = conn.execute(
            "SELECT channel_id, pipeline_id, stage_id, owner_id FROM deal_intake"
        ).fetchall()
        channel = conn.execute("SELECT * FROM channel").fetchall()
        dialogs = conn.execute("SELECT id, channel_id FROM dialog").fetchall()
        indexes = {row[1] for row in conn.execute("PRAGMA index_list('channel')")}
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(CHANNEL.replace("VALUES (11,", "VALUES (12,"), (NOW,))
    assert intake == [(11, 3, 5, 7)]
    assert channel == [(11, "telegram", "Bot", "http://x", "42", "sealed", "{}", 1, NOW)]
    assert dialogs == [(9, 11)]
    assert "idx_channel_externa_a11042" in indexes


async def test_notes_leave_the_message_table_as_it_was(tmp_path: Path) -> None:
    """0015 gives messages the direction ``note`` without rebuilding the table on SQLite:
    queued sends, the message's unique key and its index all stay."""

    def fill(conn: sqlite3.Connection) -> set[str]:
        insert(
            "INSERT INTO message (id, channel_id, dialog_id, direction, author, kind, text,"
            " payload, external_id, status, created_at)"
            " VALUES (1, 1, 7, 'out', 'operator', 'text', 'x', '{}', 'e1', 'queued', ?)",
            "INSERT INTO outbox (message_id, dialog_id, state, attempts, next_attempt_at)"
            " VALUES (1, 7, 'pending', 0, ?)",
        )(conn)
        return {row[1] for row in conn.execute("PRAGMA index_list('message')")}

    path, before = await upgrade(tmp_path, "0012_deal_intake", fill)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT message_id, state FROM outbox").fetchall() == [(1, "pending")]
        assert {row[1] for row in conn.execute("PRAGMA index_list('message')")} == before
        assert conn.execute("SELECT COUNT(*) FROM canned_reply").fetchone() == (0,)


async def test_dialogs_learn_their_newest_customer_message(tmp_path: Path) -> None:
    """0016 adds the assignee and fills ``last_inbound_id`` from the stored messages,
    keeping the dialog's rows, unique key and messages."""

    def fill(conn: sqlite3.Connection) -> None:
        insert(
            USER, PIPELINE, STAGE, CHANNEL, CONTACT, DIALOG,
            "INSERT INTO contact (id, name, created_at, updated_at) VALUES (3, 'Cy', ?1, ?1)",
            "INSERT INTO dialog (id, channel_id, contact_id, chat_id, created_at) "
            "VALUES (10, 11, 3, '43', ?)",
        )(conn)  # fmt: skip
        for message_id, direction in [(1, "in"), (2, "in"), (3, "out")]:
            conn.execute(
                "INSERT INTO message (id, channel_id, dialog_id, direction, author, kind, text,"
                " payload, status, created_at) VALUES (?, 11, 9, ?, 'customer', 'text', 'x',"
                " '{}', 'received', ?)",
                (message_id, direction, NOW),
            )

    path, _ = await upgrade(tmp_path, "0012_deal_intake", fill)
    with sqlite3.connect(path) as conn:
        dialogs = conn.execute(
            "SELECT id, assignee_id, last_inbound_id FROM dialog ORDER BY id"
        ).fetchall()
        messages = conn.execute("SELECT COUNT(*) FROM message").fetchone()
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO dialog (channel_id, contact_id, chat_id, created_at) "
                "VALUES (11, 2, '44', ?)",
                (NOW,),
            )
    assert dialogs == [(9, None, 2), (10, None, None)]
    assert messages == (3,)


async def test_duplicate_phones_stay_with_the_oldest_contact(tmp_path: Path) -> None:
    """0017 makes phones unique: of contacts sharing a phone the oldest keeps it, a later
    one keeps its dialog and everything else, with a ``contact.updated`` event saying why;
    the table is not rebuilt (its dialogs stay). Existing users count unread from 0."""

    def fill(conn: sqlite3.Connection) -> None:
        insert(USER, CHANNEL)(conn)
        for contact_id, name, phone in [
            (2, "Bo", "+447700900123"),
            (3, "Bo again", "+447700900123"),
            (4, "Cy", "+447700900456"),
            (5, "Di", None),
            (6, "Ed", None),
        ]:
            conn.execute(
                "INSERT INTO contact (id, name, phone, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (contact_id, name, phone, NOW, NOW),
            )
        insert(
            "INSERT INTO dialog (id, channel_id, contact_id, chat_id, created_at) "
            "VALUES (9, 11, 3, '42', ?)"
        )(conn)

    path, _ = await upgrade(tmp_path, "0016_dialog_assignment", fill)
    with sqlite3.connect(path) as conn:
        phones = conn.execute("SELECT id, phone FROM contact ORDER BY id").fetchall()
        dialogs = conn.execute("SELECT id, contact_id FROM dialog").fetchall()
        baselines = conn.execute("SELECT user_id, message_id FROM read_baseline").fetchall()
        events = conn.execute(
            "SELECT kind, json_extract(data, '$.contact_id'), json_extract(data, '$.changes')"
            " FROM event"
        ).fetchall()
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO contact (name, phone, created_at, updated_at) "
                "VALUES ('Cy too', '+447700900456', ?1, ?1)",
                (NOW,),
            )
    assert phones == [
        (2, "+447700900123"), (3, None), (4, "+447700900456"), (5, None), (6, None)
    ]  # fmt: skip
    assert dialogs == [(9, 3)]
    assert baselines == [(7, 0)]
    assert events == [("contact.updated", 3, '{"phone":{"from":"+447700900123","to":null}}')]
