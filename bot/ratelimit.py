"""Token buckets that pace sends to what the messengers allow.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a send
takes one. ``acquire`` never blocks: it takes a token and returns 0, or takes nothing and
returns how many seconds until one is there, so the caller chooses between sleeping and
putting the send off. Several worker processes share buckets through Redis (one Lua
script, so reading and taking a token is atomic); a single process may keep them in memory.
"""

import logging
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis

from core.queue import infrastructure

log = logging.getLogger(__name__)


class TokenBucket(Protocol):
    """Buckets by key, each with its own rate (tokens per second) and burst size."""

    async def acquire(self, key: str, rate: float, burst: int) -> float:
        """Take a token from ``key``'s bucket: 0 when taken, else seconds to wait."""
        ...


class MemoryBuckets:
    """Buckets of this process only.

    Full buckets are forgotten once there are many, so per-chat keys do not pile up.
    """

    #: How many buckets may exist before full ones are dropped.
    KEEP = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # key -> (tokens, when they were counted, seconds from then until full)
        self._buckets: dict[str, tuple[float, float, float]] = {}

    async def acquire(self, key: str, rate: float, burst: int) -> float:
        now = self._clock()
        tokens, counted, _ = self._buckets.get(key, (float(burst), now, 0.0))
        tokens = min(float(burst), tokens + (now - counted) * rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
        if not wait:
            tokens -= 1
        self._buckets[key] = (tokens, now, (burst - tokens) / rate)
        if len(self._buckets) > self.KEEP:
            self._forget_full(now)
        return wait

    def _forget_full(self, now: float) -> None:
        full = [k for k, (_, counted, refill) in self._buckets.items() if counted + refill <= now]
        for key in full:
            del self._buckets[key]


#: KEYS[1] the bucket; ARGV rate, burst. Redis's clock serves every worker, and the
#: bucket expires once it would be full again, so idle keys vanish by themselves.
#: The wait is returned as a string: Redis truncates Lua numbers to integers.
_ACQUIRE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(saved[1]) or burst
local at = tonumber(saved[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisBuckets:
    """Buckets shared by every process using the same Redis (keys under ``prefix``).

    While Redis cannot be reached, this process paces its own sends in memory instead
    of holding them (each process then keeps to the limits alone, not all together),
    and asks Redis again after :attr:`RECHECK` seconds rather than on every send.
    """

    RECHECK = 5.0

    def __init__(self, redis: Redis, *, prefix: str = "funnelbox:bucket:") -> None:
        self._script = redis.register_script(_ACQUIRE)
        self._prefix = prefix
        self._fallback = MemoryBuckets()
        self._away_until = 0.0

    async def acquire(self, key: str, rate: float, burst: int) -> float:
        if time.monotonic() < self._away_until:
            return await self._fallback.acquire(key, rate, burst)
        try:
            wait = await self._script(keys=[self._prefix + key], args=[rate, burst])
        except Exception as exc:
            if not infrastructure(exc):
                raise
            log.warning("rate limits: Redis unreachable, pacing in this process: %s", exc)
            self._away_until = time.monotonic() + self.RECHECK
            return await self._fallback.acquire(key, rate, burst)
        return float(wait)
