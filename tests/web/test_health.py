"""GET /healthz reports what the service depends on."""

from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import Api
from web.app import create_app
from web.keys import EVENTS


async def test_health_reports_database_and_redis(anon: Api, db) -> None:
    status, body = await anon.get("/healthz")
    assert status == 200
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == ("ok" if db.redis_url else None)
    assert body["workers"] == {}, "the test app runs no background worker"


async def test_health_counts_each_workers_rounds(db) -> None:
    app = create_app(db.settings(event_worker=True, intake_worker=True), own_database=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await app[EVENTS].pump.settled()
        async with client.get("/healthz") as response:
            workers = (await response.json())["workers"]
        assert set(workers) >= {"events", "intake"} and workers["events"] >= 1
