"""The live bus through a real Redis: processes on one database hear each other, those
on another database of the same server (another install) do not."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from core.bus import Message, RedisBus
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs Redis (CI=true)")


def on_database(number: int) -> str:
    return f"{REDIS_URL.rpartition('/')[0]}/{number}"


@pytest.fixture
async def buses() -> AsyncIterator[list[RedisBus]]:
    """Two processes of one install and one of another, on the same Redis server."""
    ours = int(REDIS_URL.rpartition("/")[2])
    clients = [Redis.from_url(url) for url in (REDIS_URL, REDIS_URL, on_database(ours - 8))]
    opened = [RedisBus(client) for client in clients]
    for bus in opened:
        await bus.open()
    yield opened
    for bus, client in zip(opened, clients, strict=True):
        await bus.close()
        await client.aclose()


async def test_a_message_reaches_its_installs_processes_only(buses: list[RedisBus]) -> None:
    here, there, elsewhere = buses
    heard: dict[str, list[Message | None]] = {"there": [], "elsewhere": []}
    there.listen(heard["there"].append)
    elsewhere.listen(heard["elsewhere"].append)
    here.publish({"id": 1, "kind": "message.created"})
    here.publish({"id": 2, "kind": "marker"})
    elsewhere.publish({"id": 3, "kind": "marker"})  # published after ours, heard by itself
    async with asyncio.timeout(5):
        while not heard["there"] or heard["there"][-1] != {"id": 2, "kind": "marker"}:
            await asyncio.sleep(0.01)
        while {"id": 3, "kind": "marker"} not in heard["elsewhere"]:
            await asyncio.sleep(0.01)
    assert [m["id"] for m in heard["there"] if m] == [1, 2]
    assert [m["id"] for m in heard["elsewhere"] if m] == [3]
