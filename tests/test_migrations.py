"""Migrations upgrade a database that already holds data, not only an empty one."""

import sqlite3
from pathlib import Path

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
