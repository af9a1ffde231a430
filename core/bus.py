"""The live bus: committed events, as small messages, fanned out to whoever listens now.

It is a notification channel, not a queue: the ``event`` table stays the truth, and a
listener that may have missed messages is told so (it receives :data:`GAP`) and
catches up from the table. So publishing never waits on the network and never fails
the caller's commit: a Redis outage is logged, and catch-up repairs what it dropped.

:class:`MemoryBus` serves one process. :class:`RedisBus` also carries messages
through Redis pub/sub to every other process (each ``funnelbox serve`` and
``funnelbox worker``); its own messages reach its listeners directly, without the
round trip, so a process's sockets keep working while Redis is down.
"""

import asyncio
import contextlib
import json
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger(__name__)

Message = dict[str, Any]
#: What a listener receives when messages may have been lost (e.g. Redis reconnected).
GAP: None = None
Listener = Callable[[Message | None], None]
CHANNEL = "funnelbox:live"
#: Messages waiting for Redis; beyond this the newest are dropped (catch-up repairs it).
BACKLOG = 10_000
RETRY_SECONDS = 1.0
CLOSE_SECONDS = 2.0


class Bus(ABC):
    """Publish a message; listen for every message published here or (with Redis) elsewhere.

    Listeners are plain callables run on the event loop: they must only queue work.
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Register ``listener``; returns the call that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @abstractmethod
    def publish(self, message: Message) -> None:
        """Hand ``message`` to every listener soon; returns at once and never raises."""

    @abstractmethod
    async def open(self) -> None:
        """Start background work; messages from other processes arrive once it returns."""

    @abstractmethod
    async def close(self) -> None:
        """Stop background work."""

    def _fan_out(self, message: Message | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:
                log.exception("live listener failed")

    def _deliver_soon(self, message: Message | None) -> None:
        """Listeners run on the next loop turn, outside the publisher's commit path."""
        asyncio.get_running_loop().call_soon(self._fan_out, message)


class MemoryBus(Bus):
    """Listeners in this process only."""

    def publish(self, message: Message) -> None:
        self._deliver_soon(message)

    async def open(self) -> None:
        """Nothing runs in the background."""

    async def close(self) -> None:
        """Nothing runs in the background."""


class RedisBus(Bus):
    """Listeners here and, through one Redis pub/sub channel, in every other process."""

    def __init__(self, redis: Redis) -> None:
        super().__init__()
        # Pub/sub is one namespace for a whole Redis server, whatever database a client
        # selected: the channel names the database, so installs sharing a server (each
        # with a database of its own) never see each other's events.
        database = redis.connection_pool.connection_kwargs.get("db", 0)
        self.redis, self.channel = redis, f"{CHANNEL}:{database}"
        self.origin = uuid.uuid4().hex
        self._outgoing: asyncio.Queue[Message | None] = asyncio.Queue(BACKLOG)
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        #: Set once the reader's first subscription attempt is over.
        self._tried = asyncio.Event()

    def publish(self, message: Message) -> None:
        self._deliver_soon(message)
        try:
            self._outgoing.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("live bus backlog full; event %s travels by catch-up", message.get("id"))

    async def open(self) -> None:
        """Start the writer and the reader; returns once the reader is subscribed (or failed
        once), so a message published by another process right after is not missed."""
        self._tasks = [asyncio.create_task(self._write()), asyncio.create_task(self._read())]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), 5)

    async def close(self) -> None:
        """Flush what is queued (briefly), then stop. The writer is asked to stop rather
        than cancelled: redis-py may swallow a cancellation that lands mid-command."""
        self._closing = True
        writer = self._tasks[0]
        with contextlib.suppress(asyncio.QueueFull):
            self._outgoing.put_nowait(None)
        await asyncio.wait([writer], timeout=CLOSE_SECONDS)
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks, timeout=CLOSE_SECONDS)

    async def _write(self) -> None:
        """Send queued messages in pipelined batches until told to stop (``None``)."""
        stopping = False
        while not stopping:
            batch = [await self._outgoing.get()]
            while not self._outgoing.empty():
                batch.append(self._outgoing.get_nowait())
            stopping = None in batch
            messages = [message for message in batch if message is not None]
            if messages:
                await self._send(messages)

    async def _send(self, batch: list[Message]) -> None:
        """One round trip; a failure is logged and the batch dropped (catch-up repairs it)."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for message in batch:
                    pipe.publish(self.channel, json.dumps({"o": self.origin, "m": message}))
                await pipe.execute()
        except Exception as exc:
            log.warning("live bus could not publish %d event(s): %s", len(batch), exc)

    async def _read(self) -> None:
        """Fan out other processes' messages, subscribing again whenever Redis fails."""
        while not self._closing:
            try:
                await self._subscription()
            except Exception as exc:
                log.warning("live bus lost its Redis subscription: %s", exc)
            self._tried.set()
            await asyncio.sleep(RETRY_SECONDS)

    async def _subscription(self) -> None:
        async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self.channel)
            if self._tried.is_set():  # subscribed again: what others sent meanwhile was missed
                self._fan_out(GAP)
            self._tried.set()
            async for raw in pubsub.listen():
                envelope = json.loads(raw["data"])
                if envelope["o"] != self.origin:
                    self._fan_out(envelope["m"])
