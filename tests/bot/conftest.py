"""Channels under test: a pipeline to land deals in, fake messenger servers, and outbox
workers driven by hand."""

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import ClientSession
from redis.asyncio import Redis

from bot.outbox import OutboxWorker
from bot.ratelimit import MemoryBuckets, RedisBuckets, TokenBucket
from bot.senders import TIMEOUTS, Timeouts
from bot.telegram import Bots
from core.crypto import Vault
from core.models import User
from core.queue import POLICIES
from funnels import pipelines
from tests.conftest import SECRET_KEY, Api, Backend
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.whatsapp import FakeGraph
from web.keys import INTAKE


@pytest.fixture
async def inbox_stage(admin: User) -> dict:
    pipeline = await pipelines.create_pipeline(
        actor=admin, name="Messenger", initial_stage="New chat"
    )
    stages = await pipelines.list_stages(pipeline_id=pipeline.id)
    return {"pipeline_id": pipeline.id, "stage_id": stages[0].id, "stages": stages}


@pytest.fixture
async def fake_telegram():
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def telegram_channel(api: Api, inbox_stage: dict, fake_telegram: FakeTelegram) -> dict:
    status, channel = await api.post(
        "/api/v1/channels",
        {
            "kind": "telegram",
            "name": "Shop bot",
            "credentials": {"token": DEFAULT_TOKEN},
            "pipeline_id": inbox_stage["pipeline_id"],
            "stage_id": inbox_stage["stage_id"],
            "api_base_url": fake_telegram.url,
            "settings": {"greeting": "Hi! How can we help?"},
        },
    )
    assert status == 201, channel
    return channel


@pytest.fixture
async def fake_graph():
    async with FakeGraph() as fake:
        yield fake


APP_SECRET = "whatsapp-app-secret-123"
VERIFY_TOKEN = "verify-token-456"


@pytest.fixture
async def whatsapp_channel(api: Api, inbox_stage: dict, fake_graph: FakeGraph) -> dict:
    status, channel = await api.post(
        "/api/v1/channels",
        {
            "kind": "whatsapp",
            "name": "Salon number",
            "credentials": {
                "access_token": fake_graph.access_token,
                "app_secret": APP_SECRET,
                "verify_token": VERIFY_TOKEN,
                "phone_number_id": fake_graph.phone_number_id,
                "waba_id": fake_graph.waba_id,
            },
            "pipeline_id": inbox_stage["pipeline_id"],
            "stage_id": inbox_stage["stage_id"],
            "api_base_url": f"{fake_graph.url}/v21.0",
        },
    )
    assert status == 201, channel
    return channel


async def drain(client: Api) -> int:
    """Process every accepted webhook delivery, as the intake pump would in the background."""
    return await client.client.server.app[INTAKE].pump.drain()


VAULT = Vault(SECRET_KEY.get_secret_value())
MakeWorker = Callable[..., OutboxWorker]


@pytest.fixture
async def make_worker(db: Backend) -> AsyncIterator[MakeWorker]:
    """Workers as the app builds them: buckets in Redis under CI (one namespace per test,
    shared by the test's workers as by processes), in memory otherwise."""
    bots, session = Bots(), ClientSession()
    redis = Redis.from_url(db.redis_url) if db.redis_url else None
    prefix = f"test:{uuid.uuid4().hex}:"

    def make(
        poll_seconds: float = 1.0, timeouts: Timeouts = TIMEOUTS, **policy: Any
    ) -> OutboxWorker:
        buckets: TokenBucket = (
            RedisBuckets(redis, prefix=prefix) if redis is not None else MemoryBuckets()
        )
        options = replace(POLICIES["outbox"], **policy)
        return OutboxWorker(
            VAULT, bots, session, buckets, files=db.files, policy=options,
            poll_seconds=poll_seconds, timeouts=timeouts,
        )  # fmt: skip

    yield make
    await bots.close()
    await session.close()
    if redis is not None:
        await redis.aclose()


@pytest.fixture
async def worker(make_worker: MakeWorker) -> OutboxWorker:
    return make_worker()
