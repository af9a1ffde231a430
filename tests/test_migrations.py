"""Migrations upgrade a database that already holds data, not only an empty one."""

import sqlite3
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.migrations.api import migrate as tortoise_migrate

from core.db import tortoise_config


async def test_upgrading_a_database_with_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    config = tortoise_config(f"sqlite://{path}")
    await tortoise_migrate(config=config, target="funnelbox.0001_initial")
    await Tortoise.close_connections()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO pipeline (name, color, position, created_at) "
            "VALUES ('Sales', '#112233', 0, '2026-01-01 00:00:00+00:00')"
        )
    await tortoise_migrate(config=config)
    await Tortoise.close_connections()
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT name, auto_messages_enabled, auto_tasks_enabled FROM pipeline"
        ).fetchone()
    assert row == ("Sales", 1, 1)


async def test_pending_sends_join_the_shared_queue(tmp_path: Path) -> None:
    """0011: each send knows its dialog (claimed in order), finished ones leave the queue,
    and a pending stage-trigger message keeps being checked when it comes due."""
    path = tmp_path / "old.sqlite3"
    config = tortoise_config(f"sqlite://{path}")
    await tortoise_migrate(config=config, target="funnelbox.0010_intake_thread")
    await Tortoise.close_connections()
    due = "2026-01-01 00:00:00+00:00"
    with sqlite3.connect(path) as conn:  # foreign keys are not enforced by sqlite3 here
        for message_id, dialog_id, author, payload in [
            (1, 7, "bot", '{"trigger_id": 3, "event_id": 9}'),
            (2, 7, "operator", "{}"),
            (3, 8, "bot", '{"trigger_id": 3, "event_id": 10}'),
        ]:
            conn.execute(
                "INSERT INTO message (id, channel_id, dialog_id, direction, author, kind, text,"
                " payload, status, created_at) VALUES (?, 1, ?, 'out', ?, 'text', 'x', ?,"
                " 'queued', ?)",
                (message_id, dialog_id, author, payload, due),
            )
        for message_id, state in [(1, "pending"), (2, "pending"), (3, "done")]:
            conn.execute(
                "INSERT INTO outbox (message_id, state, attempts, next_attempt_at)"
                " VALUES (?, ?, 0, ?)",
                (message_id, state, due),
            )
    await tortoise_migrate(config=config)
    await Tortoise.close_connections()
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT message_id, dialog_id, purpose, next_attempt_at IS NULL FROM outbox"
            " ORDER BY message_id"
        ).fetchall()
    assert rows == [(1, 7, "stage_trigger", 0), (2, 7, None, 0), (3, 8, None, 1)]


NOW = "2026-01-01 00:00:00+00:00"
#: One row of each table a channel touches, as the schema stood at 0010.
ROWS_AT_0010 = [
    "INSERT INTO user (id, email, name, role, password_hash, is_active, created_at) "
    "VALUES (7, 'a@example.com', 'Ann', 'admin', 'x', 1, ?)",
    "INSERT INTO pipeline (id, name, color, position, created_at) "
    "VALUES (3, 'Sales', '#112233', 0, ?)",
    "INSERT INTO stage (id, pipeline_id, name, probability, kind, position) "
    "VALUES (5, 3, 'New', 10, 'open', 0)",
    "INSERT INTO channel (id, kind, name, api_base_url, external_id, credentials, settings, "
    "pipeline_id, stage_id, owner_id, is_active, created_at) "
    "VALUES (11, 'telegram', 'Bot', 'http://x', '42', 'sealed', '{}', 3, 5, 7, 1, ?)",
    "INSERT INTO contact (id, name, created_at, updated_at) VALUES (2, 'Bo', ?1, ?1)",
    "INSERT INTO dialog (id, channel_id, contact_id, chat_id, created_at) "
    "VALUES (9, 11, 2, '42', ?)",
]


async def test_channels_keep_their_routing_and_dialogs(tmp_path: Path) -> None:
    """0012 moves a channel's pipeline, stage and owner to deal_intake: the rows keep
    their routing, and the channel keeps its id, unique key, index and dialogs."""
    path = tmp_path / "old.sqlite3"
    config = tortoise_config(f"sqlite://{path}")
    await tortoise_migrate(config=config, target="funnelbox.0010_intake_thread")
    await Tortoise.close_connections()
    with sqlite3.connect(path) as conn:
        for sql in ROWS_AT_0010:
            conn.execute(sql, (NOW,) if "?" in sql else ())
    await tortoise_migrate(config=config)
    await Tortoise.close_connections()
    with sqlite3.connect(path) as conn:
        intake = conn.execute(
            "SELECT channel_id, pipeline_id, stage_id, owner_id FROM deal_intake"
        ).fetchall()
        channel = conn.execute("SELECT * FROM channel").fetchall()
        dialogs = conn.execute("SELECT id, channel_id FROM dialog").fetchall()
        indexes = {row[1] for row in conn.execute("PRAGMA index_list('channel')")}
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO channel (kind, name, api_base_url, external_id, credentials, "
                "settings, is_active, created_at) "
                "VALUES ('telegram', 'Again', 'http://x', '42', 'sealed', '{}', 1, ?)",
                (NOW,),
            )
    assert intake == [(11, 3, 5, 7)]
    assert channel == [(11, "telegram", "Bot", "http://x", "42", "sealed", "{}", 1, NOW)]
    assert dialogs == [(9, 11)]
    assert "idx_channel_externa_a11042" in indexes


async def test_notes_leave_the_message_table_as_it_was(tmp_path: Path) -> None:
    """0015 gives messages the direction ``note`` without rebuilding the table on SQLite:
    queued sends, the message's unique key and its index all stay."""
    path = tmp_path / "old.sqlite3"
    config = tortoise_config(f"sqlite://{path}")
    await tortoise_migrate(config=config, target="funnelbox.0012_deal_intake")
    await Tortoise.close_connections()
    with sqlite3.connect(path) as conn:
        before = {row[1] for row in conn.execute("PRAGMA index_list('message')")}
        conn.execute(
            "INSERT INTO message (id, channel_id, dialog_id, direction, author, kind, text,"
            " payload, external_id, status, created_at)"
            " VALUES (1, 1, 7, 'out', 'operator', 'text', 'x', '{}', 'e1', 'queued', ?)",
            (NOW,),
        )
        conn.execute(
            "INSERT INTO outbox (message_id, dialog_id, state, attempts, next_attempt_at)"
            " VALUES (1, 7, 'pending', 0, ?)",
            (NOW,),
        )
    await tortoise_migrate(config=config)
    await Tortoise.close_connections()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT message_id, state FROM outbox").fetchall() == [(1, "pending")]
        assert {row[1] for row in conn.execute("PRAGMA index_list('message')")} == before
        assert conn.execute("SELECT COUNT(*) FROM canned_reply").fetchone() == (0,)


async def test_dialogs_learn_their_newest_customer_message(tmp_path: Path) -> None:
    """0016 adds the assignee and fills ``last_inbound_id`` from the stored messages,
    keeping the dialog's rows, unique key and messages."""
    path = tmp_path / "old.sqlite3"
    config = tortoise_config(f"sqlite://{path}")
    await tortoise_migrate(config=config, target="funnelbox.0012_deal_intake")
    await Tortoise.close_connections()
    with sqlite3.connect(path) as conn:
        for sql in ROWS_AT_0010:
            if not sql.startswith("INSERT INTO channel"):
                conn.execute(sql, (NOW,) if "?" in sql else ())
        conn.execute(
            "INSERT INTO channel (id, kind, name, api_base_url, external_id, credentials, "
            "settings, is_active, created_at) "
            "VALUES (11, 'telegram', 'Bot', 'http://x', '42', 'sealed', '{}', 1, ?)",
            (NOW,),
        )
        conn.execute(
            "INSERT INTO contact (id, name, created_at, updated_at) VALUES (3, 'Cy', ?1, ?1)",
            (NOW,),
        )
        conn.execute(
            "INSERT INTO dialog (id, channel_id, contact_id, chat_id, created_at) "
            "VALUES (10, 11, 3, '43', ?)",
            (NOW,),
        )
        for message_id, direction in [(1, "in"), (2, "in"), (3, "out")]:
            conn.execute(
                "INSERT INTO message (id, channel_id, dialog_id, direction, author, kind, text,"
                " payload, status, created_at) VALUES (?, 11, 9, ?, 'customer', 'text', 'x',"
                " '{}', 'received', ?)",
                (message_id, direction, NOW),
            )
    await tortoise_migrate(config=config)
    await Tortoise.close_connections()
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
