"""The full duplicate storm: Telegram and WhatsApp deliveries against a real server.

    .venv/bin/python bench/storm.py --deliveries 10000 --customers 250 --concurrency 50

Starts ``funnelbox serve`` (intake, event dispatcher and outbox on) on a fresh
PostgreSQL database, with a fake Telegram Bot API and a fake Graph API in this process,
connects one channel of each, and puts an auto-message trigger on the pipeline's first
stage, so every new deal is greeted once. Then it fires N unique text messages (half
Telegram, half WhatsApp, from ``--customers`` customers of each) plus a ``--duplicates``
share of them again byte for byte, shuffled, ``--concurrency`` at a time, and waits
until everything is processed and every greeting sent. It checks exactly N messages,
one dialog and one deal per customer, exactly one auto-message per deal (stored, sent,
and received by the fake platform once), and each conversation in order (what order
means for concurrent deliveries: ``tests/faults/storm.py``, shared with the suite's
bounded storm). Prints the command, the machine, the load average and the times.
"""

import argparse
import asyncio
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import free_port, funnelbox, reset, wait_ready  # noqa: E402
from core.crypto import Vault  # noqa: E402
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram  # noqa: E402
from tests.fakes.whatsapp import FakeGraph  # noqa: E402
from tests.faults.storm import Delivery, Timeline, mixed, storm  # noqa: E402

SECRET_KEY = "bench-secret-key-0123456789"
APP_SECRET = "bench-app-secret"
GREETING = "Welcome, {{ contact.name }}!"
#: Unfinished work of each queue; the storm is over when all are zero.
PENDING = [
    "SELECT count(*) FROM inbound_delivery WHERE next_attempt_at IS NOT NULL",
    "SELECT count(*) FROM event WHERE next_attempt_at IS NOT NULL",
    "SELECT count(*) FROM outbox WHERE next_attempt_at IS NOT NULL",
]


def load() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


async def call(http: aiohttp.ClientSession, method: str, url: str, body: dict) -> dict:
    async with http.request(method, url, json=body) as response:
        assert response.status < 300, await response.text()
        return await response.json()


async def connect(
    http: aiohttp.ClientSession, base: str, telegram: FakeTelegram, graph: FakeGraph
) -> list[dict]:
    """A pipeline whose first stage greets every new deal, a Telegram and a WhatsApp
    channel into it; the channels as the API answered."""
    pipeline = await call(http, "POST", f"{base}/api/v1/pipelines", {"name": "Storm"})
    first = pipeline["stages"][0]["id"]
    await call(http, "POST", f"{base}/api/v1/stages/{first}/triggers", {
        "kind": "auto_message", "config": {"template": GREETING, "only_in_stage": False},
    })  # fmt: skip
    into = {"pipeline_id": pipeline["id"], "stage_id": first}
    bot = await call(http, "POST", f"{base}/api/v1/channels", {
        "kind": "telegram", "name": "Storm bot", "credentials": {"token": DEFAULT_TOKEN},
        "api_base_url": telegram.url, **into,
    })  # fmt: skip
    number = await call(http, "POST", f"{base}/api/v1/channels", {
        "kind": "whatsapp", "name": "Storm number", "api_base_url": f"{graph.url}/v21.0",
        "credentials": {"access_token": graph.access_token, "app_secret": APP_SECRET,
                        "verify_token": "storm-verify", "phone_number_id": graph.phone_number_id,
                        "waba_id": graph.waba_id},
        **into,
    })  # fmt: skip
    return [bot, number]


async def settle(conn: asyncpg.Connection, seconds: float) -> float:
    """Wait until no queue has unfinished work (checked twice in a row, since one
    queue's work makes another's); the monotonic time it was seen."""
    async with asyncio.timeout(seconds):
        quiet = 0
        while quiet < 2:
            busy = [await conn.fetchval(query) for query in PENDING]
            quiet = quiet + 1 if not any(busy) else 0
            await asyncio.sleep(0.2)
    return time.monotonic()


async def verify(
    conn: asyncpg.Connection, timeline: Timeline, unique: int, customers: int,
    telegram: FakeTelegram, graph: FakeGraph,
) -> list[str]:  # fmt: skip
    """What the database and the fake platforms hold, each line ending OK or WRONG."""
    count = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("dialog", "deal")}  # noqa: S608
    stored = [
        row["text"]
        for row in await conn.fetch("SELECT text FROM message WHERE direction = 'in' ORDER BY id")
    ]
    greetings = await conn.fetch(
        "SELECT dialog_id, count(*) AS n, bool_and(status = 'sent') AS sent FROM message "
        "WHERE author = 'bot' GROUP BY dialog_id"
    )
    at_telegram = [c.params["chat_id"] for c in telegram.calls_to("sendMessage")]
    at_whatsapp = [c.body["to"] for c in graph.calls_to("messages") if c.body.get("type") == "text"]
    wrong = timeline.out_of_order(stored)
    checks = [
        (f"messages {len(stored)} (expected {unique})", len(stored) == unique),
        (f"each stored once: {len(set(stored))} distinct", len(set(stored)) == len(stored)),
        (f"dialogs {count['dialog']}, deals {count['deal']} (expected {2 * customers} each)",
         count["dialog"] == count["deal"] == 2 * customers),
        (f"auto-messages: {sum(r['n'] for r in greetings)} in {len(greetings)} dialogs, "
         f"{sum(r['n'] > 1 for r in greetings)} dialogs with more than one, all sent: "
         f"{all(r['sent'] for r in greetings)}",
         len(greetings) == 2 * customers and all(r["n"] == 1 and r["sent"] for r in greetings)),
        (f"at the platforms: Telegram {len(at_telegram)} to {len(set(at_telegram))} chats, "
         f"WhatsApp {len(at_whatsapp)} to {len(set(at_whatsapp))}",
         len(at_telegram) == len(set(at_telegram)) == customers
         and len(at_whatsapp) == len(set(at_whatsapp)) == customers),
        (f"order per conversation: {len(wrong)} pairs out of order", not wrong),
    ]  # fmt: skip
    return [f"{text} -> {'OK' if ok else 'WRONG'}" for text, ok in checks]


async def main(args: argparse.Namespace) -> None:
    each, rest = divmod(args.deliveries, 2 * args.customers)
    assert each and not rest, "--deliveries must be a multiple of twice --customers"
    await reset(args.database_url)
    env = {
        **os.environ, "FUNNELBOX_DATABASE_URL": args.database_url,
        "FUNNELBOX_SECRET_KEY": SECRET_KEY, "FUNNELBOX_REDIS_URL": args.redis_url,
    }  # fmt: skip
    funnelbox(env, "migrate")
    funnelbox(env, "createuser", "bench@example.com", "--role", "owner", "--password", "x" * 10)
    token = funnelbox(env, "token", "bench@example.com", "--name", "bench").strip()
    load_before = load()
    async with FakeTelegram() as telegram, FakeGraph() as graph:
        port = free_port()
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "web.cli", "serve", "--port", str(port), env=env, cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        conn = await asyncpg.connect(args.database_url.replace("postgres://", "postgresql://", 1))
        try:
            await wait_ready(f"{base}/healthz")
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                bot, _ = await connect(http, base, telegram, graph)
            sealed = await conn.fetchval("SELECT credentials FROM channel WHERE id = $1", bot["id"])
            secret = Vault(SECRET_KEY).open(sealed)["webhook_secret"]
            deliveries = mixed(
                telegram, bot["webhook_path"], secret, graph.webhooks, APP_SECRET,
                customers=args.customers, each=each,
            )  # fmt: skip
            fired = storm(deliveries, duplicates=args.duplicates, seed=args.seed)
            timeline = Timeline()
            connector = aiohttp.TCPConnector(limit=args.concurrency)
            async with aiohttp.ClientSession(connector=connector) as http:

                async def post(delivery: Delivery) -> int:
                    url = f"{base}{delivery.path}"
                    async with http.post(url, data=delivery.body, headers=delivery.headers) as r:
                        await r.read()
                        return r.status

                started = time.monotonic()
                statuses = await timeline.fire(post, fired, args.concurrency)
                answered = time.monotonic()
            done = await settle(conn, args.timeout)
            checks = await verify(conn, timeline, len(deliveries), args.customers, telegram, graph)
        finally:
            await conn.close()
            server.kill()
            await server.wait()
    refused = sum(status != 200 for status in statuses)
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; load average {load_before} before, "
          f"{load()} after")  # fmt: skip
    print(f"storm: {len(fired)} deliveries ({len(deliveries)} unique, "
          f"{len(fired) - len(deliveries)} byte-identical duplicates), shuffled, "
          f"{args.concurrency} concurrent; {refused} not answered 200")  # fmt: skip
    print(f"time: all answered in {answered - started:.1f} s "
          f"({len(fired) / (answered - started):.0f} deliveries/s); everything processed and "
          f"every auto-message sent {done - started:.1f} s after the first delivery")  # fmt: skip
    print("\n".join(checks))
    if refused or any(line.endswith("WRONG") for line in checks):
        sys.exit(1)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=10000, help="unique messages")
    parser.add_argument("--customers", type=int, default=250, help="per platform")
    parser.add_argument("--duplicates", type=float, default=0.3, help="share sent twice")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for it all")
    parser.add_argument("--redis-url", default="", help="shared buckets, as in production")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/storm_bench")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
