"""Health check and the API description."""

from aiohttp import web
from tortoise import connections

from bot.parked import count_parked
from web.api import json_response, openapi_document
from web.keys import PUMPS, REDIS
from web.routes import api
from web.schemas import HealthOut

VERSION = "0.1.0"


async def _probe_database() -> str:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


async def _parked() -> dict[str, int]:
    try:
        return await count_parked()
    except Exception:  # the database went away since the probe: its state says so
        return {}


@api.route(
    "GET",
    "/healthz",
    summary="Database (and Redis) reachability, workers and parked items",
    tag="system",
    roles=None,
    response=HealthOut,
)
async def healthz(request: web.Request) -> web.Response:
    database = await _probe_database()
    redis_state = None
    if (client := request.app.get(REDIS)) is not None:
        try:
            await client.ping()
            redis_state = "ok"
        except Exception as exc:
            redis_state = f"error: {type(exc).__name__}"
    healthy = database == "ok" and redis_state in (None, "ok")
    workers = {name: pump.rounds for name, pump in request.app[PUMPS].items()}
    body = HealthOut(
        status="ok" if healthy else "degraded",
        database=database,
        redis=redis_state,
        workers=workers,
        parked=await _parked() if database == "ok" else {},
    )
    return json_response(body.model_dump(), status=200 if healthy else 503)


def document() -> dict:
    """The OpenAPI document of every registered endpoint."""
    return openapi_document(api.endpoints, version=VERSION)


@api.route(
    "GET",
    "/api/v1/openapi.json",
    summary="This API's OpenAPI 3.1 document",
    tag="system",
    roles=None,
)
async def openapi(request: web.Request) -> web.Response:
    return json_response(document())
