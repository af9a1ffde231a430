"""The application factory: resources opened and closed in ``cleanup_ctx``."""

from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis

from core.db import database
from core.settings import Settings
from web import middleware
from web.keys import REDIS, SETTINGS
from web.routes import api, auth, catalog, contacts, deals, pipelines, system  # noqa: F401


def create_app(settings: Settings, *, own_database: bool = True) -> web.Application:
    """A ready-to-run application for ``settings``.

    ``own_database=False`` is for callers that keep the database open across many
    applications (the test suite opens it once per backend).
    """
    app = web.Application(middlewares=[middleware.errors, middleware.authentication])
    app[SETTINGS] = settings
    if own_database:
        app.cleanup_ctx.append(_database)
    if settings.redis_url:
        app.cleanup_ctx.append(_redis)
    api.install(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with database(settings.database_url, pool_size=settings.db_pool_size):
        yield


async def _redis(app: web.Application) -> AsyncIterator[None]:
    client = Redis.from_url(app[SETTINGS].redis_url or "")
    app[REDIS] = client
    yield
    await client.aclose()
