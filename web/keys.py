"""Typed keys under which the application keeps its resources."""

from aiohttp import web
from redis.asyncio import Redis

from core.models import User
from core.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
USER = web.RequestKey("user", User)
