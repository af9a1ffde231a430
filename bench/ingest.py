"""Webhook ingest benchmark: signed WhatsApp deliveries fired at a running server.

    .venv/bin/python bench/ingest.py --deliveries 5000 --concurrency 50

Starts ``funnelbox serve`` on a fresh PostgreSQL database, connects a WhatsApp channel,
then fires N signed webhook deliveries (a share of them redelivered duplicates,
shuffled) from C concurrent connections. Afterwards it checks that the database holds
exactly the expected messages, dialogs and deals, and prints deliveries/s and
p50/p99 latency of the webhook answers, and how long the intake took to turn every
stored delivery into messages, dialogs and deals (end to end). In the same run it
measures a bare aiohttp handler that only inserts one row into the same database:
the ceiling of this stack on this machine.
"""

import argparse
import asyncio
import os
import platform
import random
import shlex
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.whatsapp import WhatsAppWebhooks, signed  # noqa: E402

APP_SECRET = "bench-app-secret"
SECRET_KEY = "bench-secret-key-0123456789"


@dataclass
class Result:
    """Throughput and latency of one run."""

    name: str
    seconds: float
    latencies: list[float]
    errors: int

    def line(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        rate = len(lat) / self.seconds
        return (
            f"{self.name:<14} {len(lat):>7} req  {rate:>8.0f} req/s  "
            f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  errors {self.errors}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def fire(url: str, bodies: list[tuple[bytes, dict[str, str]]], concurrency: int) -> Result:
    """Send every body once, ``concurrency`` at a time; time each request."""
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        while not queue.empty():
            body, headers = queue.get_nowait()
            started = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
                    if errors == 1:
                        print(f"first error: {response.status} {await response.text()}")
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Result("", seconds, latencies, errors)


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(1200):  # a minute: a loaded 2-core machine imports slowly
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server at {url} did not start")


async def reset(database_url: str) -> None:
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def funnelbox(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "web.cli", *args], env=env, cwd=ROOT, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout


async def setup_channel(base: str, token: str, phone_number_id: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{base}/api/v1/pipelines", json={"name": "Inbox"}) as r:
            pipeline = await r.json()
        channel = {
            "kind": "whatsapp",
            "name": "Bench number",
            "credentials": {
                "access_token": "bench-access-token",
                "app_secret": APP_SECRET,
                "verify_token": "bench-verify-token",
                "phone_number_id": phone_number_id,
                "waba_id": "102290129340398",
            },
            "pipeline_id": pipeline["id"],
            "stage_id": pipeline["stages"][0]["id"],
            "api_base_url": "http://127.0.0.1:9/v21.0",
        }
        async with http.post(f"{base}/api/v1/channels", json=channel) as r:
            assert r.status == 201, await r.text()


def deliveries(n: int, contacts: int, duplicates: float, seed: int) -> tuple[list, int]:
    """N signed bodies: unique messages plus redeliveries of some of them, shuffled."""
    rng = random.Random(seed)
    hooks = WhatsAppWebhooks()
    unique = max(1, round(n * (1 - duplicates)))
    bodies = []
    for i in range(unique):
        wa_id = str(15550000000 + i % contacts)
        payload = hooks.text(wa_id, f"message {i}", name=f"Customer {i % contacts}")
        bodies.append(signed(payload, APP_SECRET))
    bodies += [rng.choice(bodies) for _ in range(n - unique)]
    rng.shuffle(bodies)
    return bodies, unique


async def wait_processed(database_url: str) -> None:
    """Webhooks answer once a delivery is stored; wait until the intake has processed all."""
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        query = "SELECT count(*) FROM inbound_delivery WHERE next_attempt_at IS NOT NULL"
        while await conn.fetchval(query):
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def verify(database_url: str, unique: int, contacts: int) -> str:
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
            for table in ("message", "dialog", "deal", "contact")
        }
    finally:
        await conn.close()
    expected = {"message": unique, "dialog": contacts, "deal": contacts, "contact": contacts}
    verdict = "OK" if counts == expected else "MISMATCH"
    return f"database: {counts} expected {expected} -> {verdict}"


async def bare_server(database_url: str, port: int, pool_size: int) -> None:
    """The ceiling: parse nothing, verify nothing, insert one row, answer 200."""
    pool = await asyncpg.create_pool(
        database_url.replace("postgres://", "postgresql://", 1), min_size=1, max_size=pool_size
    )
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_bare (id bigserial PRIMARY KEY, body text)"
    )

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()
        await pool.execute("INSERT INTO bench_bare (body) VALUES ($1)", body)
        return web.json_response({"ok": True})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhooks/whatsapp", handle)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def main(args: argparse.Namespace) -> None:
    await reset(args.database_url)
    env = {
        **os.environ,
        "FUNNELBOX_DATABASE_URL": args.database_url,
        "FUNNELBOX_SECRET_KEY": SECRET_KEY,
        "FUNNELBOX_DB_POOL_SIZE": str(args.pool),
        "FUNNELBOX_OUTBOX_WORKER": "false",
    }
    funnelbox(env, "migrate")
    owner = ["bench@example.com", "--role", "owner", "--password", "bench-password"]
    funnelbox(env, "createuser", *owner)
    token = funnelbox(env, "token", "bench@example.com", "--name", "bench").strip()
    bodies, unique = deliveries(args.deliveries, args.contacts, args.duplicates, args.seed)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port),
         "--workers", str(args.workers)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(f"{base}/healthz")
        await setup_channel(base, token, WhatsAppWebhooks().phone_number_id)
        started = time.perf_counter()
        funnelbox_result = await fire(f"{base}/webhooks/whatsapp", bodies, args.concurrency)
        funnelbox_result.name = "funnelbox"
        await wait_processed(args.database_url)
        processed_in = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    check = await verify(args.database_url, unique, min(args.contacts, unique))

    bare_port = free_port()
    bare = subprocess.Popen(
        [sys.executable, __file__, "--bare-server", str(bare_port), "--database-url",
         args.database_url, "--pool", str(args.pool)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_ready(f"http://127.0.0.1:{bare_port}/healthz")
        bare_result = await fire(
            f"http://127.0.0.1:{bare_port}/webhooks/whatsapp", bodies, args.concurrency
        )
        bare_result.name = "bare insert"
    finally:
        bare.terminate()
        bare.wait(timeout=10)

    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"deliveries {args.deliveries} ({unique} unique, {args.deliveries - unique} "
          f"redelivered), {args.contacts} customers, concurrency {args.concurrency}, "
          f"{args.workers} server worker(s)")  # fmt: skip
    print(funnelbox_result.line())
    print(bare_result.line())
    ratio = (len(funnelbox_result.latencies) / funnelbox_result.seconds) / (
        len(bare_result.latencies) / bare_result.seconds
    )
    print(f"funnelbox / bare throughput: {ratio:.0%}")
    print(
        f"processed: {unique} messages stored {processed_in:.2f} s after the first delivery "
        f"({unique / processed_in:.0f} messages/s end to end)"
    )
    print(check)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--contacts", type=int, default=500, help="distinct customers")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share redelivered")
    parser.add_argument("--pool", type=int, default=10, help="database pool size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="funnelbox serve processes")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/funnelbox_ingest"
    )
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.bare_server:
        asyncio.run(bare_server(arguments.database_url, arguments.bare_server, arguments.pool))
    else:
        asyncio.run(main(arguments))
