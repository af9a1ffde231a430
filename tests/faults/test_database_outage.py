"""PostgreSQL cut off mid-ingest, through a loopback proxy, under a real `funnelbox serve`:
deliveries answered 200 were stored; the ones refused are redelivered, as Meta does;
once the database is back everything is processed once, nothing parked, and in order:
the order in which the platform's deliveries were accepted (a refused message comes
after the ones accepted before its redelivery; ``tests.faults.storm``)."""

import asyncio
import os
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from bot.models import InboundDelivery
from inbox.models import Message
from tests.bot.conftest import APP_SECRET
from tests.conftest import SECRET_KEY, Backend
from tests.fakes.whatsapp import FakeGraph, signed
from tests.faults.proxy import Proxy
from tests.faults.storm import Delivery, Timeline
from tests.processes import Server

WA_ID = "16505550042"


async def _texts() -> list[str]:
    return [m.text for m in await Message.filter(direction="in").order_by("id")]


async def _wait_for(count: int, seconds: float = 60) -> None:
    async with asyncio.timeout(seconds):
        while await Message.filter(direction="in").count() < count:
            await asyncio.sleep(0.2)


async def test_a_database_outage_mid_ingest_loses_nothing(
    db: Backend, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    if db.name != "postgres":
        pytest.skip("the outage is of a database server: PostgreSQL behind a proxy")
    parts = urlsplit(db.url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    through = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}")
    env = {
        **os.environ, "FUNNELBOX_DATABASE_URL": urlunsplit(through), "FUNNELBOX_REDIS_URL": "",
        "FUNNELBOX_SECRET_KEY": SECRET_KEY.get_secret_value(), "FUNNELBOX_OUTBOX_WORKER": "false",
    }  # fmt: skip
    texts = [f"message {i}" for i in range(12)]
    deliveries = [
        Delivery("/webhooks/whatsapp", *signed(fake_graph.webhooks.text(WA_ID, text), APP_SECRET),
                 WA_ID, text)
        for text in texts
    ]  # fmt: skip
    timeline = Timeline()
    try:
        async with Server(env, dispatch=False) as server, aiohttp.ClientSession() as http:

            async def deliver(delivery: Delivery) -> int:
                url = f"{server.base}{delivery.path}"
                try:
                    async with http.post(url, data=delivery.body, headers=delivery.headers) as r:
                        return r.status
                except aiohttp.ClientError:
                    return 0

            async def post(index: int) -> int:
                return await timeline.send(deliver, deliveries[index])

            assert [await post(i) for i in range(4)] == [200] * 4
            await _wait_for(4)
            await proxy.cut()
            refused = [i for i in range(4, 8) if await post(i) != 200]
            assert refused == [4, 5, 6, 7], "nothing is answered 200 without the database"
            await asyncio.sleep(3)  # the workers meet the outage
            await proxy.restore()
            refused += [i for i in range(8, 12) if await post(i) != 200]
            async with asyncio.timeout(60):  # the platform redelivers what was refused
                while refused:
                    refused = [i for i in refused if await post(i) != 200]
                    await asyncio.sleep(0.5)
            await _wait_for(12)
    finally:
        await proxy.cut()
    stored = await _texts()
    assert sorted(stored) == sorted(texts), "each once (redeliveries arrive out of order)"
    assert stored[:4] == texts[:4]
    assert timeline.out_of_order(stored) == []
    assert not await InboundDelivery.filter(parked_at__isnull=False).exists()
