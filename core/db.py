"""Database wiring: one Tortoise app holding every domain's models, migrated by Tortoise itself."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as tortoise_migrate

APP_LABEL = "funnelbox"

#: Every module that defines models, in dependency order (shared core first).
MODEL_MODULES = [
    "core.models",
    "inbox.models",
    "funnels.models",
    "altegio_sync.models",
    "bot.models",
    "triggers.models",
    "triggers.automations.models",
    "triggers.conversions.models",
]


async def _rolled_back(connection: object) -> None:
    """A pooled connection's reset on release: nothing beyond the rollback of an open
    transaction, which asyncpg always does first.

    asyncpg's default reset is a query of its own on every release (advisory locks,
    cursors, LISTEN, session settings), and tortoise takes a connection from the pool
    for every statement outside a transaction: one round trip more per query. Funnelbox
    holds no session state (it never takes advisory locks, listens, declares cursors or
    SETs anything), so there is nothing to reset.
    """


def tortoise_config(database_url: str, *, pool_size: int = 10) -> dict[str, Any]:
    """Build the Tortoise config; PostgreSQL gets a bounded connection pool whose
    connections are not reset on release (see :func:`_rolled_back`)."""
    connection = expand_db_url(database_url.replace("postgresql://", "postgres://", 1))
    if connection["engine"].endswith("asyncpg"):
        connection["credentials"].update(
            {"minsize": 1, "maxsize": pool_size, "reset": _rolled_back}
        )
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "core.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(database_url: str) -> list[str]:
    """Apply every committed migration (the same files serve SQLite and PostgreSQL);
    returns the names of those applied now, oldest first."""
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)

    await tortoise_migrate(config=tortoise_config(database_url), progress=progress)
    await Tortoise.close_connections()
    return applied


async def open_database(database_url: str, *, pool_size: int = 10) -> None:
    """Connect for serving. ``_enable_global_fallback`` lets aiohttp request tasks see it."""
    await Tortoise.init(
        config=tortoise_config(database_url, pool_size=pool_size),
        _enable_global_fallback=True,
    )


@asynccontextmanager
async def database(database_url: str, *, pool_size: int = 10) -> AsyncIterator[None]:
    """Open the database for the duration of a block (CLI commands, app cleanup_ctx)."""
    await open_database(database_url, pool_size=pool_size)
    try:
        yield
    finally:
        await Tortoise.close_connections()


#: For ``tortoise makemigrations`` (pyproject's ``[tool.tortoise]``): migrations are
#: computed from the models and the committed files, so an in-memory database will do.
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
