"""Typed keys under which the application keeps its resources."""

from aiogram import Dispatcher
from aiohttp import ClientSession, web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis

from altegio_sync.pull import ScheduledPull
from bot.channels import Signers
from bot.conversions import ConversionSender
from bot.intake import Intake
from bot.telegram import Bots
from bot.templates import TemplateCache
from core.bus import Bus
from core.crypto import Vault
from core.dispatch import EventDispatcher
from core.errors import ValidationFailed
from core.files import FileStore
from core.models import User
from core.queue import Pump
from core.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
#: The background workers running in this process, by name.
PUMPS = web.AppKey("pumps", dict[str, Pump])
REDIS = web.AppKey("redis", Redis)
VAULT = web.AppKey("vault", Vault)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
BOTS = web.AppKey("bots", Bots)
INTAKE = web.AppKey("intake", Intake)
#: The WhatsApp channels webhooks are verified against.
SIGNERS = web.AppKey("signers", Signers)
EVENTS = web.AppKey("events", EventDispatcher)
HTTP = web.AppKey("http", ClientSession)
TEMPLATES = web.AppKey("templates", TemplateCache)
CONVERSIONS = web.AppKey("conversions", ConversionSender)
SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)
ALTEGIO = web.AppKey("altegio", ScheduledPull)
LIVE = web.AppKey("live", Bus)
#: Files operators send (``FUNNELBOX_MEDIA_DIR``).
FILES = web.AppKey("files", FileStore)
#: The open live sockets, closed on shutdown.
SOCKETS = web.AppKey("live_sockets", set[web.WebSocketResponse])
USER = web.RequestKey("user", User)
#: The bearer token or session cookie ``USER`` was resolved from (the live socket re-checks it).
CREDENTIAL = web.RequestKey("credential", str)


def vault(request: web.Request) -> Vault:
    """The credentials vault; channels need ``FUNNELBOX_SECRET_KEY``."""
    found = request.app.get(VAULT)
    if found is None:
        raise ValidationFailed(
            "set FUNNELBOX_SECRET_KEY (16+ characters) to store channel credentials",
            field="FUNNELBOX_SECRET_KEY",
        )
    return found


def signers(request: web.Request) -> Signers:
    """The WhatsApp channels webhooks are verified against (they need the vault)."""
    vault(request)
    return request.app[SIGNERS]
