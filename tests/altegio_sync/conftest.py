"""Altegio tests: a fake Altegio API, a connection to it made through our API, and a pull
driven the way the scheduled job drives it (with fast retries)."""

from typing import Any

import pytest
from aiohttp import ClientSession

from altegio_sync.connections import get_connection
from altegio_sync.pull import Summary, api_for, pull
from core.crypto import Vault
from funnels.models import Deal, Stage
from tests.bot.conftest import (  # noqa: F401
    drain,
    fake_graph,
    fake_telegram,
    inbox_stage,
    telegram_channel,
    whatsapp_channel,
)
from tests.conftest import SECRET_KEY, Api
from tests.fakes.altegio import PARTNER_TOKEN, USER_TOKEN, FakeAltegio
from web.keys import EVENTS

VAULT = Vault(SECRET_KEY.get_secret_value())


@pytest.fixture
async def fake_altegio():
    async with FakeAltegio() as fake:
        yield fake


@pytest.fixture
async def connection(api: Api, fake_altegio: FakeAltegio) -> dict:
    status, body = await api.post(
        "/api/v1/altegio/connections",
        {
            "company_id": fake_altegio.company_id,
            "name": "Salon",
            "partner_token": PARTNER_TOKEN,
            "user_token": USER_TOKEN,
            "timezone": "Europe/Belgrade",
            "currency": "EUR",
            "api_base_url": fake_altegio.api_url,
        },
    )
    assert status == 201, body
    return body


async def sync(api: Api, connection: dict, **options: Any) -> Summary:
    """One pull as the scheduled job runs it, then the triggers fed its events."""
    found = await get_connection(connection_id=connection["id"])
    async with ClientSession() as session:
        client = api_for(found, VAULT, session, limiter=None)
        client.backoff_base = 0.01
        summary = await pull(found, client, **options)
    await api.client.server.app[EVENTS].pump.drain()
    return summary


async def stage_of(record_id: int, company_id: int = 4564) -> str:
    """The name of the stage the record's deal is in."""
    deal = await Deal.get(booking__external_id=f"{company_id}:{record_id}")
    return (await Stage.get(id=deal.stage_id)).name


def client(client_id: int, name: str = "Ann Lee", phone: str = "+381 64 1234567") -> dict:
    return {"id": client_id, "name": name, "phone": phone, "email": ""}
