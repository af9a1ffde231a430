"""Channels under test: a pipeline to land deals in and fake messenger servers."""

import pytest

from core.models import User
from funnels import pipelines
from tests.conftest import Api
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
