"""Across real processes: two ``funnelbox serve`` and a ``funnelbox worker`` on PostgreSQL,
sharing Redis. A socket on server B sees an API write made on server A, and a WhatsApp
message that A accepted and the worker took in (neither server runs the intake)."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from core import tokens
from core.models import User
from tests.conftest import Backend
from tests.fakes.whatsapp import WhatsAppWebhooks, signed
from tests.processes import ROOT, Server
from tests.web.test_live import WAIT, kinds, session_cookie

APP_SECRET = "live-app-secret"
WHATSAPP = WhatsAppWebhooks(
    waba_id="102290129340398", phone_number_id="106540352242922",
    display_phone_number="15550783881",
)  # fmt: skip


@asynccontextmanager
async def worker(env: dict[str, str]) -> AsyncIterator[None]:
    """`funnelbox worker`, ready once it says so (its bus is open by then)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", "worker", env={**env, "PYTHONUNBUFFERED": "1"},
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            assert b"running" in await process.stdout.readline()
        yield
    finally:
        process.kill()
        await process.wait()


async def until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> list[dict]:
    seen: list[dict] = []
    async with asyncio.timeout(30):  # the worker's intake polls for A's deliveries
        while not seen or seen[-1]["kind"] != kind:
            seen.append(await ws.receive_json())
    return seen


async def test_a_socket_on_one_server_sees_writes_of_the_others(
    db: Backend, admin: User, operator: User
) -> None:
    if db.redis_url is None:
        pytest.skip("needs PostgreSQL and Redis (the PostgreSQL + Redis run)")
    env = {
        **os.environ,
        "FUNNELBOX_DATABASE_URL": db.url,
        "FUNNELBOX_REDIS_URL": db.redis_url,
        "FUNNELBOX_SECRET_KEY": "live-test-secret-key-123",
        "FUNNELBOX_INTAKE_WORKER": "false",
        "FUNNELBOX_OUTBOX_WORKER": "false",
    }
    bearer = {"Authorization": f"Bearer {await tokens.issue_token(user=admin)}"}
    async with (
        Server(env, dispatch=False) as a,
        Server(env, dispatch=False) as b,
        worker(env),
        aiohttp.ClientSession(headers=bearer) as http,
        aiohttp.ClientSession() as browser,
    ):
        ws = await browser.ws_connect(f"{b.base}/ws", headers=await session_cookie(operator))
        assert (await ws.receive_json(timeout=WAIT))["kind"] == "live.hello"

        async def post(path: str, body: dict) -> dict:
            async with http.post(f"{a.base}{path}", json=body) as response:
                assert response.status in (200, 201), await response.text()
                return await response.json()

        await post("/api/v1/contacts", {"name": "Written on A"})
        [created] = await until(ws, "contact.created")
        assert created["data"]["name"] == "Written on A"

        pipeline = await post("/api/v1/pipelines", {"name": "Sales"})
        await post("/api/v1/channels", WHATSAPP.channel(pipeline, APP_SECRET))
        body, headers = signed(WHATSAPP.text("14155550123", "hello from A"), APP_SECRET)
        async with http.post(f"{a.base}/webhooks/whatsapp", data=body, headers=headers) as r:
            assert r.status == 200
        seen = await until(ws, "message.received")
        assert "contact.created" in kinds(seen)
        assert not [k for k in kinds(seen) if k.startswith(("deal.", "pipeline.", "channel."))]
        await ws.close()
