"""Kill -9 between a commit and its dispatch: everything still happens, exactly once.

Real processes (`funnelbox serve`), real HTTP, a real SQLite file. Server A takes a
WhatsApp message (a new deal), then a stage move, with its event dispatcher switched off,
and is killed with SIGKILL; server B dispatches the pending events: one task, one
auto-message, one automation run, and the Conversions API events (Lead, ViewContent);
server C, started after B is killed too, finds nothing left to do.
"""

import asyncio
import os
import signal
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.whatsapp import WhatsAppWebhooks, signed
from tests.processes import Server, funnelbox

APP_SECRET = "crash-app-secret"
WHATSAPP = WhatsAppWebhooks(
    waba_id="102290129340398", phone_number_id="106540352242922",
    display_phone_number="15550783881",
)  # fmt: skip
#: What server B must produce, as (what, query, count).
EXPECTED = [
    ("task", "SELECT count(*) FROM task", 1),
    ("auto-message", "SELECT count(*) FROM message WHERE author = 'bot'", 1),
    ("automation run", "SELECT count(*) FROM automation_run WHERE outcome = 'applied'", 1),
    ("Conversions API events", "SELECT count(*) FROM conversion", 2),
]


def count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FUNNELBOX_DATABASE_URL": f"sqlite://{tmp_path / 'crash.sqlite3'}",
        "FUNNELBOX_SECRET_KEY": "crash-test-secret-key-123",
        "FUNNELBOX_REDIS_URL": "",
        "FUNNELBOX_OUTBOX_WORKER": "false",
    }


async def test_sigkill_between_commit_and_dispatch(env: dict[str, str], tmp_path: Path) -> None:
    database = tmp_path / "crash.sqlite3"
    await funnelbox(env, "migrate")
    await funnelbox(
        env, "createuser", "admin@example.com", "--role", "admin", "--password", "x" * 10
    )
    made = await funnelbox(env, "token", "admin@example.com", "--name", "crash test")
    token = made.strip().splitlines()[-1]  # the token; its description went to stderr
    headers = {"Authorization": f"Bearer {token}"}

    async with Server(env, dispatch=False) as a, aiohttp.ClientSession(headers=headers) as http:

        async def post(path: str, body: dict) -> dict:
            async with http.post(f"{a.base}{path}", json=body) as response:
                assert response.status in (200, 201), await response.text()
                return await response.json()

        pipeline = await post("/api/v1/pipelines", {"name": "Sales"})
        talks = await post(
            f"/api/v1/pipelines/{pipeline['id']}/stages", {"name": "Talks", "probability": 40}
        )
        await post(
            f"/api/v1/stages/{talks['id']}/triggers",
            {"kind": "auto_task", "config": {"title": "Call back", "due_in_minutes": 60}},
        )
        await post(
            f"/api/v1/stages/{talks['id']}/triggers",
            {"kind": "auto_message", "config": {"template": "Hi {{ contact.name }}!"}},
        )
        await post(
            "/api/v1/automations",
            {"name": "Tag talks", "event": "deal.stage_changed", "stage_id": talks["id"],
             "action": {"kind": "update_deal", "add_tags": ["Talking"]}},
        )  # fmt: skip
        await http.put(
            f"{a.base}/api/v1/conversions/settings",
            json={"pixel_id": "1234567890", "is_enabled": True,
                  "access_token": "unused-in-this-test", "api_base_url": "http://127.0.0.1:9"},
        )  # fmt: skip
        await post("/api/v1/channels", WHATSAPP.channel(pipeline, APP_SECRET))
        body, signature = signed(WHATSAPP.text("14155550123", "hello"), APP_SECRET)
        async with http.post(f"{a.base}/webhooks/whatsapp", data=body, headers=signature) as r:
            assert r.status == 200
        async with asyncio.timeout(20):  # server A's intake turns the message into a deal
            while count(database, "SELECT count(*) FROM deal") == 0:
                await asyncio.sleep(0.05)
        deal_id = count(database, "SELECT id FROM deal")
        await post(f"/api/v1/deals/{deal_id}/move", {"stage_id": talks["id"]})
        a.process.send_signal(signal.SIGKILL)  # right after the commit, before any dispatch

    pending = "SELECT count(*) FROM event WHERE next_attempt_at IS NOT NULL"
    assert count(database, pending) >= 3  # deal created, contact added, stage changed
    for what, query, _ in EXPECTED:
        assert count(database, query) == 0, what

    async with Server(env, dispatch=True):
        async with asyncio.timeout(30):
            # effects commit before their event is marked done: wait for both
            while count(database, pending) > 0 or any(
                count(database, query) < expected for _, query, expected in EXPECTED
            ):
                await asyncio.sleep(0.1)

    async with Server(env, dispatch=True) as third:
        await third.settled()  # every worker went round once: anything left would be done
    assert count(database, pending) == 0
    for what, query, expected in EXPECTED:
        assert count(database, query) == expected, what
