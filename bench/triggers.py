"""Stage trigger latency: from a stage move to the auto-message at the Telegram API.

    .venv/bin/python bench/triggers.py --moves 1000 --chats 200 --delayed 20

Starts ``funnelbox serve`` (event dispatcher and outbox worker on) against a fresh
PostgreSQL database and a fake Telegram Bot API in this process, connects a Telegram
channel, opens one dialog (and deal) per chat through the webhook, puts an
auto-message trigger on a stage, then moves deals into that stage one at a time and
times each move's message arriving at the fake API. Chats are taken in turn so
Telegram's one-message-a-second-per-chat pacing does not dominate. With
``--delayed N`` it also queues N messages due one minute after their move and reports
how late they arrive. Prints p50/p99 and the command.
"""

import argparse
import asyncio
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import free_port, funnelbox, reset, wait_ready  # noqa: E402
from core.crypto import Vault  # noqa: E402
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, TelegramUser  # noqa: E402

SECRET_KEY = "bench-secret-key-0123456789"


class Arrivals:
    """Times at which each message text reached the fake Bot API."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = asyncio.Event()

    @web.middleware
    async def record(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        if request.path.endswith("/sendMessage"):
            form = await request.post() if request.content_type != "application/json" else {}
            body = form or json.loads(await request.text() or "{}")
            self.at[str(body.get("text"))] = time.perf_counter()
            self.changed.set()
        return await handler(request)

    async def wait_for(self, text: str, seconds: float) -> float:
        async with asyncio.timeout(seconds):
            while text not in self.at:
                self.changed.clear()
                await self.changed.wait()
        return self.at[text]


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p99 {p99:7.1f} ms  max {ordered[-1]:7.1f} ms"


async def main(args: argparse.Namespace) -> None:
    await reset(args.database_url)
    env = {
        **os.environ,
        "FUNNELBOX_DATABASE_URL": args.database_url,
        "FUNNELBOX_SECRET_KEY": SECRET_KEY,
        "FUNNELBOX_REDIS_URL": args.redis_url or "",
    }
    funnelbox(env, "migrate")
    funnelbox(env, "createuser", "bench@example.com", "--role", "owner", "--password", "x" * 10)
    token = funnelbox(env, "token", "bench@example.com", "--name", "bench").strip()

    arrivals = Arrivals()
    fake = FakeTelegram()
    fake.app.middlewares.append(arrivals.record)
    await fake.start()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(f"{base}/healthz")
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            result = await run(http, base, fake, arrivals, args)
    finally:
        server.terminate()
        server.wait(timeout=10)
        await fake.close()
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    )
    print(result)


async def call(http: aiohttp.ClientSession, method: str, url: str, body: dict | None = None):
    async with http.request(method, url, json=body) as response:
        assert response.status < 300, await response.text()
        return await response.json()


async def run(http, base: str, fake: FakeTelegram, arrivals: Arrivals, args) -> str:
    pipeline = await call(http, "POST", f"{base}/api/v1/pipelines", {"name": "Bench"})
    stages = f"{base}/api/v1/pipelines/{pipeline['id']}/stages"
    first = pipeline["stages"][0]["id"]
    target = (await call(http, "POST", stages, {"name": "Booked", "probability": 60}))["id"]
    await call(http, "POST", f"{base}/api/v1/stages/{target}/triggers", {
        "kind": "auto_message",
        "config": {"template": "{{ deal.reference }}", "only_in_stage": False},
    })  # fmt: skip
    channel = await call(http, "POST", f"{base}/api/v1/channels", {
        "kind": "telegram", "name": "Bench bot", "credentials": {"token": DEFAULT_TOKEN},
        "pipeline_id": pipeline["id"], "stage_id": first, "api_base_url": fake.url,
    })  # fmt: skip
    conn = await asyncpg.connect(args.database_url.replace("postgres://", "postgresql://", 1))
    sealed = await conn.fetchval("SELECT credentials FROM channel WHERE id = $1", channel["id"])
    secret = Vault(SECRET_KEY).open(sealed)["webhook_secret"]
    hook = {"X-Telegram-Bot-Api-Secret-Token": secret}
    for chat in range(args.chats):
        update = fake.text_update(TelegramUser(id=900_000 + chat, first_name=f"C{chat}"), "hi")
        async with http.post(f"{base}{channel['webhook_path']}", json=update, headers=hook) as r:
            assert r.status == 200
    async with asyncio.timeout(60):
        while await conn.fetchval("SELECT count(*) FROM deal") < args.chats:
            await asyncio.sleep(0.1)
    deals = [r["id"] for r in await conn.fetch("SELECT id FROM deal ORDER BY id")]
    await conn.close()

    latencies = []
    for i in range(args.moves):
        deal = deals[i % len(deals)]
        marker = f"move-{i}"
        await call(http, "PATCH", f"{base}/api/v1/deals/{deal}", {"reference": marker})
        await call(http, "POST", f"{base}/api/v1/deals/{deal}/move", {"stage_id": first})
        started = time.perf_counter()
        await call(http, "POST", f"{base}/api/v1/deals/{deal}/move", {"stage_id": target})
        latencies.append((await arrivals.wait_for(marker, 30) - started) * 1000)
    lines = [f"stage move -> auto-message at the Bot API, {args.moves} moves over "
             f"{args.chats} chats: {percentiles(latencies)}"]  # fmt: skip
    if args.delayed:
        lines.append(await delayed(http, base, deals, first, target, arrivals, args.delayed))
    return "\n".join(lines)


async def delayed(http, base, deals, first, target, arrivals: Arrivals, count: int) -> str:
    """Messages due one minute after their move: how late past the due time they arrive."""
    triggers = await call(http, "GET", f"{base}/api/v1/stages/{target}/triggers")
    await call(http, "PATCH", f"{base}/api/v1/triggers/{triggers[0]['id']}", {
        "config": {"template": "{{ deal.reference }}", "only_in_stage": False,
                   "delay_minutes": 1},
    })  # fmt: skip
    due: dict[str, float] = {}
    for i in range(count):
        deal, marker = deals[i % len(deals)], f"late-{i}"
        await call(http, "PATCH", f"{base}/api/v1/deals/{deal}", {"reference": marker})
        await call(http, "POST", f"{base}/api/v1/deals/{deal}/move", {"stage_id": first})
        await call(http, "POST", f"{base}/api/v1/deals/{deal}/move", {"stage_id": target})
        due[marker] = time.perf_counter() + 60
    lateness = [(await arrivals.wait_for(m, 120) - at) * 1000 for m, at in due.items()]
    return f"delayed by 1 minute, {count} messages, lateness past due: {percentiles(lateness)}"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--delayed", type=int, default=20)
    parser.add_argument("--redis-url", default="", help="shared buckets, as in production")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/funnelbox_triggers"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
