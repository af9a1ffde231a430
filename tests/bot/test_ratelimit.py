"""Token buckets: a burst goes through, then sends wait their turn; Redis shares them."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.ratelimit import MemoryBuckets, RedisBuckets, TokenBucket
from tests.conftest import REDIS_URL

KINDS = ["memory"] + (["redis"] if REDIS_URL else [])


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture(params=KINDS)
async def buckets(request: pytest.FixtureRequest) -> AsyncIterator[TokenBucket]:
    if request.param == "memory":
        yield MemoryBuckets()
        return
    client = Redis.from_url(REDIS_URL)
    yield RedisBuckets(client, prefix=f"test:{uuid.uuid4().hex}:")
    await client.aclose()


async def test_a_burst_passes_then_sends_wait(buckets: TokenBucket) -> None:
    assert [await buckets.acquire("chat", 1.0, 2) for _ in range(2)] == [0, 0]
    wait = await buckets.acquire("chat", 1.0, 2)
    assert 0.9 < wait <= 1.0
    assert await buckets.acquire("other chat", 1.0, 2) == 0


async def test_tokens_come_back_at_the_rate(buckets: TokenBucket) -> None:
    assert await buckets.acquire("fast", 20.0, 1) == 0
    wait = await buckets.acquire("fast", 20.0, 1)
    assert 0 < wait <= 0.05
    await asyncio.sleep(wait + 0.01)
    assert await buckets.acquire("fast", 20.0, 1) == 0


async def test_a_refused_acquire_takes_no_token() -> None:
    now = [0.0]
    buckets = MemoryBuckets(clock=lambda: now[0])
    assert await buckets.acquire("chat", 0.5, 1) == 0
    assert await buckets.acquire("chat", 0.5, 1) == 2.0
    now[0] = 1.0
    assert await buckets.acquire("chat", 0.5, 1) == 1.0
    now[0] = 2.0
    assert await buckets.acquire("chat", 0.5, 1) == 0


async def test_memory_forgets_full_buckets_when_there_are_many() -> None:
    now = [0.0]
    buckets = MemoryBuckets(clock=lambda: now[0])
    buckets.KEEP = 3
    for chat in range(3):
        await buckets.acquire(f"chat {chat}", 1.0, 1)
    now[0] = 5.0
    await buckets.acquire("busy", 1.0, 1)
    assert list(buckets._buckets) == ["busy"]


@pytest.mark.skipif(not REDIS_URL, reason="needs Redis (CI=true)")
async def test_workers_share_redis_buckets(redis: Redis) -> None:
    """Two processes' worth of buckets on one Redis hand out the burst exactly once."""
    prefix = f"test:{uuid.uuid4().hex}:"
    first, second = RedisBuckets(redis, prefix=prefix), RedisBuckets(redis, prefix=prefix)
    waits = await asyncio.gather(
        *(b.acquire("number", 0.01, 5) for _ in range(10) for b in (first, second))
    )
    assert waits.count(0) == 5
    assert all(w > 0 for w in waits if w)
    ttl = await redis.pttl(f"{prefix}number")
    assert 0 < ttl <= 501_000
