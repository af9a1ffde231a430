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
