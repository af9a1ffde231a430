"""The application factory: resources opened and closed in ``cleanup_ctx``."""

from collections.abc import AsyncIterator

from aiogram.fsm.storage.redis import RedisStorage
from aiohttp import web
from redis.asyncio import Redis

from bot.telegram import Bots, build_dispatcher
from core.crypto import Vault
from core.db import database
from core.settings import Settings
from web import middleware
from web.keys import BOTS, DISPATCHER, REDIS, SETTINGS, VAULT
from web.routes import (  # noqa: F401  (importing a route module registers its endpoints)
    api,
    auth,
    catalog,
    channels,
    contacts,
    deals,
    media,
    pipelines,
    system,
    webhooks,
)


def create_app(settings: Settings, *, own_database: bool = True) -> web.Application:
    """A ready-to-run application for ``settings``.

    ``own_database=False`` is for callers that keep the database open across many
    applications (the test suite opens it once per backend).
    """
    app = web.Application(middlewares=[middleware.errors, middleware.authentication])
    app[SETTINGS] = settings
    if settings.secret_key is not None:
        app[VAULT] = Vault(settings.secret_key.get_secret_value())
    if own_database:
        app.cleanup_ctx.append(_database)
    if settings.redis_url:
        app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_telegram)
    api.install(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with database(settings.database_url, pool_size=settings.db_pool_size):
        yield


async def _telegram(app: web.Application) -> AsyncIterator[None]:
    """aiogram's dispatcher (bot state in Redis when there is one) and the bots' sessions."""
    redis = app.get(REDIS)
    storage = RedisStorage(redis) if redis is not None else None
    app[DISPATCHER] = build_dispatcher(storage)
    app[BOTS] = Bots()
    yield
    await app[BOTS].close()
    await app[DISPATCHER].storage.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    client = Redis.from_url(app[SETTINGS].redis_url or "")
    app[REDIS] = client
    yield
    await client.aclose()
