"""Our own infrastructure failing: never a reason to park, retried for as long as it lasts.

Redis here is a private ``redis-server`` the test starts and kills (the machine's shared
one is never touched); a Redis that is down is one nobody listens for.
"""

from dataclasses import replace
from datetime import UTC, datetime

from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.outbox import OutboxWorker
from bot.ratelimit import RedisBuckets
from bot.telegram import Bots
from core.events import change
from core.models import Event
from core.queue import POLICIES, Done, Outcome, Policy, Queue, Retry, failure
from inbox.models import Message, Outbox
from tests.bot.conftest import VAULT
from tests.bot.test_outbox import open_chat, reply
from tests.bot.test_telegram_inbound import ALICE, deliver
from tests.conftest import Api, Backend
from tests.fakes.telegram import FakeTelegram
from tests.faults.redis_server import PrivateRedis
from web.app import create_app

POLICY = Policy(lease=POLICIES["events"].lease, max_attempts=3, batch=10, thread="deal_id")


async def test_a_redis_outage_is_retried_without_parking_and_keeps_the_thread_order(
    db: Backend, private_redis: PrivateRedis
) -> None:
    async with change(None) as batch:
        first, second = [await batch.record("test.item", deal_id=1) for _ in range(2)]
    client, handled = Redis.from_url(private_redis.url), []

    async def handle(event: Event) -> Outcome:
        await client.incr("handled")  # raises while Redis is down
        handled.append(event.id)
        return Done()

    queue = Queue(Event, POLICY)
    try:
        for _ in range(POLICY.max_attempts + 2):
            await queue.work(handle)
            await Event.filter(next_attempt_at__isnull=False).update(
                next_attempt_at=datetime.now(UTC)
            )
        rows = await Event.all().order_by("id")
        assert [(r.attempts, r.next_attempt_at is not None) for r in rows] == [(0, True)] * 2
        assert "ConnectionError" in (rows[0].last_error or "") and rows[1].last_error is None
        assert handled == []
        await private_redis.start()
        assert await queue.work(handle) == 2
        assert handled == [first.id, second.id]
        assert await client.get("handled") == b"2"
    finally:
        await client.aclose()


def test_only_infrastructure_failures_are_retried_without_counting() -> None:
    from tortoise.exceptions import DBConnectionError, OperationalError

    assert failure(ConnectionRefusedError("refused")).counts is False  # type: ignore[union-attr]
    assert failure(TimeoutError()).counts is False  # type: ignore[union-attr]
    assert failure(DBConnectionError("gone")).counts is False  # type: ignore[union-attr]
    assert failure(ValueError("bad item")) == Retry("ValueError: bad item")
    assert failure(OperationalError("value too long")).counts is True  # type: ignore[union-attr]


async def test_telegram_messages_are_processed_while_redis_is_down(
    db: Backend, telegram_channel: dict, fake_telegram: FakeTelegram, private_redis: PrivateRedis
) -> None:
    """The bots' state is in Redis when there is one; an ordinary message needs none."""
    app = create_app(db.settings(redis_url=private_redis.url), own_database=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        anon = Api(client)
        for text in ("/start", "first", "second"):
            status, _ = await deliver(
                anon, telegram_channel, fake_telegram.text_update(ALICE, text)
            )
            assert status == 200
    assert [m.text for m in await Message.filter(direction="in").order_by("id")] == [
        "/start",
        "first",
        "second",
    ]
    assert await Outbox.all().count() == 1, "the greeting is queued"


async def test_sends_go_out_while_redis_is_down_and_waits_say_why(
    api: Api,
    db: Backend,
    telegram_channel: dict,
    fake_telegram: FakeTelegram,
    private_redis: PrivateRedis,
) -> None:
    """The shared rate limits fall back to this process's own while Redis is away."""
    redis, bots, session = Redis.from_url(private_redis.url), Bots(), ClientSession()
    worker = OutboxWorker(
        VAULT,
        bots,
        session,
        RedisBuckets(redis),
        files=db.files,
        policy=replace(POLICIES["outbox"]),
    )
    try:
        dialog = await open_chat(telegram_channel, "5001")
        queued = await reply(api, dialog, "hello")
        fake_telegram.fail_next("sendMessage", status=502)
        assert await worker.run_once() == 1
        waiting = await Message.get(id=queued["id"])
        assert waiting.status == "queued"
        assert waiting.error == "Telegram server says - Bad Gateway"
        _, listed = await api.get(f"/api/v1/dialogs/{dialog.id}/messages")
        assert listed[-1]["error"] == waiting.error
        await Outbox.all().update(next_attempt_at=datetime.now(UTC))
        assert await worker.run_once() == 1
        sent = await Message.get(id=queued["id"])
        assert (sent.status, sent.error) == ("sent", None)
    finally:
        await redis.aclose()
        await bots.close()
        await session.close()
