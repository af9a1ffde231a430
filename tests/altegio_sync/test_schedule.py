"""The scheduled pull: paced under Altegio's limit, one process at a time, wired into the app."""

import asyncio

from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from altegio_sync.client import AltegioApi, Limiter
from altegio_sync.pull import ScheduledPull
from tests.altegio_sync.conftest import VAULT
from tests.conftest import Backend
from tests.fakes.altegio import PARTNER_TOKEN, USER_TOKEN, FakeAltegio
from web.app import create_app
from web.keys import INTAKE, SCHEDULER


async def test_the_limiter_keeps_requests_under_the_limit(fake_altegio: FakeAltegio) -> None:
    fake_altegio.limit_per_second = 5
    async with ClientSession() as session:
        api = AltegioApi(session, fake_altegio.api_url, fake_altegio.company_id,
                         PARTNER_TOKEN, USER_TOKEN, limiter=Limiter())  # fmt: skip
        for page in range(1, 9):
            await api.records(page=page, count=1)
    assert fake_altegio.rejected == 0 and len(fake_altegio.calls) == 8


async def test_one_pull_runs_at_a_time(
    db: Backend, connection: dict, fake_altegio: FakeAltegio
) -> None:
    """Two processes share the Redis lock; without Redis, one process skips a second run."""
    fake_altegio.put(fake_altegio.record(1))
    redis = Redis.from_url(db.redis_url) if db.redis_url else None
    try:
        async with ClientSession() as session:
            first = ScheduledPull(VAULT, session, redis)
            second = ScheduledPull(VAULT, session, redis) if redis else first
            await asyncio.gather(first.run(), second.run())
            assert len(fake_altegio.calls_to("/api/v1/records/")) == 1
            await second.run()  # the lock was given back
            assert len(fake_altegio.calls_to("/api/v1/records/")) == 2
    finally:
        if redis is not None:
            await redis.aclose()


async def test_the_app_schedules_the_pull_where_the_intake_runs(db: Backend) -> None:
    for intake, minutes, expected in [(True, 5, True), (True, 0, False), (False, 5, False)]:
        app = create_app(
            db.settings(intake_worker=intake, altegio_sync_minutes=minutes), own_database=False
        )
        async with TestClient(TestServer(app, host="127.0.0.1")):
            job = app[SCHEDULER].get_job("altegio")
            assert (job is not None) == expected, (intake, minutes)
            if job is not None:
                assert job.trigger.interval.total_seconds() == 300
            if intake:  # stop between rounds: one cut off mid-transaction holds SQLite's lock
                await app[INTAKE].pump.settled()
