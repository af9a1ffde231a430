"""The application factory: resources opened and closed in ``cleanup_ctx``."""

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC

from aiogram.fsm.storage.redis import RedisStorage
from aiohttp import ClientSession, web
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis

from altegio_sync.pull import ScheduledPull
from bot.channels import Signers
from bot.conversions import ConversionSender
from bot.intake import STEPS, Intake
from bot.outbox import OutboxWorker
from bot.ratelimit import MemoryBuckets, RedisBuckets, TokenBucket
from bot.staff import TaskNotifier
from bot.state import SharedState
from bot.telegram import Bots, build_dispatcher
from bot.templates import TemplateCache
from core.auth import use_password_profile
from core.bus import MemoryBus, RedisBus
from core.crypto import Vault
from core.db import database, one_writer
from core.dispatch import EventDispatcher
from core.events import subscribe
from core.files import FileStore
from core.live import message
from core.models import Event
from core.queue import Pump
from core.settings import Settings
from inbox.attachments import LARGEST
from triggers.consumers import consumers
from web import middleware, pages
from web.keys import (
    ALTEGIO,
    BOTS,
    CONVERSIONS,
    DISPATCHER,
    EVENTS,
    FILES,
    HTTP,
    INTAKE,
    LIVE,
    PUMPS,
    REDIS,
    SCHEDULER,
    SETTINGS,
    SIGNERS,
    SOCKETS,
    TEMPLATES,
    VAULT,
)
from web.live import socket
from web.pages.access import errors as page_errors
from web.routes import (  # noqa: F401  (importing a route module registers its endpoints)
    altegio,
    api,
    auth,
    automations,
    canned,
    catalog,
    channels,
    contacts,
    conversions,
    deals,
    media,
    parked,
    pipelines,
    staff,
    system,
    triggers,
    webhooks,
)

#: What a file upload carries besides the file: the form's boundaries, headers, caption.
UPLOAD_OVERHEAD = 64 * 1024


def create_app(settings: Settings, *, own_database: bool = True) -> web.Application:
    """A ready-to-run application for ``settings``.

    ``own_database=False`` is for callers that keep the database open across many
    applications (the test suite opens it once per backend).
    """
    app = web.Application(
        middlewares=[
            middleware.errors,
            middleware.body_limit,
            page_errors,
            middleware.authentication,
            middleware.csrf,
        ],
        # the largest file a channel takes, with room for the form around it; every
        # other request is held to middleware.BODY_LIMIT
        client_max_size=LARGEST + UPLOAD_OVERHEAD,
    )
    app[SETTINGS] = settings
    use_password_profile(settings.password_profile)
    app[FILES] = FileStore(settings.media_dir)
    app[PUMPS] = {}
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    if secret is not None:
        app[VAULT] = Vault(secret)
    app[middleware.CSRF_KEY] = middleware.csrf_key(secret)
    app.on_response_prepare.append(middleware.security_headers)
    if own_database:
        app.cleanup_ctx.append(_database)
    if settings.redis_url:
        app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_scheduler)
    app.cleanup_ctx.append(_telegram)
    app.cleanup_ctx.append(_intake)
    app.cleanup_ctx.append(_outbox)
    app.cleanup_ctx.append(_conversions)
    app.cleanup_ctx.append(_altegio)
    app.cleanup_ctx.append(_events)
    app.cleanup_ctx.append(_live)
    app.on_shutdown.append(socket.close_all)
    api.install(app)
    pages.install(app, settings)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with database(settings.database_url, pool_size=settings.db_pool_size):
        yield


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    """APScheduler drives the workers' ticks and their wake-ups at due times."""
    app[SCHEDULER] = scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.start()
    yield
    scheduler.shutdown(wait=False)


async def _telegram(app: web.Application) -> AsyncIterator[None]:
    """aiogram's dispatcher (bot state in Redis when there is one, with this process's
    copy while Redis is away) and the bots' sessions."""
    redis = app.get(REDIS)
    storage = SharedState(RedisStorage(redis)) if redis is not None else None
    app[DISPATCHER] = build_dispatcher(storage, app.get(VAULT))
    app[BOTS] = Bots()
    yield
    await app[BOTS].close()
    await app[DISPATCHER].storage.close()


async def _intake(app: web.Application) -> AsyncIterator[None]:
    """Processing of accepted webhook deliveries, in the background unless switched off."""
    if VAULT not in app:  # no secret key, no channels, nothing to take in
        yield
        return
    steps = 1 if one_writer(app[SETTINGS].database_url) else STEPS
    app[INTAKE] = intake = Intake(
        vault=app[VAULT], bots=app[BOTS], dispatcher=app[DISPATCHER], steps=steps
    )
    app[SIGNERS] = signers = Signers(app[VAULT])
    unsubscribe = subscribe(signers.heard)
    if app[SETTINGS].intake_worker:
        _start(app, intake.pump)
    yield
    unsubscribe()
    await intake.pump.stop()


def _start(app: web.Application, pump: Pump) -> None:
    """Run ``pump`` on the app's scheduler; ``/healthz`` shows its rounds."""
    pump.start(app[SCHEDULER])
    app[PUMPS][pump.name] = pump


async def _redis(app: web.Application) -> AsyncIterator[None]:
    # bounded waits: a Redis that stops answering is an outage to ride out, not a hang
    client = Redis.from_url(
        app[SETTINGS].redis_url or "", socket_connect_timeout=2, socket_timeout=5
    )
    app[REDIS] = client
    yield
    await client.aclose()


async def _outbox(app: web.Application) -> AsyncIterator[None]:
    """One HTTP session for the Graph API, the template cache, and the outbox worker.

    The worker paces sends with buckets in Redis when there is one (shared by every
    process), else in memory; ``outbox_worker=False`` leaves sending to another process.
    Channels need the vault, so without a secret key there is nothing to send.
    """
    app[HTTP] = session = ClientSession()
    app[TEMPLATES] = TemplateCache()
    worker = None
    if app[SETTINGS].outbox_worker and VAULT in app:
        redis = app.get(REDIS)
        buckets: TokenBucket = RedisBuckets(redis) if redis is not None else MemoryBuckets()
        worker = OutboxWorker(app[VAULT], app[BOTS], session, buckets, files=app[FILES])
        worker.start(app[SCHEDULER])
        app[PUMPS][worker.pump.name] = worker.pump
    yield
    if worker is not None:
        await worker.stop()
    await session.close()


async def _conversions(app: web.Application) -> AsyncIterator[None]:
    """The Conversions API sender; it runs where the outbox does (it needs the vault)."""
    if VAULT not in app:
        yield
        return
    app[CONVERSIONS] = sender = ConversionSender(app[VAULT], app[HTTP])
    if app[SETTINGS].outbox_worker:
        _start(app, sender.pump)
    yield
    await sender.pump.stop()


async def _altegio(app: web.Application) -> AsyncIterator[None]:
    """The periodic Altegio pull, where the intake runs (it takes the webhooks in too);
    with Redis, one process at a time across every process sharing it."""
    if VAULT not in app:
        yield
        return
    app[ALTEGIO] = pulls = ScheduledPull(app[VAULT], app[HTTP], app.get(REDIS))
    minutes = app[SETTINGS].altegio_sync_minutes
    if app[SETTINGS].intake_worker and minutes:
        app[SCHEDULER].add_job(
            pulls.run, "interval", minutes=minutes, id="altegio", max_instances=1,
            coalesce=True, misfire_grace_time=None,
        )  # fmt: skip
    yield
    with contextlib.suppress(JobLookupError):
        app[SCHEDULER].remove_job("altegio")


async def _events(app: web.Application) -> AsyncIterator[None]:
    """Domain events fed from the event table to their consumers (triggers, automations,
    the Conversions API, task notes to assignees).

    The dispatcher polls for events committed by other processes and is woken at once
    by this process's own commits.
    """
    table = consumers()
    if VAULT in app:
        notifier = TaskNotifier(app[VAULT], app[BOTS])
        table.setdefault("task.created", []).append(notifier.notify)
    app[EVENTS] = dispatcher = EventDispatcher(table)

    async def wake(event: Event) -> None:
        if event.next_attempt_at is not None:  # a dispatched kind: there is work
            dispatcher.pump.wake()

    unsubscribe = subscribe(wake)
    if app[SETTINGS].event_worker:
        _start(app, dispatcher.pump)
    yield
    unsubscribe()
    await dispatcher.pump.stop()


async def _live(app: web.Application) -> AsyncIterator[None]:
    """The live bus, told of every event this process commits.

    Through Redis when it is configured, so every process's sockets hear every
    process's commits (``funnelbox worker``'s too); in memory otherwise, for one process.
    """
    redis = app.get(REDIS)
    app[LIVE] = bus = RedisBus(redis) if redis is not None else MemoryBus()
    app[SOCKETS] = set()
    await bus.open()

    async def announce(event: Event) -> None:
        bus.publish(message(event))

    unsubscribe = subscribe(announce)
    yield
    unsubscribe()
    await bus.close()
