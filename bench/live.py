"""Live socket latency: from a WhatsApp webhook delivery to its event on every open socket.

    .venv/bin/python bench/live.py --clients 100 --deliveries 50 --servers 2 \\
        --redis-url redis://127.0.0.1:6379/0

Starts ``--servers`` ``funnelbox serve`` processes on a fresh PostgreSQL database sharing
Redis, connects a WhatsApp channel, opens ``--clients`` WebSockets spread over the
servers, then posts signed deliveries to the first server one at a time (each a new
customer's first message, so a new contact, dialog and deal) and times, for every
socket, from the POST to the ``message.received`` event arriving. Sockets on the other
servers hear it through Redis. Prints p50/p99 over every (delivery, socket) pair.
"""

import argparse
import asyncio
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import (  # noqa: E402
    APP_SECRET,
    SECRET_KEY,
    free_port,
    funnelbox,
    reset,
    setup_channel,
)
from tests.fakes.whatsapp import WhatsAppWebhooks, signed  # noqa: E402

WHATSAPP = WhatsAppWebhooks(
    waba_id="102290129340398", phone_number_id="106540352242922",
    display_phone_number="15550783881",
)  # fmt: skip


class Socket:
    """One client: the time each ``message.received`` reached it, by message id."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.changed = asyncio.Event()

    async def run(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            event = frame.json()
            if event["kind"] == "message.received":
                self.arrivals.append(time.perf_counter())
                self.changed.set()

    async def wait_for(self, count: int) -> float:
        async with asyncio.timeout(30):
            while len(self.arrivals) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.arrivals[count - 1]


async def main(args: argparse.Namespace) -> None:
    await reset(args.database_url)
    env = {
        **os.environ,
        "FUNNELBOX_DATABASE_URL": args.database_url,
        "FUNNELBOX_SECRET_KEY": SECRET_KEY,
        "FUNNELBOX_REDIS_URL": args.redis_url,
        "FUNNELBOX_OUTBOX_WORKER": "false",
    }
    funnelbox(env, "migrate")
    funnelbox(env, "createuser", "bench@example.com", "--role", "owner", "--password", "x" * 10)
    token = funnelbox(env, "token", "bench@example.com", "--name", "bench").strip()
    ports = [free_port() for _ in range(args.servers)]
    servers = [serve(env, port) for port in ports]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base in bases:
            await ready(f"{base}/healthz")
        await setup_channel(bases[0], token, WHATSAPP.phone_number_id)
        latencies = await run(bases, token, args)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    )
    print(
        f"webhook -> message.received on {args.clients} sockets over {args.servers} server(s), "
        f"{args.deliveries} deliveries: p50 {statistics.median(ordered):.1f} ms  "
        f"p99 {p99:.1f} ms  max {ordered[-1]:.1f} ms"
    )


async def ready(url: str, seconds: float = 60) -> None:
    """Up and healthy; two servers starting on a busy two-core machine can take a while."""
    async with asyncio.timeout(seconds), aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def run(bases: list[str], token: str, args: argparse.Namespace) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    # each socket holds a connection: no pool limit, or the webhook POSTs would queue
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
        sockets, readers = [], []
        for i in range(args.clients):
            ws = await http.ws_connect(f"{bases[i % len(bases)]}/ws")
            sockets.append(Socket())
            readers.append(asyncio.create_task(sockets[-1].run(ws)))
        latencies = []
        for n in range(1, args.deliveries + 1):
            body, signature = signed(WHATSAPP.text(f"1415555{n:04d}", f"hello {n}"), APP_SECRET)
            started = time.perf_counter()
            async with http.post(f"{bases[0]}/webhooks/whatsapp", data=body, headers=signature):
                pass
            for socket in sockets:
                latencies.append((await socket.wait_for(n) - started) * 1000)
        for reader in readers:
            reader.cancel()
    return latencies


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--deliveries", type=int, default=50)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/funnelbox_live"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
