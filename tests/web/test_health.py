"""GET /healthz reports what the service depends on."""

from tests.conftest import Api


async def test_health_reports_database_and_redis(anon: Api, db) -> None:
    status, body = await anon.get("/healthz")
    assert status == 200
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == ("ok" if db.redis_url else None)
