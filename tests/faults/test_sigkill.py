"""SIGKILL of a real `funnelbox serve` mid-ingest: the next process takes over what the
dead one held within one lease, and every accepted message is stored exactly once."""

import asyncio
import os
import time

import aiohttp

from core.queue import POLICIES
from inbox.models import Message
from tests.bot.conftest import APP_SECRET
from tests.conftest import SECRET_KEY, Backend
from tests.fakes.whatsapp import FakeGraph, signed
from tests.processes import Server

CHATS, EACH = 20, 10


async def test_a_killed_servers_deliveries_are_taken_up_within_a_lease(
    db: Backend, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    env = {
        **os.environ, "FUNNELBOX_DATABASE_URL": db.url, "FUNNELBOX_REDIS_URL": "",
        "FUNNELBOX_SECRET_KEY": SECRET_KEY.get_secret_value(), "FUNNELBOX_OUTBOX_WORKER": "false",
    }  # fmt: skip
    threads = [
        [signed(fake_graph.webhooks.text(f"1650555{chat:04d}", f"{chat}-{i}"), APP_SECRET)
         for i in range(EACH)]
        for chat in range(CHATS)
    ]  # fmt: skip
    bodies = [body for thread in threads for body in thread]
    async with Server(env, dispatch=False) as first, aiohttp.ClientSession() as http:

        async def post(thread: list[tuple[bytes, dict[str, str]]]) -> set[int]:
            """One customer writes in order; the customers write at once."""
            statuses = set()
            for body, headers in thread:
                url = f"{first.base}/webhooks/whatsapp"
                async with http.post(url, data=body, headers=headers) as response:
                    statuses.add(response.status)
            return statuses

        assert set().union(*await asyncio.gather(*(post(t) for t in threads))) == {200}
        first.process.kill()  # SIGKILL while its intake works through the burst
        await first.process.wait()
    stored_when_killed = await Message.filter(direction="in").count()
    async with Server(env, dispatch=False):
        started = time.monotonic()
        async with asyncio.timeout(POLICIES["intake"].lease.total_seconds() + 30):
            while await Message.filter(direction="in").count() < len(bodies):
                await asyncio.sleep(0.2)
        taken_up = time.monotonic() - started
    texts = [m.text for m in await Message.filter(direction="in").order_by("id")]
    assert len(texts) == len(set(texts)) == len(bodies), "each exactly once"
    for chat in range(CHATS):  # each conversation in order across the crash
        assert [t for t in texts if t.split("-")[0] == str(chat)] == [
            f"{chat}-{i}" for i in range(EACH)
        ]
    print(f"killed with {stored_when_killed} of {len(bodies)} stored; rest in {taken_up:.1f} s")
