"""Parked items (owners and admins): what could not be handled, and putting it back."""

from aiohttp import web

from bot import parked
from web.api import actor
from web.routes import api
from web.schemas import ParkedOut, ParkedQuery, ParkedRetriedOut, ParkedRetryIn


@api.route(
    "GET",
    "/api/v1/parked",
    summary="Parked deliveries, events, sends and Conversions API events, with their errors",
    tag="system",
    query=ParkedQuery,
    response=list[ParkedOut],
)
async def list_parked(request: web.Request, *, query: ParkedQuery) -> list[ParkedOut]:
    """An item is parked when it cannot be handled however often it is tried (a delivery
    that cannot be read, a send the platform refuses for good): it is kept with its
    error until a person retries it."""
    items = await parked.list_parked(kind=query.kind, limit=query.limit)
    return [ParkedOut.model_validate(item) for item in items]


@api.route(
    "POST",
    "/api/v1/parked/retry",
    summary="Put parked items back in their queues (named ones, or all)",
    tag="system",
    body=ParkedRetryIn,
    response=ParkedRetriedOut,
)
async def retry_parked(request: web.Request, *, body: ParkedRetryIn) -> ParkedRetriedOut:
    """Each is due at once with a fresh count of attempts; a named item that is not
    parked is a 404 and nothing is retried."""
    refs = None if body.all else body.ids
    return ParkedRetriedOut(retried=await parked.retry_parked(actor=actor(request), refs=refs))
